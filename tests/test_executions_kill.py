"""A runner process killed mid-run (SIGKILL to it and its kernel, as a container dies)
leaves no execution RUNNING once another runner looks: the next runner ends it FAILED,
saying which runner died. The execution is really running in the killed runner: its
sparkmagic kernel started and is waiting for its Livy session on an EMR cluster (moto)
whose Livy, a stand-in, keeps the session starting forever."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

from emrws_testing.compute import run_cluster, subnet_id
from emrws_testing.moto_servers import MotoHttp, client
from test_executions_api import notebook

from jupyter_emr_workspace.executions.model import (
    FAILED,
    RUNNING,
    Execution,
    new_execution_id,
    utcnow_iso,
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


async def test_a_killed_runner_process_leaves_no_execution_running(
    moto: MotoHttp, tmp_path: Path
) -> None:
    livy = StartingLivy()
    cluster = run_cluster(client(moto.url, "emr"), "team", SUBNET)
    store = LocalStore(str(tmp_path / "store"))
    records = ExecutionStore(store, Layout("es-kill"))
    ex = Execution(
        id=new_execution_id(),
        workspace_id="e-" + "K" * 25,
        relative_path="nb.ipynb",
        name="hangs",
        created_by="alice",
        created_at=utcnow_iso(),
        cluster={"type": "emr-ec2", "id": cluster, "endpoint_id": None},
        kernel_name="emr-pysparkkernel",
    )
    await records.create(ex, json.dumps(notebook("spark.range(5).count()")).encode())
    config = tmp_path / "runner_config.py"
    config.write_text(
        "c.Studio.id = 'es-kill'\n"
        f"c.Studio.backup_uri = {str(tmp_path / 'store')!r}\n"
        f"c.Studio.endpoint_url = {moto.url!r}\n"
        "c.Studio.region = 'us-east-1'\n"
        f"c.Studio.subnet_ids = [{SUBNET!r}]\n"
        "c.Studio.compute_sources = ['emr-ec2']\n"
        f"c.Studio.livy_urls = {{{cluster!r}: {livy.url!r}}}\n"
        f"c.Studio.audit_log_path = {str(tmp_path / 'audit.jsonl')!r}\n"
        "c.Studio.execution_poll_seconds = 0.3\n"
        "c.Studio.execution_heartbeat_seconds = 0.5\n"
        "c.Studio.execution_claim_timeout = 2.0\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env["EMR_WORKSPACE_KERNEL_REGISTRY"] = str(tmp_path / "kernels.json")
    log = tmp_path / "runner.log"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jupyter_emr_workspace.cli", "runner", "--config", str(config),
        "--runner-id", "doomed",
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        # running for real: its kernel asked the cluster's Livy for a session
        while not (
            (await records.get(ex.id)).status == RUNNING
            and any(r.startswith("POST /sessions") for r in livy.requests)
        ):
            assert proc.returncode is None, log.read_text()
            assert time.monotonic() < deadline, (await records.get(ex.id), log.read_text())
            await asyncio.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernel, without a word
        await proc.wait()
        livy.close()
    assert (await records.get(ex.id)).status == RUNNING  # left as it was

    async def never(ex: Execution, claim: Any) -> Any:
        raise AssertionError("nothing is queued: the next runner must not run anything")

    following = Runner(records, never, "next", heartbeat_seconds=0.5, claim_timeout=2.0)
    deadline = time.monotonic() + 30
    while not (await records.get(ex.id)).final:
        await following.poll_once()
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)
    ended = await records.get(ex.id)
    assert ended.status == FAILED and await records.live_ids() == []
    assert "The runner doomed stopped heartbeating" in (ended.reason or "")
    assert "while the execution was RUNNING" in (ended.reason or "")
