"""Each notebook kernel's Spark session: reattached, started early, never left behind.

The real parts: a `jupyter server` process started from a config file, the installed
emr-pysparkkernel kernelspec started through the sessions API as JupyterLab does, a moto
EMR cluster whose Livy URL maps to the embedded engine run as its own process (as a
cluster's Livy outlives a Jupyter server), and the engine's own REST API to count sessions
before and after. One server and one engine are shared by the module.
"""

from __future__ import annotations

import os
import queue
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from emrws_testing.compute import run_cluster, subnet_id
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.servers import ServerProcess
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import KernelManager

from jupyter_emr_workspace.kernels.notebook_session import (
    describe_start,
    explain_slow_start,
    name_prefix,
    notebook_key,
    session_name,
    started_at,
)
from jupyter_emr_workspace.kernels.row_limit import limited
from jupyter_emr_workspace.kernels.sparkmagic_config import (
    KERNEL_SETTINGS,
    build_sparkmagic_config,
    validate_kernel_settings,
)
from jupyter_emr_workspace.livy import EngineProcess

PASSWORD_ENV = "EMRWS_SESSIONS_LIVY_PASSWORD"
SUBNET = subnet_id()
SESSION = {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}}


# -- names, settings, messages (unit) ------------------------------------------------------


def test_a_session_name_says_whose_it_is_and_when_it_started(tmp_path: Path) -> None:
    key = notebook_key(str(tmp_path / "ws" / "a b.ipynb"), str(tmp_path / "ws"))
    assert key == notebook_key("/elsewhere/a b.ipynb", "/elsewhere")  # its place in the folder
    assert key != notebook_key(str(tmp_path / "ws" / "c.ipynb"), str(tmp_path / "ws"))
    prefix = name_prefix("e-ABC", "al ice", key, "pyspark")
    assert prefix == f"emrws:e-ABC:al_ice:{key}:pyspark:"
    name = session_name(prefix, started=1_700_000_000.25)
    assert name.startswith(prefix) and started_at(name) == 1_700_000_000.25
    assert started_at("somebody's session") is None
    assert describe_start(1_700_000_000, now=1_700_000_300) == "started 22:13:20 UTC, 5 min ago"
    assert describe_start(None) == "started earlier"


def test_kernel_settings_are_checked_and_reach_the_sparkmagic_config() -> None:
    assert validate_kernel_settings(None) == KERNEL_SETTINGS
    assert validate_kernel_settings({"max_rows": -1, "start_session_early": False}) == {
        **KERNEL_SETTINGS,
        "max_rows": -1,
        "start_session_early": False,
    }
    for bad in (
        {"max_rows": 0},
        {"max_rows": "10"},
        {"session_start_timeout": 1},
        {"start_session_early": "yes"},
        {"heartbeat": 3},
        [],
    ):
        with pytest.raises(ValueError, match="kernels"):
            validate_kernel_settings(bad)
    config = build_sparkmagic_config(
        "http://livy:8998",
        kernel_settings={"max_rows": 70, "session_start_timeout": 600, "session_grace_period": 900},
    )
    assert config["default_maxrows"] == 70
    assert config["livy_session_startup_timeout_seconds"] == 600
    assert config["livy_server_heartbeat_timeout_seconds"] == 900  # heartbeatTimeoutInSecond


@pytest.mark.parametrize(
    ("log", "state", "says"),
    [
        (
            ["Ivy Default Cache set to: /root/.ivy2", ":: resolving dependencies ::"],
            "starting",
            "downloading packages",
        ),
        (["Application report for application_1 (state: ACCEPTED)"], "starting", "no capacity"),
        ([], "starting", "the cluster is busy"),
        (["some line"], "starting", "still 'starting'"),
    ],
)
def test_a_slow_start_says_what_was_slow(log: list[str], state: str, says: str) -> None:
    text = explain_slow_start(7, 180, state, log)
    assert text.startswith("Spark session 7 did not start within 180 s: ")
    assert says in text and "session start timeout" in text
    if log:
        assert log[-1] in text  # Livy's own last words


