"""The server's side of "no orphans": delete the Livy sessions of a Workspace's kernels.

A kernel deletes its own session when it shuts down or restarts; what no kernel will
delete any more is the server's to delete: every session of a Workspace on the cluster it
is detached from or when it is deleted (kernels killed before, sessions kept for a next
server). Sessions are found by the name the kernels gave them (`notebook_session.py`),
with the Workspace's own sparkmagic credentials, so nothing else on the cluster is touched.
Blocking (urllib): run it in a thread.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .notebook_session import LIVE_STATES, kernel_user, workspace_prefix

log = logging.getLogger(__name__)
TIMEOUT = 10.0


def _credentials(conf_dir: Path) -> dict[str, Any] | None:
    try:
        config = json.loads((conf_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    creds = config.get("kernel_python_credentials")
    return creds if isinstance(creds, dict) and creds.get("url") else None


def _call(creds: dict[str, Any], method: str, path: str) -> Any:
    request = urllib.request.Request(str(creds["url"]).rstrip("/") + path, method=method)
    request.add_header("X-Requested-By", "jupyter-emr-workspace")  # Livy's CSRF check
    if creds.get("auth") == "Basic_Access":
        pair = f"{creds.get('username', '')}:{creds.get('password', '')}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        body = response.read()
    return json.loads(body) if body else None


def delete_workspace_sessions(
    conf_dir: Path, workspace_id: str, user: str | None = None
) -> list[int]:
    """Delete the live sessions `user`'s kernels of the Workspace started (found by name
    on the Livy of its sparkmagic config in `conf_dir`); returns their ids. Never raises
    for Livy being away: the sessions' heartbeat timeout reaps them then."""
    creds = _credentials(Path(conf_dir))
    if creds is None:
        return []
    if creds.get("auth") == "Kerberos":
        log.info(
            "Workspace %s: Kerberos Livy, sessions left to its heartbeat timeout", workspace_id
        )
        return []
    prefix = f"{workspace_prefix(workspace_id)}{user or kernel_user()}:"
    deleted = []
    try:
        listing = _call(creds, "GET", "/sessions?from=0&size=1000") or {}
        for session in listing.get("sessions") or []:
            if not str(session.get("name") or "").startswith(prefix):
                continue
            if session.get("state") not in LIVE_STATES | {"shutting_down"}:
                continue
            _call(creds, "DELETE", f"/sessions/{int(session['id'])}")
            deleted.append(int(session["id"]))
    except (OSError, ValueError, urllib.error.URLError) as e:
        log.warning(
            "Workspace %s: could not delete its Spark sessions on %s (%s); Livy's heartbeat "
            "timeout stops them",
            workspace_id,
            creds.get("url"),
            e,
        )
    if deleted:
        log.info("Workspace %s: deleted Spark sessions %s", workspace_id, deleted)
    return deleted


def mark_server_stopping(conf_dirs: list[Path]) -> None:
    """Tell the kernels of a stopping server to keep their sessions for the next one
    (`notebook_session.KEEP_FILE`); `ComputeService._wire` removes the mark."""
    from .notebook_session import KEEP_FILE

    for conf_dir in conf_dirs:
        try:
            (Path(conf_dir) / KEEP_FILE).write_text("server stopping\n", encoding="utf-8")
        except OSError:
            continue
