"""As installed: a real `jupyter server` process loads executions (its event loop starts
after the extensions load) and its in-process runner runs its owner's executions."""

from __future__ import annotations

import time
from pathlib import Path

from emrws_testing.servers import ServerProcess
from test_executions_api import notebook


def test_a_real_server_runs_its_owners_executions(tmp_path: Path) -> None:
    studio = {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-installed",
        "server_owner": "alice",
        "execution_poll_seconds": 0.3,
    }
    server = ServerProcess(tmp_path / "root", studio, name="installed").start()
    try:
        wid = server.api("POST", "/workspaces", json={"name": "w"}).json()["id"]
        assert server.api("POST", f"/workspaces/{wid}/open").status_code == 200
        body = {"type": "notebook", "format": "json", "content": notebook("1")}
        r = server.request("PUT", f"/api/contents/workspaces/{wid}/nb.ipynb", json=body)
        assert r.status_code == 201, r.text
        submission = {
            "workspace_id": wid,
            "relative_path": "nb.ipynb",
            "cluster": {"type": "local", "id": "no-such-cluster"},  # fails fast, no JVM
        }
        r = server.api("POST", "/executions", json=submission)
        assert r.status_code == 201, r.text
        eid = r.json()["id"]
        deadline = time.monotonic() + 30
        while (ex := server.api("GET", f"/executions/{eid}").json())["status"] != "FAILED":
            assert time.monotonic() < deadline, (ex, server.log_path.read_text()[-3000:])
            time.sleep(0.2)
        assert ex["runner"]["id"].startswith("server:") and "no-such-cluster" in ex["reason"]
    finally:
        server.stop()
    assert server.proc is not None and server.proc.returncode == 0
    assert "extension failed loading" not in server.log_path.read_text()