def test_a_cut_result_says_how_many_rows_were_kept() -> None:
    """sparkmagic's SQLQuery/SparkStoreCommand asked for limit+1 rows: the extra row is the
    proof of more, dropped, and the cell says so; a result within the limit says nothing."""
    import pandas as pd

    said: list[str] = []

    class Session:
        class ipython_display:  # sparkmagic's attribute name
            @staticmethod
            def writeln(text: str) -> None:
                said.append(text)

    class Query:
        samplemethod = "take"

        def __init__(self, maxrows: int, rows: int) -> None:
            self.maxrows, self.rows = maxrows, rows

        def execute(self, session: Any) -> Any:
            return pd.DataFrame({"id": range(min(self.rows, self.maxrows))})

    run = limited(Query.execute)
    frame = run(Query(5, 100), Session())
    assert len(frame) == 5
    (note,) = said
    assert "Only the first 5 rows were brought back" in note and "-n -1" in note
    said.clear()
    assert len(run(Query(5, 5), Session())) == 5 and said == []  # exactly the limit: not cut
    assert len(run(Query(-1, 50), Session())) == 0 and said == []  # -1: no limit asked


# -- without the `spark` extra ------------------------------------------------------------


def test_without_sparkmagic_the_spark_kernels_say_what_to_install(tmp_path: Path) -> None:
    """sparkmagic (and ipykernel, which it brings) made unimportable: the kernel starts,
    stays up, and every cell says to install the `spark` extra."""
    shadow = tmp_path / "shadow"
    for name in ("sparkmagic", "ipykernel"):
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(f"raise ModuleNotFoundError({name!r})\n")
    path = [str(shadow), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    km = KernelManager(kernel_name="emr-pysparkkernel")  # the installed kernelspec
    km.start_kernel(env=env, cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        info = kc.kernel_info(reply=True, timeout=10)["content"]
        assert "pip install 'jupyter-emr-workspace[spark]'" in info["banner"]
        for _ in range(2):
            texts: list[str] = []
            reply = kc.execute_interactive(
                "spark.range(3).count()",
                output_hook=lambda m, texts=texts: texts.extend(m["content"].get("traceback", [])),
                timeout=10,
            )
            assert reply["content"]["status"] == "error"
            (text,) = texts
            assert "PySpark (EMR Workspace) kernel needs sparkmagic" in text
            assert "pip install 'jupyter-emr-workspace[spark]'" in text
        assert km.is_alive()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert km.provisioner is None or not km.is_alive()


# -- the real kernels ----------------------------------------------------------------------


class Server:
    def __init__(self, proc: ServerProcess) -> None:
        self.proc = proc
        self.runtime = proc.root.parent / f"{proc.name}-runtime"

    def workspace(self, name: str, kernels: dict[str, Any] | None = None) -> str:
        r = self.proc.api("POST", "/workspaces", json={"name": name})
        assert r.status_code == 201, r.text
        wid = str(r.json()["id"])
        assert self.proc.api("POST", f"/workspaces/{wid}/open").status_code == 200
        body: dict[str, Any] = {"type": "emr-ec2", "cluster_id": CLUSTER[0], "session": SESSION}
        if kernels is not None:
            body["kernels"] = kernels
        r = self.proc.api("POST", f"/workspaces/{wid}/attach", json=body)
        assert r.status_code == 200, r.text
        return wid

    def open_notebook(self, wid: str, notebook: str) -> tuple[str, str]:
        """(session id, kernel id), as JupyterLab opens a notebook with the PySpark kernel."""
        r = self.proc.request(
            "POST",
            "/api/sessions",
            json={
                "path": f"workspaces/{wid}/{notebook}",
                "name": notebook,
                "type": "notebook",
                "kernel": {"name": "emr-pysparkkernel"},
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"]), str(r.json()["kernel"]["id"])

    def client(self, kernel_id: str) -> BlockingKernelClient:
        kc = BlockingKernelClient(connection_file=str(self.runtime / f"kernel-{kernel_id}.json"))
        kc.load_connection_file()
        kc.start_channels()
        answered(kc)
        return kc


CLUSTER: list[str] = []


def answered(kc: BlockingKernelClient, wait: float = 120) -> None:
    """A kernel_info reply, however slow the kernel's start (or restart) is."""
    deadline = time.monotonic() + wait
    while True:
        kc.kernel_info()
        try:
            if kc.get_shell_msg(timeout=3)["msg_type"] == "kernel_info_reply":
                break
        except queue.Empty:
            assert time.monotonic() < deadline, "the kernel never answered kernel_info"
    kc.wait_for_ready(timeout=60)


def run(kc: BlockingKernelClient, code: str, timeout: float = 180) -> tuple[str, dict[str, Any]]:
    texts: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            texts.append(content["text"])
        elif msg["msg_type"] in ("execute_result", "display_data"):
            texts.append(str(content["data"].get("text/plain", "")))
        elif msg["msg_type"] == "error":
            texts.append("\n".join(content["traceback"]))

    reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    return "".join(texts), reply["content"]


def live_sessions(engine: EngineProcess, wid: str) -> list[dict[str, Any]]:
    """The engine's live sessions named for Workspace `wid` (the admin sees them all)."""
    r = requests.get(
        f"{engine.url}/sessions", auth=(engine.username, engine.password or ""), timeout=10
    )
    return [
        s
        for s in r.json()["sessions"]
        if str(s.get("name") or "").startswith(f"emrws:{wid}:")
        and s["state"] in ("not_started", "starting", "idle", "busy")
    ]


def eventually(check: Any, wait: float = 15) -> Any:
    deadline = time.monotonic() + wait
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def kernel_pid(kernel_id: str) -> int:
    """The kernel process, found by its connection file on its command line."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if f"kernel-{kernel_id}.json".encode() in cmdline and b"kernels" in cmdline:
                return int(entry.name)
    raise AssertionError(f"no process for kernel {kernel_id}")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoHttp, engine: EngineProcess
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("sessions")
    CLUSTER[:] = [run_cluster(client(moto.url, "emr"), "sessions", SUBNET)]
    studio = {
        "id": "es-sessions",
        "backup_uri": str(base / "store"),
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": [SUBNET],
        "compute_sources": ["emr-ec2"],
        "livy_urls": {CLUSTER[0]: engine.url},
        "livy_auth": "Basic",
        "livy_username": "emr-workspace",
        "livy_password_env": PASSWORD_ENV,
        "lease_seconds": 1800,  # the panel would renew the lease; these tests run long
    }
    os.environ[PASSWORD_ENV] = engine.password or ""
    proc = ServerProcess(base / "root", studio, name="sessions", server_id="sessions-server")
    try:
        proc.start()
        yield Server(proc)
    finally:
        proc.stop()
        os.environ.pop(PASSWORD_ENV, None)


@pytest.mark.spark
def test_a_killed_kernel_reattaches_and_an_explicit_restart_starts_fresh(
    server: Server, engine: EngineProcess
) -> None:
    wid = server.workspace("reattach", kernels={"max_rows": 7})
    session_id, kernel_id = server.open_notebook(wid, "analysis.ipynb")
    kc = server.client(kernel_id)
    try:
        time.sleep(1)  # the user reads; the session starts meanwhile
        text, reply = run(kc, "x = 41\ndf = spark.range(1000).cache()\ndf.count()")
        assert reply["status"] == "ok", text
        assert "SparkSession available as 'spark'." in text
        (first,) = live_sessions(engine, wid)
        assert f"Spark session {first['id']} ready (started in" in text

        # -- the Workspace's row limit: a cut -o says so ----------------------------------
        text, reply = run(kc, "%%sql -o rows -q\nSELECT id FROM range(50)")
        assert reply["status"] == "ok", text
        assert "Only the first 7 rows were brought back" in text, text
        text, _ = run(kc, "%%local\nprint(len(rows))")
        assert text.strip() == "7"

        # -- interrupt cancels the statement and its Spark job group ----------------------
        msg_id = kc.execute("spark.range(10**10).count()")

        def running() -> bool:
            auth = (engine.username, engine.password or "")
            url = f"{engine.url}/sessions/{first['id']}/statements"
            return any(
                "10**10" in s["code"] and s["state"] == "running"
                for s in requests.get(url, auth=auth, timeout=10).json()["statements"]
            )

        assert eventually(running, 60), "the statement never started"
        time.sleep(1)  # Spark tasks are running
        started = time.monotonic()
        r = server.proc.request("POST", f"/api/kernels/{kernel_id}/interrupt")
        assert r.status_code == 204
        reply_msg = kc.get_shell_msg(timeout=30)
        while reply_msg["parent_header"].get("msg_id") != msg_id:
            reply_msg = kc.get_shell_msg(timeout=30)
        assert time.monotonic() - started < 5
        assert reply_msg["content"].get("ename") == "SparkStatementCancelledException"
        text, reply = run(kc, "print(sc.statusTracker().getActiveJobsIds())")
        assert reply["status"] == "ok" and text.strip().endswith("[]"), text

        # -- the kernel process dies: the server restarts it, and it reattaches ----------
        os.kill(kernel_pid(kernel_id), signal.SIGKILL)
        time.sleep(4)  # the server notices (its restarter polls every 3 s) and restarts it
        answered(kc)
        before = time.monotonic()
        text, reply = run(kc, "print(x + 1, df.is_cached)")
        assert reply["status"] == "ok", text
        assert time.monotonic() - before < 10
        assert text.strip().endswith("42 True"), text
        assert f"Reattached to Spark session {first['id']} (started " in text
        assert [s["id"] for s in live_sessions(engine, wid)] == [first["id"]]

        # -- an explicit restart: a fresh session, the old one deleted --------------------
        r = server.proc.request("POST", f"/api/kernels/{kernel_id}/restart")
        assert r.status_code == 200, r.text
        answered(kc)
        text, reply = run(kc, "print('x' in globals())")
        assert reply["status"] == "ok" and text.strip().endswith("False"), text
        (second,) = live_sessions(engine, wid)
        assert second["id"] != first["id"]
        assert "Reattached" not in text and f"Spark session {second['id']} ready" in text
    finally:
        kc.stop_channels()
    # -- closing the notebook leaves no session ---------------------------------------------
    assert server.proc.request("DELETE", f"/api/sessions/{session_id}").status_code == 204
    assert eventually(lambda: not live_sessions(engine, wid)), live_sessions(engine, wid)


@pytest.mark.spark
def test_sessions_outlive_a_server_restart_and_detach_deletes_them(
    server: Server, engine: EngineProcess
) -> None:
    wid = server.workspace("restart")
    _, kernel_id = server.open_notebook(wid, "keep.ipynb")
    kc = server.client(kernel_id)
    try:
        text, reply = run(kc, "y = 5")
        assert reply["status"] == "ok", text
    finally:
        kc.stop_channels()
    (kept,) = live_sessions(engine, wid)

    # the server stops as an admin (or JupyterHub) stops it, and starts again
    server.proc.stop(signal.SIGTERM)
    assert [s["id"] for s in live_sessions(engine, wid)] == [kept["id"]]
    server.proc.start()
    assert server.proc.api("POST", f"/workspaces/{wid}/open").status_code == 200
    _, kernel_id = server.open_notebook(wid, "keep.ipynb")
    kc = server.client(kernel_id)
    try:
        text, reply = run(kc, "print(y * 2)")
        assert reply["status"] == "ok", text
        assert text.strip().endswith("10"), text
        assert f"Reattached to Spark session {kept['id']}" in text
        _, other_kernel = server.open_notebook(wid, "other.ipynb")
        kc2 = server.client(other_kernel)
        try:
            assert run(kc2, "z = 1")[1]["status"] == "ok"
        finally:
            kc2.stop_channels()
        assert len(live_sessions(engine, wid)) == 2  # one per notebook
    finally:
        kc.stop_channels()

    # -- detaching the Workspace deletes its sessions, with its kernels still running ---------
    r = server.proc.api("POST", f"/workspaces/{wid}/detach")
    assert r.status_code == 200 and r.json()["running_kernels"] == 2, r.text
    assert live_sessions(engine, wid) == []


def test_bad_kernel_settings_are_refused_at_attach(server: Server) -> None:
    r = server.proc.api("POST", "/workspaces", json={"name": "bad settings"})
    wid = r.json()["id"]
    assert server.proc.api("POST", f"/workspaces/{wid}/open").status_code == 200
    for kernels in ({"max_rows": 0}, {"start_session_early": "yes"}, {"nope": 1}):
        r = server.proc.api(
            "POST",
            f"/workspaces/{wid}/attach",
            json={"type": "emr-ec2", "cluster_id": CLUSTER[0], "kernels": kernels},
        )
        assert r.status_code == 400 and "kernels" in r.json()["error"]["message"], r.text
    r = server.proc.api("GET", f"/workspaces/{wid}")
    assert r.json()["attachment"] is None  # nothing stored
