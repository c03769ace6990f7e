"""End to end through the real jupyter-server with real sparkmagic kernels and real PySpark.

A Workspace attached to `local` and another attached to a moto EMR cluster (whose id the
resolver maps to a second embedded engine, reached with Basic auth as Livy behind LDAP
would be) each start the installed `emr-pysparkkernel` kernelspec through the sessions API in
their own folder; each kernel talks to its own cluster. Statements, `%%sql`, a third
Workspace on `local` that cannot see the first one's session, cancel on interrupt, re-attach
with a kernel restart, a cluster that terminates under a kernel, and detach. JVM start-up
dominates: the local engine is shared by the module.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import Api
from emrws_testing.compute import run_cluster, subnet_id
from emrws_testing.moto_servers import MotoHttp, client

from jupyter_emr_workspace.livy import EngineProcess

PASSWORD_ENV = "EMRWS_TEST_LIVY_PASSWORD"
SUBNET = subnet_id()
SESSION = {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}}


@pytest.fixture
def jp_env_jupyter_path() -> Path:
    """pytest-jupyter hides the environment's share/jupyter behind a temporary one; give the
    server the real one back, so it finds the kernelspecs the install put there."""
    return Path(sys.prefix) / "share" / "jupyter"


@pytest.fixture(autouse=True)
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SPARKMAGIC_CONF_DIR from outside (pytest-jupyter's HOME has no ~/.sparkmagic),
    so only the Workspace's config can lead anywhere."""
    monkeypatch.delenv("SPARKMAGIC_CONF_DIR", raising=False)
    monkeypatch.delenv("EMR_WORKSPACE_KERNEL_REGISTRY", raising=False)


@pytest.fixture
def studio_config(tmp_path: Path, moto: MotoHttp) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-e2e",
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": [SUBNET],
        "compute_sources": ["emr-ec2", "local"],
        "livy_auth": "Basic",
        "livy_username": "emr-workspace",
        "livy_password_env": PASSWORD_ENV,
        "livy_probe_timeout": 2.0,
        # No panel heartbeats the leases here: a loaded machine must not let them lapse
        # before the test's last step (the interrupt needs the lease).
        "lease_seconds": 900,
    }


class Kernel:
    """A kernel of the server, driven with jupyter_client's async client."""

    def __init__(self, server: Any, kernel_id: str) -> None:
        self.id = kernel_id
        self.client = server.kernel_manager.get_kernel(kernel_id).client()
        self.client.start_channels()

    async def run(self, code: str, wait: float = 180) -> tuple[str, dict[str, Any]]:
        texts: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                texts.append(content["text"])
            elif msg["msg_type"] in ("execute_result", "display_data"):
                data = content["data"]
                texts.append(str(data.get("text/html") or data.get("text/plain", "")))
            elif msg["msg_type"] == "error":
                texts.append("\n".join(content["traceback"]))

        reply = await self.client.execute_interactive(code, output_hook=hook, timeout=wait)
        return "".join(texts), reply["content"]

    def close(self) -> None:
        self.client.stop_channels()


async def start_kernel(api: Api, server: Any, wid: str, name: str = "nb.ipynb") -> Kernel:
    body = {
        "path": f"workspaces/{wid}/{name}",
        "name": name,
        "type": "notebook",
        "kernel": {"name": "emr-pysparkkernel"},
    }
    r = await api("POST", "api/sessions", body, base="")
    assert r.code == 201, r
    spec = server.kernel_spec_manager.get_kernel_spec("emr-pysparkkernel")
    assert Path(spec.resource_dir).is_relative_to(sys.prefix)  # the installed kernelspec
    kernel = Kernel(server, r.json["kernel"]["id"])
    await kernel.client.wait_for_ready(timeout=90)
    return kernel


def sparkmagic_credentials(compute: Any, workspace_id: str) -> dict[str, str]:
    """What the Workspace's kernels authenticate with (its sparkmagic config)."""
    config = json.loads((compute.conf_dir(workspace_id) / "config.json").read_text())
    return dict(config["kernel_python_credentials"])


def livy_call(
    engine: EngineProcess, method: str, path: str, auth: tuple[str, str]
) -> requests.Response:
    return requests.request(
        method, f"{engine.url}{path}", json={"code": "1"}, auth=auth, timeout=10
    )


def livy_sessions(engine: EngineProcess) -> list[dict[str, Any]]:
    auth = (engine.username, engine.password or "")
    r = requests.get(f"{engine.url}/sessions", auth=auth, timeout=10)
    return list(r.json()["sessions"])


