"""A Jupyter server killed mid-run (SIGKILL) leaves no execution RUNNING once another
runner looks: the next runner ends it FAILED, saying which runner died. The execution is
really running in the killed server's runner: its sparkmagic kernel started and is waiting
for its Livy session on an EMR cluster (moto) whose Livy, a stand-in, keeps the session
starting forever."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

from emrws_testing.compute import run_cluster, subnet_id
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.servers import ServerProcess
from test_executions_api import notebook

from jupyter_emr_workspace.executions.model import (
    FAILED,
    RUNNING,
    Execution,
)
from jupyter_emr_workspace.executions.records import ExecutionStore
from jupyter_emr_workspace.executions.runner import Runner
from jupyter_emr_workspace.layout import Layout
from jupyter_emr_workspace.store.local import LocalStore

SUBNET = subnet_id()


class StartingLivy:
    """Livy whose sessions never leave "starting"; records the requests."""

    def __init__(self) -> None:
        owner = self
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int, body: Any) -> None:
                owner.requests.append(f"{self.command} {self.path}")
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                session = {"id": 0, "state": "starting", "kind": "pyspark", "log": []}
                if self.path.startswith("/sessions/0"):
                    self._answer(200, session)
                else:
                    self._answer(200, {"from": 0, "total": 0, "sessions": []})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._answer(201, {"id": 0, "state": "starting", "kind": "pyspark", "log": []})

            def do_DELETE(self) -> None:
                self._answer(200, {"msg": "deleted"})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_server_killed_mid_run_leaves_no_execution_running(
    moto: MotoHttp, tmp_path: Path
) -> None:
    """As installed: a real `jupyter server` loads executions (its event loop starts after
    the extensions load) and its in-process runner runs its owner's execution, until the
    server is killed."""
    livy = StartingLivy()
    cluster = run_cluster(client(moto.url, "emr"), "team", SUBNET)
    studio = {
        "id": "es-kill",
        "backup_uri": str(tmp_path / "store"),
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": [SUBNET],
        "compute_sources": ["emr-ec2"],
        "livy_urls": {cluster: livy.url},
        "server_owner": "alice",
        "execution_poll_seconds": 0.3,
        "execution_heartbeat_seconds": 0.5,
        "execution_claim_timeout": 2.0,
    }
    server = ServerProcess(tmp_path / "root", studio, name="doomed")
    records = ExecutionStore(LocalStore(str(tmp_path / "store")), Layout("es-kill"))
    try:
        await asyncio.to_thread(server.start)
        eid = await asyncio.to_thread(submit, server, cluster)
        deadline = time.monotonic() + 90
        # running for real: its kernel asked the cluster's Livy for a session
        while not (
            (await records.get(eid)).status == RUNNING
            and any(r.startswith("POST /sessions") for r in livy.requests)
        ):
            assert server.proc is not None and server.proc.poll() is None
            assert time.monotonic() < deadline, server.log_path.read_text()[-3000:]
            await asyncio.sleep(0.3)
        claimed = await records.get(eid)
        assert claimed.runner is not None and claimed.runner["id"].startswith("server:")
    finally:
        server.stop(sig=signal.SIGKILL)  # without a word (its kernel follows its parent)
        livy.close()
    assert (await records.get(eid)).status == RUNNING  # left as it was

    async def never(ex: Execution, claim: Any) -> Any:
        raise AssertionError("nothing is queued: the next runner must not run anything")

    following = Runner(records, never, "next", heartbeat_seconds=0.5, claim_timeout=2.0)
    deadline = time.monotonic() + 30
    while not (await records.get(eid)).final:
        await following.poll_once()
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)
    ended = await records.get(eid)
    assert ended.status == FAILED and await records.live_ids() == []
    assert f"The runner {claimed.runner['id']} stopped heartbeating" in (ended.reason or "")
    assert "while the execution was RUNNING" in (ended.reason or "")


def submit(server: ServerProcess, cluster: str) -> str:
    wid = server.api("POST", "/workspaces", json={"name": "w"}).json()["id"]
    assert server.api("POST", f"/workspaces/{wid}/open").status_code == 200
    body = {"type": "notebook", "format": "json", "content": notebook("spark.range(5).count()")}
    r = server.request("PUT", f"/api/contents/workspaces/{wid}/nb.ipynb", json=body)
    assert r.status_code == 201, r.text
    submission = {
        "workspace_id": wid,
        "relative_path": "nb.ipynb",
        "cluster": {"type": "emr-ec2", "id": cluster},
    }
    r = server.api("POST", "/executions", json=submission)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
