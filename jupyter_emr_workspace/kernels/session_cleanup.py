"""The server's side of "no orphans": delete the Livy sessions of a Workspace's kernels.

A kernel deletes its own session when it shuts down or restarts; what no kernel will
delete any more is the server's to delete: every session of a Workspace on the cluster it
is detached from or when it is deleted (kernels killed before, sessions kept for a next
server). Sessions are found by the name the kernels gave them (`notebook_session.py`),
authenticated exactly as the Workspace's kernels are (`livy_auth.py`), so nothing else on
the cluster is touched and Livy endpoints that want more than Basic (EMR Serverless's
SigV4, a runtime role's expiring Livy user) accept the deletes.
Blocking (urllib): run it in a thread.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .livy_auth import LivyAuth
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


def _call(auth: LivyAuth, base: str, method: str, path: str) -> Any:
    url = base.rstrip("/") + path
    headers, body = auth.headers(method, url)
    request = urllib.request.Request(url, data=body or None, method=method)
    for key, value in headers.items():
        request.add_header(key, value)
    request.add_header("X-Requested-By", "jupyter-emr-workspace")  # Livy's CSRF check
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        answer = response.read()
    return json.loads(answer) if answer else None


def delete_sessions(conf_dir: Path, wanted: Callable[[str], bool], whose: str) -> list[int]:
    """Delete the live sessions whose name is `wanted` on the Livy of the sparkmagic config
    in `conf_dir`, authenticated as the kernels of that config are (`livy_auth.py`: SigV4
    for EMR Serverless, the runtime role's renewed Livy user, Basic); their ids. Call it
    before the credentials files go. Never raises for Livy being away or refusing: the
    sessions' heartbeat timeout reaps them then. `whose` names them in the log."""
    creds = _credentials(Path(conf_dir))
    if creds is None:
        return []
    base = str(creds["url"])
    if creds.get("auth") == "Kerberos":  # only the kernel holds a ticket
        log.info("%s: Kerberos Livy, sessions left to its heartbeat timeout", whose)
        return []
    auth = LivyAuth(creds, Path(conf_dir))
    deleted = []
    try:
        listing = _call(auth, base, "GET", "/sessions?from=0&size=1000") or {}
        for session in listing.get("sessions") or []:
            if not wanted(str(session.get("name") or "")):
                continue
            if session.get("state") not in LIVE_STATES | {"shutting_down"}:
                continue
            _call(auth, base, "DELETE", f"/sessions/{int(session['id'])}")
            deleted.append(int(session["id"]))
    except (OSError, ValueError, KeyError, urllib.error.URLError) as e:
        log.warning(
            "%s: could not delete its Spark sessions on %s (%s); Livy's heartbeat "
            "timeout stops them",
            whose,
            base,
            e,
        )
    if deleted:
        log.info("%s: deleted Spark sessions %s", whose, deleted)
    return deleted


def delete_workspace_sessions(
    conf_dir: Path, workspace_id: str, user: str | None = None
) -> list[int]:
    """Delete the live sessions `user`'s kernels of the Workspace started (found by name
    on the Livy of its sparkmagic config in `conf_dir`); returns their ids."""
    prefix = f"{workspace_prefix(workspace_id)}{user or kernel_user()}:"
    return delete_sessions(
        Path(conf_dir), lambda name: name.startswith(prefix), f"Workspace {workspace_id}"
    )


def mark_server_stopping(conf_dirs: list[Path]) -> None:
    """Tell the kernels of a stopping server to keep their sessions for the next one
    (`notebook_session.KEEP_FILE`); `ComputeService._wire` removes the mark."""
    from .notebook_session import KEEP_FILE

    for conf_dir in conf_dirs:
        try:
            (Path(conf_dir) / KEEP_FILE).write_text("server stopping\n", encoding="utf-8")
        except OSError:
            continue