def running_statement(engine: EngineProcess, needle: str) -> bool:
    auth = (engine.username, engine.password or "")
    for session in livy_sessions(engine):
        statements = requests.get(
            f"{engine.url}/sessions/{session['id']}/statements", auth=auth, timeout=10
        ).json()["statements"]
        if any(needle in s["code"] and s["state"] == "running" for s in statements):
            return True
    return False


async def open_workspace(api: Api, name: str) -> str:
    wid = str((await api("POST", "workspaces", {"name": name})).json["id"])
    assert (await api("POST", f"workspaces/{wid}/open")).code == 200
    return wid


@pytest.mark.spark
async def test_workspaces_run_spark_on_their_own_clusters(
    api: Api,
    services: Any,
    jp_serverapp: Any,
    engine: EngineProcess,
    moto: MotoHttp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compute = services.compute
    compute.local.use(engine)
    emr_engine = EngineProcess(idle_timeout=0)  # the "EMR cluster"'s Livy, with Basic auth
    await emr_engine.start()
    monkeypatch.setenv(PASSWORD_ENV, emr_engine.password or "")
    kernels: list[Kernel] = []
    try:
        # -- Workspace 1 on `local` ---------------------------------------------------------
        ws1 = await open_workspace(api, "local work")
        r = await api(
            "POST",
            f"workspaces/{ws1}/attach",
            {
                "type": "local",
                "cluster_id": "local",
                "session": {**SESSION, "conf": {**SESSION["conf"], "spark.emrws.tag": "ws1"}},
            },
        )
        assert r.code == 200, r
        assert r.json["attachment"]["livy_url"] == engine.url
        assert r.json["attachment"]["auth"] == "Basic_Access"  # the engine's token
        k1 = await start_kernel(api, jp_serverapp, ws1)
        kernels.append(k1)
        text, reply = await k1.run("spark.range(100).count()")
        assert reply["status"] == "ok", text
        assert "100" in text.split("SparkSession available as 'spark'.")[-1]
        text, reply = await k1.run("%%sql -o out -q\nSELECT 40 + 2 AS answer")
        assert reply["status"] == "ok", text
        text, _ = await k1.run("%%local\nprint(out.to_dict('records'))")
        assert "[{'answer': 42}]" in text

        # -- its own credential: a third Workspace on `local` cannot see its session -------
        creds = sparkmagic_credentials(compute, ws1)
        assert creds["username"] == ws1 and creds["password"] not in ("", engine.password)
        (session,) = livy_sessions(engine)
        assert session["owner"] == ws1
        ws3 = await open_workspace(api, "neighbour")
        r = await api(
            "POST",
            f"workspaces/{ws3}/attach",
            # no session until its first Spark cell, as sparkmagic does
            {"type": "local", "cluster_id": "local", "kernels": {"start_session_early": False}},
        )
        assert r.code == 200, r
        other = sparkmagic_credentials(compute, ws3)
        auth = (other["username"], other["password"])
        listed = await asyncio.to_thread(livy_call, engine, "GET", "/sessions", auth)
        assert listed.json()["sessions"] == []
        for method in ("GET", "POST"):
            r2 = await asyncio.to_thread(
                livy_call, engine, method, f"/sessions/{session['id']}/statements", auth
            )
            assert r2.status_code == 404, r2.text
        k3 = await start_kernel(api, jp_serverapp, ws3)
        kernels.append(k3)
        text, reply = await k3.run("%%info")  # sparkmagic lists the endpoint's sessions
        assert reply["status"] == "ok" and "No active sessions" in text, text
        text, _ = await k1.run("%%info")
        assert f"<td>{session['id']}</td>" in text  # its own session is listed

        # -- Workspace 2 on an EMR cluster (moto) whose Livy the resolver maps --------------
        cluster = run_cluster(client(moto.url, "emr"), "team", SUBNET)
        services.studio.livy_urls = {cluster: emr_engine.url}
        ws2 = await open_workspace(api, "emr work")
        r = await api(
            "POST",
            f"workspaces/{ws2}/attach",
            {
                "type": "emr-ec2",
                "cluster_id": cluster,
                "session": {**SESSION, "conf": {**SESSION["conf"], "spark.emrws.tag": "ws2"}},
            },
        )
        assert r.code == 200, r
        assert r.json["attachment"]["auth"] == "Basic_Access"
        k2 = await start_kernel(api, jp_serverapp, ws2)
        kernels.append(k2)
        text, reply = await k2.run("print(spark.conf.get('spark.emrws.tag'))")
        assert reply["status"] == "ok", text
        assert text.strip().endswith("ws2")
        text, _ = await k1.run("print(spark.conf.get('spark.emrws.tag'))")
        assert text.strip().endswith("ws1")  # each kernel talks to its own cluster
        assert len(livy_sessions(engine)) == 1 and len(livy_sessions(emr_engine)) == 1

        # -- cancel: interrupting the kernel cancels the running statement -----------------
        msg_id = k1.client.execute("import time\ntime.sleep(120)")
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(running_statement, engine, "time.sleep(120)"):
            assert time.monotonic() < deadline, "the statement never started"
            await asyncio.sleep(0.2)
        started = time.monotonic()
        assert (await api("POST", f"api/kernels/{k1.id}/interrupt", base="")).code == 204
        reply_msg = await k1.client.get_shell_msg(timeout=60)
        while reply_msg["parent_header"].get("msg_id") != msg_id:
            reply_msg = await k1.client.get_shell_msg(timeout=60)
        assert reply_msg["content"].get("ename") == "SparkStatementCancelledException"
        assert time.monotonic() - started < 60

        # -- re-attach: the caller learns a kernel runs, and restarts it on request --------
        r = await api(
            "POST",
            f"workspaces/{ws1}/attach",
            {
                "type": "local",
                "cluster_id": "local",
                "session": {**SESSION, "conf": {**SESSION["conf"], "spark.emrws.tag": "ws1-v2"}},
            },
        )
        assert r.code == 200 and r.json["running_kernels"] == 1, r
        r = await api("POST", f"workspaces/{ws1}/restart-kernels")
        assert r.code == 200 and r.json["restarted"] == 1 and r.json["kernel_ids"] == [k1.id]
        await k1.client.wait_for_ready(timeout=90)
        text, reply = await k1.run("print(spark.conf.get('spark.emrws.tag'))")
        assert reply["status"] == "ok" and text.strip().endswith("ws1-v2"), text

        # -- the EMR cluster terminates under a running kernel ------------------------------
        client(moto.url, "emr").terminate_job_flows(JobFlowIds=[cluster])
        emr_url = emr_engine.url
        await emr_engine.stop()
        text, reply = await k2.run("spark.range(5).count()", wait=120)
        assert "Error sending http request" in text  # sparkmagic's own words, then ours:
        assert (
            f"The Workspace's cluster team ({cluster}) did not answer (Livy at {emr_url})" in text
        )
        assert "attach the Workspace to a running cluster, then restart this kernel" in text
        r = await api(
            "POST", f"workspaces/{ws2}/attach", {"type": "emr-ec2", "cluster_id": cluster}
        )
        assert r.code == 409 and "TERMINATED" in r.error["message"]

        # -- detach ----------------------------------------------------------------------------
        r = await api("POST", f"workspaces/{ws2}/detach")
        assert r.code == 200 and r.json["attachment"] is None and r.json["running_kernels"] == 1
    finally:
        for kernel in kernels:
            kernel.close()
        await emr_engine.stop()


async def test_local_engine_starts_on_first_attach_and_stops_with_the_server(
    api: Api, services: Any, jp_serverapp: Any
) -> None:
    compute = services.compute
    listed = [c for c in (await api("GET", "clusters")).json["clusters"] if c["type"] == "local"]
    assert listed[0]["attachable"] is True and listed[0]["livy_url"] is None
    assert compute.local.engine is None  # nothing runs before someone attaches
    wid = await open_workspace(api, "lifecycle")
    r = await api("POST", f"workspaces/{wid}/attach", {"type": "local", "cluster_id": "local"})
    assert r.code == 200, r
    engine = compute.local.engine
    assert engine.running and r.json["attachment"]["livy_url"] == engine.url
    pid = engine.pid
    listed = [c for c in (await api("GET", "clusters")).json["clusters"] if c["type"] == "local"]
    assert listed[0]["state"] == "RUNNING" and listed[0]["livy_url"] == engine.url
    from jupyter_emr_workspace.compute.part import PART
    from jupyter_emr_workspace.parts import Host

    await PART.stop(Host(jp_serverapp, jp_serverapp.log), services)  # the server's shutdown
    assert not engine.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_local_is_listed_unavailable_with_the_reason(
    api: Api, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_emr_workspace.livy import availability

    availability.engine_unavailable_reason.cache_clear()
    monkeypatch.setenv("JAVA_HOME", "/nonexistent")
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        r = await api("GET", "clusters")
        (local,) = [c for c in r.json["clusters"] if c["type"] == "local"]
        assert local["attachable"] is False and "Java 17" in local["reason"]
        wid = await open_workspace(api, "no java")
        r = await api("POST", f"workspaces/{wid}/attach", {"type": "local", "cluster_id": "local"})
        assert r.code == 409 and "Java 17" in r.error["message"]
    finally:
        availability.engine_unavailable_reason.cache_clear()
