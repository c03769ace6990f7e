"""Executions for real: the server's own runner runs Workspace notebooks with the installed
`emr-pysparkkernel` (sparkmagic) on the embedded engine, through the Workspace's
attachment and its own engine credential. With parameters {"n": 42}, a notebook computing
`spark.range(n).count()` finishes and its output in the backup location shows 42 (and
reaches the Workspace's `executions/` folder when it is next opened); a failing notebook
fails naming the cell; a stop during a long statement cancels it and ends STOPPED; no
Livy session is left behind. The three run at once: JVM start-up dominates."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Api
from test_compute_e2e import livy_sessions, running_statement
from test_executions_api import notebook, workspace_with

from jupyter_emr_workspace.livy import EngineProcess

SESSION = {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}}
pytestmark = pytest.mark.spark


@pytest.fixture
def jp_env_jupyter_path() -> Path:
    """The environment's share/jupyter, where the install put the kernelspecs."""
    return Path(sys.prefix) / "share" / "jupyter"


@pytest.fixture(autouse=True)
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARKMAGIC_CONF_DIR", raising=False)
    monkeypatch.delenv("EMR_WORKSPACE_KERNEL_REGISTRY", raising=False)


@pytest.fixture
def studio_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-runs",
        "compute_sources": ["local"],
        "server_owner": "alice",  # this server's runner runs alice's executions
        "execution_poll_seconds": 0.5,
        "execution_concurrency": 3,
    }


def parameters_cell(source: str) -> dict[str, Any]:
    cell = notebook(source)["cells"][0]
    cell["metadata"]["tags"] = ["parameters"]
    return dict(cell)


async def wait_for(api: Api, eid: str, statuses: set[str], limit: float = 150) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        ex = (await api("GET", f"executions/{eid}")).json
        if ex["status"] in statuses:
            return dict(ex)
        assert loop.time() < deadline, f"{eid} still {ex['status']}: {ex}"
        await asyncio.sleep(0.3)


async def test_notebooks_run_headless_on_the_workspace_cluster(
    api: Api, services: Any, engine: EngineProcess, jp_root_dir: Path
) -> None:
    services.compute.local.use(engine)
    count = notebook("n = 1", "spark.range(n).count()")
    count["cells"][0] = parameters_cell("n = 1")
    files = {
        "count.ipynb": count,
        "fail.ipynb": notebook("x = 1", "1 / 0", "print('never')"),
        "long.ipynb": notebook("import time\ntime.sleep(300)"),
    }
    wid = await workspace_with(api, "scheduled work", files)
    r = await api(
        "POST",
        f"workspaces/{wid}/attach",
        {"type": "local", "cluster_id": "local", "session": SESSION},
    )
    assert r.code == 200, r

    async def submit(path: str, **extra: Any) -> str:
        body = {"workspace_id": wid, "relative_path": path, **extra}
        r = await api("POST", "executions", body)
        assert r.code == 201, r
        return str(r.json["id"])

    ok = await submit("count.ipynb", parameters={"n": 42}, output_format="both")
    bad = await submit("fail.ipynb")
    long = await submit("long.ipynb")

    # -- stop during a long statement: the statement is cancelled -----------------------------
    await wait_for(api, long, {"RUNNING"})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while not await asyncio.to_thread(running_statement, engine, "time.sleep(300)"):
        assert loop.time() < deadline, "the long statement never started"
        await asyncio.sleep(0.3)
    r = await api("POST", f"executions/{long}/stop")
    assert r.code == 200 and r.json["status"] in ("STOP_PENDING", "STOPPING", "STOPPED"), r
    stopped = await wait_for(api, long, {"STOPPED", "FAILED", "FINISHED"}, limit=30)
    assert stopped["status"] == "STOPPED" and stopped["reason"] == "Stopped by alice"
    assert not await asyncio.to_thread(running_statement, engine, "time.sleep(300)")

    # -- parameters: n = 42 ----------------------------------------------------------------------
    done = await wait_for(api, ok, {"FINISHED", "FAILED", "STOPPED"})
    assert done["status"] == "FINISHED", done
    assert [e["status"] for e in done["events"]] == [
        "START_PENDING", "STARTING", "RUNNING", "FINISHING", "FINISHED",
    ]  # fmt: skip
    key = f"{wid}/executions/{ok}/count.ipynb"
    assert done["output"]["notebook"].endswith(key) and done["output"]["html"].endswith(".html")
    out = json.loads((await services.store.get(key)).data)
    injected = out["cells"][1]
    assert injected["metadata"]["tags"] == ["injected-parameters"]
    assert "n = 42" in "".join(injected["source"])
    texts = ["".join(o.get("text", "")) for o in out["cells"][2]["outputs"]]
    assert "42" in texts, texts
    html = (await services.store.get(f"{wid}/executions/{ok}/count.html")).data.decode()
    assert html.startswith("<!DOCTYPE html>") and "count" in html and "42" in html

    # -- a failing cell fails the execution, named ------------------------------------------------
    failed = await wait_for(api, bad, {"FINISHED", "FAILED", "STOPPED"})
    assert failed["status"] == "FAILED", failed
    assert failed["error"]["cell_number"] == 2 and failed["error"]["cell_source"] == "1 / 0"
    assert "ZeroDivisionError" in failed["error"]["evalue"]
    assert failed["reason"].startswith("cell 2 failed")
    out = json.loads((await services.store.get(f"{wid}/executions/{bad}/fail.ipynb")).data)
    assert out["cells"][2]["outputs"] == []  # nothing ran after the failed cell

    # -- each used its own Livy session, deleted afterwards ---------------------------------------
    assert await asyncio.to_thread(livy_sessions, engine) == []
    ended = [e for e in services.audit.recent(100) if e["details"].get("event")]
    assert {e["details"]["execution_id"]: e["details"]["status"] for e in ended} == {
        ok: "FINISHED",
        bad: "FAILED",
        long: "STOPPED",
    }

    # -- the output reaches the Workspace's executions/ folder when it is next opened -------------
    lease = (await api("POST", f"workspaces/{wid}/open")).json["lease"]
    assert (await api("POST", f"workspaces/{wid}/close", {"token": lease["token"]})).code == 204
    await api("POST", f"workspaces/{wid}/open")
    local = Path(jp_root_dir) / "workspaces" / wid / "executions" / ok / "count.ipynb"
    assert local.is_file() and "n = 42" in local.read_text()
