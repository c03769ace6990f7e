"""The Spark kernels and Livy credentials as installed, in real `jupyter server` processes.

The server is started as an admin starts it (a config file with `c.Studio.*`, `python -m
jupyter_server`); the kernels are the kernelspecs the wheel installed into the environment's
`share/jupyter/kernels`, started through the sessions API by the names the launcher shows,
and the kernel registry is the default one in the server's runtime dir. One Workspace is
attached to the local engine, another to an EMR cluster (moto) whose Livy asks for Basic
auth (a stand-in that answers the attach-time probe).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from emrws_testing.compute import FakeLivy, run_cluster, subnet_id
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.servers import ServerProcess
from jupyter_client.blocking import BlockingKernelClient

from jupyter_emr_workspace.kernels import KERNELS
from jupyter_emr_workspace.livy.launch import sparkr_unavailable

PASSWORD_ENV = "EMRWS_INSTALLED_LIVY_PASSWORD"
LIVY_PASSWORD = "basic-" + uuid.uuid4().hex  # what must never reach a log or an event
SUBNET = subnet_id()


class Server:
    """The module's server process and what it writes."""

    def __init__(self, proc: ServerProcess, root: Path, cluster: str) -> None:
        self.proc, self.root, self.cluster = proc, root, cluster
        self.audit = root.parent / "audit.jsonl"
        self.runtime = root.parent / f"{proc.name}-runtime"
        self.store = root.parent / "store"

    def workspace(self, name: str, attach: dict[str, Any]) -> str:
        r = self.proc.api("POST", "/workspaces", json={"name": name})
        assert r.status_code == 201, r.text
        wid = str(r.json()["id"])
        assert self.proc.api("POST", f"/workspaces/{wid}/open").status_code == 200
        r = self.proc.api("POST", f"/workspaces/{wid}/attach", json=attach)
        assert r.status_code == 200, r.text
        return wid

    def sparkmagic_config(self, wid: str) -> Path:
        (path,) = self.runtime.glob(f"emr-workspace/sparkmagic/*/{wid}/config.json")
        return path

    def start_kernel(
        self, wid: str, kernel_name: str, notebook: str, folder: str | None = None
    ) -> BlockingKernelClient:
        """As JupyterLab does when the user picks the kernel in the launcher (in the
        Workspace's folder, or in `folder`, "" for the root)."""
        where = f"workspaces/{wid}" if folder is None else folder
        r = self.proc.request(
            "POST",
            "/api/sessions",
            json={
                "path": f"{where}/{notebook}".lstrip("/"),
                "name": notebook,
                "type": "notebook",
                "kernel": {"name": kernel_name},
            },
        )
        assert r.status_code == 201, r.text
        kernel_id = r.json()["kernel"]["id"]
        kc = BlockingKernelClient(connection_file=str(self.runtime / f"kernel-{kernel_id}.json"))
        kc.load_connection_file()
        kc.start_channels()
        # a first reply, however slow: jupyter_client's own wait takes a kernel that is still
        # importing sparkmagic (no heartbeat yet) for dead when the server, not it, started it
        deadline = time.monotonic() + 120
        while True:
            kc.kernel_info()
            try:
                if kc.get_shell_msg(timeout=5)["msg_type"] == "kernel_info_reply":
                    break
            except queue.Empty:
                assert time.monotonic() < deadline, "the kernel never answered kernel_info"
        kc.wait_for_ready(timeout=60)  # iopub connected too
        return kc

    def written(self) -> dict[str, str]:
        """Every file the server or a kernel wrote that a log reader, an event sink or a
        backup sees: logs (the server's and sparkmagic's), events, the store, Workspaces."""
        files = [
            self.root.parent / f"{self.proc.name}.log",
            self.audit,
            *self.runtime.glob("emr-workspace/sparkmagic/*/*/logs/*"),
            *(p for p in self.store.rglob("*") if p.is_file()),
            *(p for p in (self.root / "workspaces").rglob("*") if p.is_file()),
        ]
        return {str(p): p.read_text(errors="replace") for p in files if p.exists()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto: MotoHttp) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("installed")
    cluster = run_cluster(client(moto.url, "emr"), "basic-livy", SUBNET)
    livy = FakeLivy()
    studio = {
        "id": "es-installed",
        "backup_uri": str(base / "store"),
        "audit_log_path": str(base / "audit.jsonl"),
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": [SUBNET],
        "compute_sources": ["emr-ec2", "local"],
        "livy_urls": {cluster: livy.url},
        "livy_auth": "Basic",
        "livy_username": "livy-user",
        "livy_password_env": PASSWORD_ENV,
        "local_engine_idle_timeout": 0,
    }
    os.environ[PASSWORD_ENV] = LIVY_PASSWORD
    proc = ServerProcess(base / "root", studio, name="installed")
    try:
        try:
            proc.start()
        finally:
            os.environ.pop(PASSWORD_ENV, None)
        yield Server(proc, base / "root", cluster)
    finally:
        proc.stop()  # its kernels and its engine stop with it
        livy.close()


def test_the_launcher_lists_the_installed_spark_kernels(server: Server) -> None:
    specs = server.proc.request("GET", "/api/kernelspecs").json()["kernelspecs"]
    shown = {name: specs[name]["spec"]["display_name"] for name in KERNELS}
    assert shown == {
        "emr-pysparkkernel": "PySpark (EMR Workspace)",
        "emr-sparkkernel": "Spark (EMR Workspace)",
        "emr-sparkrkernel": "SparkR (EMR Workspace)",
    }
    for name in KERNELS:  # from the environment's share/jupyter, where the wheel put them
        installed = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name / "kernel.json"
        spec = json.loads(installed.read_text())
        served = specs[name]["spec"]
        assert (served["argv"], served["metadata"]) == (spec["argv"], spec["metadata"])


def run(kc: BlockingKernelClient, code: str, timeout: float = 240) -> tuple[str, dict[str, Any]]:
    texts: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            texts.append(content["text"])
        elif msg["msg_type"] == "execute_result":  # not display_data: progress widgets
            texts.append(str(content["data"].get("text/plain", "")))
        elif msg["msg_type"] == "error":
            texts.append("\n".join(content["traceback"]))

    reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    return "".join(texts), reply["content"]


def test_a_spark_kernel_outside_a_workspace_says_so_and_names_no_cluster(
    server: Server,
) -> None:
    """The launcher at the root folder offers the PySpark kernel too: its first cell says the
    notebook is in no Workspace, at once, and builds nothing from a name that is not there."""
    kc = server.start_kernel("", "emr-pysparkkernel", "outside.ipynb", folder="")
    try:
        text, reply = run(kc, "spark.range(3).count()", timeout=60)
    finally:
        kc.stop_channels()
    assert reply["status"] == "ok"  # sparkmagic's way: the error is output, the cell ends
    assert "This notebook is not in a Workspace" in text, text
    assert "open a Workspace from the EMR Workspaces panel" in text.replace("Open", "open")
    assert "its cluster" not in text and "None" not in text and "localhost:8998" not in text


@pytest.mark.spark
def test_the_installed_pyspark_kernel_runs_spark_with_the_workspaces_own_credential(
    server: Server,
) -> None:
    wid = server.workspace(
        "pyspark",
        {
            "type": "local",
            "cluster_id": "local",
            "session": {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}},
        },
    )
    config = server.sparkmagic_config(wid)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    creds = json.loads(config.read_text())["kernel_python_credentials"]
    assert creds["auth"] == "Basic_Access" and creds["username"] == wid
    kc = server.start_kernel(wid, "emr-pysparkkernel", "count.ipynb")
    try:
        text, reply = run(kc, "spark.range(7).count()")
        assert reply["status"] == "ok", text
        assert text.split("SparkSession available as 'spark'.")[-1].strip() == "7"
    finally:
        kc.stop_channels()
    written = server.written()
    assert any("/logs/" in path for path in written)  # sparkmagic's log of this kernel
    for path, content in written.items():
        assert creds["password"] not in content, path  # nor in the backed-up folder
    assert not config.is_relative_to(server.root)


@pytest.mark.spark
def test_a_scala_cell_computes_on_the_local_engine(server: Server) -> None:
    """The "Spark (EMR Workspace)" kernel (sparkmagic's Scala kernel, as installed) on the
    local engine: Spark's own REPL classes from pyspark/jars run the cell, closures too."""
    wid = server.workspace("scala work", {"type": "local", "cluster_id": "local"})
    kc = server.start_kernel(wid, "emr-sparkkernel", "cell.ipynb")
    try:
        info = kc.kernel_info(reply=True, timeout=60)["content"]
        assert info["language_info"]["name"].lower() == "scala"
        text, reply = run(kc, "spark.range(100).count()", timeout=180)
        assert reply["status"] == "ok", text
        assert re.search(r"res\d+: Long = 100\b", text), text
        text, reply = run(kc, "val doubled = spark.range(5).map(_ * 2).collect().sum")
        assert "doubled: Long = 20" in text, text
        text, reply = run(kc, "undefinedName + 1")
        assert "not found: value undefinedName" in text, text
    finally:
        kc.stop_channels()


@pytest.mark.spark
def test_an_r_session_names_what_is_missing_once(server: Server) -> None:
    """The local engine runs no SparkR: the SparkR kernel starts, and its first cell says
    once what is missing (R, where it is not installed, as here) and what to do, instead
    of a generic failure with tips about busy clusters."""
    wid = server.workspace("r work", {"type": "local", "cluster_id": "local"})
    kc = server.start_kernel(wid, "emr-sparkrkernel", "cell.ipynb")
    try:
        info = kc.kernel_info(reply=True, timeout=60)["content"]
        assert info["language_info"]["name"].lower() == "sparkr"
        text, reply = run(kc, "1 + 1", timeout=120)
    finally:
        kc.stop_channels()
    # sparkmagic prints the engine's refusal as a fatal error; the cell's reply stays "ok"
    assert reply["status"] == "ok" and text.startswith("The code failed because of a fatal error")
    expected = sparkr_unavailable("Session", "sparkr").rstrip(".")
    assert text.count(expected) == 1, text
    if shutil.which("Rscript") is None:
        assert "kind 'sparkr' needs R, which is not installed on this server" in text
    assert "attach the Workspace to an EMR cluster for SparkR" in text
    assert "Some things to try" not in text


def test_basic_auth_password_never_reaches_events_or_logs(server: Server) -> None:
    wid = server.workspace("on emr", {"type": "emr-ec2", "cluster_id": server.cluster})
    config = server.sparkmagic_config(wid)
    creds = json.loads(config.read_text())["kernel_python_credentials"]
    assert (creds["auth"], creds["username"], creds["password"]) == (
        "Basic_Access",
        "livy-user",
        LIVY_PASSWORD,
    )
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    attach_events = [
        e
        for e in map(json.loads, server.audit.read_text().splitlines())
        if e.get("action") == "elasticmapreduce:AttachEditor"
    ]
    assert attach_events, "the attach was not audited"
    view = server.proc.api("GET", f"/workspaces/{wid}").text
    assert LIVY_PASSWORD not in view
    for path, content in server.written().items():
        assert LIVY_PASSWORD not in content, path


def test_server_refuses_kerberos_without_requests_kerberos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests-kerberos is installed here: a shim on PYTHONPATH makes its import fail, as
    it does where it is missing (or built without its libkrb5)."""
    studio = {"id": "es-krb", "backup_uri": str(tmp_path / "store"), "livy_auth": "Kerberos"}
    accepted = ServerProcess(tmp_path / "with", studio, name="with-krb")
    try:
        accepted.start()  # the same configuration starts where the package imports
    finally:
        accepted.stop()
    shim = tmp_path / "shim" / "requests_kerberos"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ImportError('No module named requests_kerberos (hidden by the test)')\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(shim.parent), os.environ.get("PYTHONPATH", "")])
    )
    refused = ServerProcess(tmp_path / "without", studio, name="without-krb")
    try:
        with pytest.raises(RuntimeError, match="exited"):
            refused.start()
    finally:
        refused.stop()  # also when it started, which is the failure this test is for
    assert refused.proc is not None and refused.proc.returncode != 0
    log = refused.log_path.read_text()
    assert "c.Studio.livy_auth='Kerberos' needs requests-kerberos" in log, log[-2000:]
    assert "pip install requests-kerberos" in log


@pytest.mark.spark
def test_no_engine_credential_is_accepted_across_workspaces(server: Server) -> None:
    """Two Workspaces on `local`: each config's credential reaches only its own sessions."""
    one = server.workspace("one", {"type": "local", "cluster_id": "local"})
    two = server.workspace("two", {"type": "local", "cluster_id": "local"})
    first = json.loads(server.sparkmagic_config(one).read_text())["kernel_python_credentials"]
    second = json.loads(server.sparkmagic_config(two).read_text())["kernel_python_credentials"]
    assert first["url"] == second["url"] and first["password"] != second["password"]
    url = first["url"]
    assert (
        requests.get(url + "/sessions", auth=(one, second["password"]), timeout=10).status_code
        == 401
    )
    for creds in (first, second):
        r = requests.get(url + "/sessions", auth=(creds["username"], creds["password"]), timeout=10)
        assert r.status_code == 200
        assert {s["owner"] for s in r.json()["sessions"]} <= {creds["username"]}
