"""sparkmagic wiring: config file, Workspace registry, provisioner, and the REAL PySpark kernel.

The kernel test starts the installed emr-pysparkkernel kernelspec (the one the wheel puts in
`share/jupyter/kernels`) through jupyter_client, from a sub-folder of a registered
Workspace, against the embedded engine with that Workspace's own credential. sparkmagic's
default (~/.sparkmagic, localhost:8998) leads nowhere here, so every answer from Spark proves
the provisioner set SPARKMAGIC_CONF_DIR. The registry is the default one, in the Jupyter
runtime dir (a temporary one, through Jupyter's own JUPYTER_RUNTIME_DIR).
"""

from __future__ import annotations

import json
import stat
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager

from jupyter_emr_workspace.kernels import (
    KERNELS,
    build_sparkmagic_config,
    find_workspace_conf,
    read_registry,
    register_workspace_conf,
    registry_path,
    unregister_workspace_conf,
    write_kernelspecs,
    write_sparkmagic_config,
)
from jupyter_emr_workspace.kernels.kernelspecs import SPECS_DIR, kernelspec
from jupyter_emr_workspace.kernels.provisioner import WorkspaceKernelProvisioner
from jupyter_emr_workspace.livy import EngineProcess

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE, OTHER = "e-kernelws", "e-otherws"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default registry, in a fresh Jupyter runtime dir."""
    monkeypatch.delenv("EMR_WORKSPACE_KERNEL_REGISTRY", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    path = registry_path()
    assert path == tmp_path / "runtime" / "emr-workspace" / "kernels.json"
    return path


# -- config ---------------------------------------------------------------------------------


def test_config_has_the_settings_that_spare_users_sparkmagic_pains(tmp_path: Path) -> None:
    path = write_sparkmagic_config(
        tmp_path / "conf",
        "http://livy:8998/",
        session_settings={
            "driverMemory": "2g",
            "executorMemory": "4g",
            "executorCores": 2,
            "conf": {"spark.sql.shuffle.partitions": "8"},
        },
    )
    config = json.loads(path.read_text())
    for key in ("kernel_python_credentials", "kernel_scala_credentials", "kernel_r_credentials"):
        assert config[key] == {
            "url": "http://livy:8998",
            "auth": "None",
            "username": "",
            "password": "",
        }
    assert config["session_configs"]["conf"] == {"spark.sql.shuffle.partitions": "8"}
    assert config["session_configs"]["executorCores"] == 2
    assert config["livy_session_startup_timeout_seconds"] >= 120
    assert config["livy_server_heartbeat_timeout_seconds"] > 0  # sparkmagic's should_heartbeat
    assert config["heartbeat_refresh_seconds"] > 0 and config["heartbeat_retry_seconds"] > 0
    assert config["retry_policy"] == "configurable"
    handler = config["logging_config"]["handlers"]["magicsHandler"]
    assert handler["home_path"] == str(tmp_path / "conf")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temp file left


def test_config_with_a_password_is_private(tmp_path: Path) -> None:
    path = write_sparkmagic_config(tmp_path, "https://livy:8998", "Basic_Access", "u", "s3cret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["kernel_python_credentials"]["password"] == "s3cret"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth": "Basic"},
        {"auth": "Basic_Access"},
        {"session_settings": {"driverMemroy": "1g"}},
        {"session_settings": {"conf": "spark.x=1"}},
    ],
)
def test_config_mistakes_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build_sparkmagic_config("http://livy:8998", **kwargs)


# -- registry -------------------------------------------------------------------------------


def test_registry_maps_folders_innermost_first(tmp_path: Path, registry: Path) -> None:
    outer, inner = tmp_path / "ws", tmp_path / "ws" / "nested-ws"
    (inner / "deep").mkdir(parents=True)
    register_workspace_conf(outer, tmp_path / "conf-outer")
    register_workspace_conf(inner, tmp_path / "conf-inner")
    assert find_workspace_conf(inner / "deep") == (str(inner), str(tmp_path / "conf-inner"))
    assert find_workspace_conf(outer) == (str(outer), str(tmp_path / "conf-outer"))
    assert find_workspace_conf(tmp_path) is None
    unregister_workspace_conf(inner)
    assert find_workspace_conf(inner / "deep") == (str(outer), str(tmp_path / "conf-outer"))
    assert read_registry() == {str(outer): str(tmp_path / "conf-outer")}
    unregister_workspace_conf(inner)  # no-op


def test_registry_follows_symlinks(tmp_path: Path, registry: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    register_workspace_conf(tmp_path / "link", tmp_path / "conf")
    assert find_workspace_conf(tmp_path / "real") == (
        str(tmp_path / "real"),
        str(tmp_path / "conf"),
    )


def test_missing_or_broken_registry_is_empty(registry: Path) -> None:
    assert find_workspace_conf("/") is None
    registry.parent.mkdir(parents=True)
    registry.write_text("{not json")
    assert read_registry() == {}


# -- kernelspecs and provisioner ------------------------------------------------------------


def test_static_kernelspecs_match_the_generator(tmp_path: Path) -> None:
    for name in KERNELS:
        shipped = json.loads((SPECS_DIR / name / "kernel.json").read_text())
        assert shipped == kernelspec(name)
        assert shipped["metadata"]["kernel_provisioner"]["provisioner_name"] == (
            "emr-workspace-provisioner"
        )
    assert sorted(p.name for p in write_kernelspecs(tmp_path)) == sorted(KERNELS)


def test_the_installed_kernelspecs_are_the_shipped_ones() -> None:
    """What `pip install` put in share/jupyter/kernels, as jupyter_client finds it."""
    specs = KernelSpecManager().find_kernel_specs()
    for name in KERNELS:
        assert Path(specs[name]).is_relative_to(sys.prefix), specs[name]
        installed = json.loads((Path(specs[name]) / "kernel.json").read_text())
        assert installed == json.loads((SPECS_DIR / name / "kernel.json").read_text())


def test_provisioner_entry_point_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["jupyter_client.kernel_provisioners"]
    assert entry_points["emr-workspace-provisioner"] == (
        "jupyter_emr_workspace.kernels.provisioner:WorkspaceKernelProvisioner"
    )


def _provisioner(name: str = "emr-pysparkkernel") -> WorkspaceKernelProvisioner:
    spec = KernelSpec(**kernelspec(name), resource_dir="")
    return WorkspaceKernelProvisioner(kernel_id="k", kernel_spec=spec, parent=None)


async def test_provisioner_sets_only_the_conf_dir_and_workspace_folder(
    tmp_path: Path, registry: Path
) -> None:
    (tmp_path / "ws" / "sub").mkdir(parents=True)
    register_workspace_conf(tmp_path / "ws", tmp_path / "conf")
    base = {"PATH": "/bin", "SPARKMAGIC_CONF_DIR": "/elsewhere"}
    kw = await _provisioner().pre_launch(cwd=str(tmp_path / "ws" / "sub"), env=dict(base))
    assert kw["env"] == {
        **base,
        "SPARKMAGIC_CONF_DIR": str(tmp_path / "conf"),
        "EMR_WORKSPACE_FOLDER": str((tmp_path / "ws").resolve()),
    }
    assert kw["cmd"][1:3] == ["-m", "jupyter_emr_workspace.kernels.pysparkkernel"]


async def test_spark_kernel_outside_a_workspace_falls_back_with_a_warning(
    tmp_path: Path, registry: Path, caplog: pytest.LogCaptureFixture
) -> None:
    register_workspace_conf(tmp_path / "ws", tmp_path / "conf")
    provisioner = _provisioner()
    with caplog.at_level("WARNING", logger=provisioner.log.name):
        kw = await provisioner.pre_launch(cwd=str(tmp_path), env={"PATH": "/bin"})
    assert kw["env"] == {"PATH": "/bin"}
    assert "not inside an open EMR Workspace" in caplog.text


# -- the real kernel ------------------------------------------------------------------------


class Cell:
    """What one execute request printed, displayed and returned."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.reply: dict[str, Any] = {}

    def hook(self, msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            self.texts.append(content["text"])
        elif msg["msg_type"] in ("execute_result", "display_data"):
            self.texts.append(str(content["data"].get("text/plain", "")))
        elif msg["msg_type"] == "error":
            self.texts.append("\n".join(content["traceback"]))

    @property
    def text(self) -> str:
        return "".join(self.texts)


@pytest.fixture
def kernel(
    engine: EngineProcess, tmp_path: Path, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[KernelManager, Any]]:
    assert engine.url
    conf_dir = tmp_path / "sparkmagic-conf"
    write_sparkmagic_config(
        conf_dir,
        engine.url,
        session_settings={"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}},
        **engine.sparkmagic_auth(WORKSPACE),
    )
    workspace = tmp_path / "workspace"
    (workspace / "notebooks").mkdir(parents=True)
    register_workspace_conf(workspace, conf_dir)
    monkeypatch.delenv("SPARKMAGIC_CONF_DIR", raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no stray ~/.sparkmagic config
    km = KernelManager(kernel_name="emr-pysparkkernel")  # the installed kernelspec
    assert Path(km.kernel_spec.resource_dir).is_relative_to(sys.prefix)
    km.start_kernel(cwd=str(workspace / "notebooks"))
    assert isinstance(km.provisioner, WorkspaceKernelProvisioner)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=90)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


def execute(kc: Any, code: str, timeout: float = 180) -> Cell:
    cell = Cell()
    cell.reply = kc.execute_interactive(code, output_hook=cell.hook, timeout=timeout)
    return cell


def _running_statement(engine: EngineProcess, needle: str) -> tuple[int, int] | None:
    http = requests.Session()
    http.auth = (engine.username, engine.password or "")
    for session in http.get(f"{engine.url}/sessions", timeout=10).json()["sessions"]:
        statements = http.get(
            f"{engine.url}/sessions/{session['id']}/statements", timeout=10
        ).json()["statements"]
        for st in statements:
            if needle in st["code"] and st["state"] == "running":
                return session["id"], st["id"]
    return None


@pytest.mark.spark
def test_real_pyspark_kernel_runs_on_the_workspace_engine(
    engine: EngineProcess, kernel: tuple[KernelManager, Any]
) -> None:
    km, kc = kernel
    cell = execute(kc, "spark.range(100).count()")
    assert cell.reply["content"]["status"] == "ok", cell.text
    assert "SparkSession available as 'spark'" in cell.text
    assert "100" in cell.text.split("SparkSession available as 'spark'.")[-1]
    a_running_statement_shows_its_stages_and_leaves_no_widget_behind(kc)

    # the session is the Workspace's: another Workspace's credential does not reach it
    admin = requests.Session()
    admin.auth = (engine.username, engine.password or "")
    (session,) = admin.get(f"{engine.url}/sessions", timeout=10).json()["sessions"]
    assert session["owner"] == WORKSPACE
    other = requests.Session()
    other.auth = (OTHER, engine.owner_password(OTHER) or "")
    assert other.get(f"{engine.url}/sessions", timeout=10).json()["sessions"] == []
    r = other.post(
        f"{engine.url}/sessions/{session['id']}/statements", json={"code": "1"}, timeout=10
    )
    assert r.status_code == 404

    cell = execute(kc, "%%sql -o sql_out -q\nSELECT 1 AS x, 'a' AS y")
    assert cell.reply["content"]["status"] == "ok", cell.text
    cell = execute(kc, "%%local\nprint(sql_out.to_dict('records'))")
    assert "[{'x': 1, 'y': 'a'}]" in cell.text

    msg_id = kc.execute("import time\ntime.sleep(120)")
    deadline = time.monotonic() + 60
    found = None
    while found is None and time.monotonic() < deadline:
        found = _running_statement(engine, "time.sleep(120)")
        time.sleep(0.2)
    assert found is not None, "the sleep never started on the engine"
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    session_id, statement_id = found
    http = requests.Session()
    http.auth = (engine.username, engine.password or "")
    state = http.get(
        f"{engine.url}/sessions/{session_id}/statements/{statement_id}", timeout=10
    ).json()["state"]
    assert state == "cancelled"
    assert reply["content"].get("ename") == "SparkStatementCancelledException"
    cell = execute(kc, "spark.range(3).count()")
    assert cell.reply["content"]["status"] == "ok", cell.text
    assert "3" in cell.text


def execute_collecting(kc: Any, code: str, timeout: float = 180) -> list[dict[str, Any]]:
    """Every iopub message until the kernel is idle again after ``code``, with the time
    it arrived (comm updates from the bar's own thread carry no parent header)."""
    msg_id = kc.execute(code)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=deadline - time.monotonic())
        msg["received"] = time.monotonic()
        seen.append(msg)
        if (
            msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
            and msg["parent_header"].get("msg_id") == msg_id
        ):
            return seen
    raise AssertionError(f"{code!r} did not finish in {timeout} s")


def a_running_statement_shows_its_stages_and_leaves_no_widget_behind(kc: Any) -> None:
    """A 6-task job on 2 cores (about 3 s): the bar's text follows the embedded engine's
    stage and task counts while it runs, and when it ends the bar's output is replaced by
    an empty one (a saved notebook keeps no widget view to show broken after a restart).
    Run inside the real-kernel test below, whose kernel and session it shares (a kernel
    of its own would cost half a minute of start-up)."""
    code = "sc.parallelize(range(6), 6).map(lambda x: (__import__('time').sleep(1), x)[1]).sum()"
    seen = execute_collecting(kc, code)
    texts = [
        str(m["content"]["data"].get("state", {}).get("description", ""))
        for m in seen
        if m["msg_type"] in ("comm_msg", "comm_open")
    ]
    assert any("stage 1 of 1" in t and "of its Spark tasks done" in t for t in texts), texts
    shown = [m for m in seen if m["msg_type"] == "display_data" and m["content"]["transient"]]
    assert shown, "the bar was not shown with a display id"
    display_id = shown[0]["content"]["transient"]["display_id"]
    assert "application/vnd.jupyter.widget-view+json" in shown[0]["content"]["data"]
    blanked = [
        m
        for m in seen
        if m["msg_type"] == "update_display_data"
        and m["content"]["transient"]["display_id"] == display_id
    ]
    assert [m["content"]["data"] for m in blanked] == [{"text/plain": ""}]
    printed = "".join(m["content"]["text"] for m in seen if m["msg_type"] == "stream")
    assert printed.strip() == "15", printed


# -- cluster hints --------------------------------------------------------------------------


def test_errors_that_mean_the_cluster_is_gone_get_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_emr_workspace.kernels.cluster_hints import CLUSTER_FILE, with_hint

    (tmp_path / CLUSTER_FILE).write_text(
        json.dumps(
            {"type": "emr-ec2", "cluster_id": "j-1", "name": "etl", "livy_url": "http://h:8998"}
        )
    )
    monkeypatch.setenv("SPARKMAGIC_CONF_DIR", str(tmp_path))
    from jupyter_emr_workspace.kernels.cluster_hints import cluster_info

    gone = with_hint("Error sending http request and maximum retry encountered.", cluster_info())
    assert "The Workspace's cluster etl (j-1) did not answer (Livy at http://h:8998)" in gone
    assert "attach the Workspace to a running cluster" in gone
    assert with_hint("NameError: x", cluster_info()) == "NameError: x"  # user errors untouched
    local = with_hint("Invalid status code '404' from ...", {"type": "local"})
    assert "local Spark engine" in local
    monkeypatch.setenv("SPARKMAGIC_CONF_DIR", str(tmp_path / "missing"))
    assert cluster_info() == {}


def test_a_gone_cluster_hint_never_names_what_is_not_there() -> None:
    from jupyter_emr_workspace.kernels.cluster_hints import in_workspace, with_hint

    nowhere = with_hint("Error sending http request and maximum retry encountered.", {})
    assert "This notebook is not in a Workspace" in nowhere
    assert "its cluster" not in nowhere and "None" not in nowhere
    unnamed = with_hint("Invalid status code '503'", {"type": "emr-ec2"})
    assert "The Workspace's cluster did not answer" in unnamed and "None" not in unnamed
    assert not in_workspace("/nonexistent-sparkmagic-dir")


def test_info_for_the_local_engine_has_no_yarn_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """%%info of a Workspace attached to the local engine: no "YARN Application ID", no
    empty driver-log link; attached to an EMR cluster, sparkmagic's own table."""
    from sparkmagic.magics import sparkmagicsbase

    from jupyter_emr_workspace.kernels.cluster_hints import CLUSTER_FILE, _install_local_info

    class FakeSession:
        id, kind, status = 0, "pyspark", "idle"

        def get_app_id(self) -> None:
            return None

        def get_spark_ui_url(self) -> str:
            return "http://127.0.0.1:4040/"

        def get_driver_log_url(self) -> None:
            return None

        def get_user(self) -> str:
            return "e-ALPHA"

        def get_row_html(self, current: int) -> str:  # sparkmagic's own table asks this
            return "<tr><td>0</td></tr>"

    monkeypatch.setattr(
        sparkmagicsbase, "get_sessions_info_html", sparkmagicsbase.get_sessions_info_html
    )
    from sparkmagic.livyclientlib import livysession

    monkeypatch.setattr(livysession, "get_sessions_info_html", livysession.get_sessions_info_html)
    monkeypatch.setenv("SPARKMAGIC_CONF_DIR", str(tmp_path))
    _install_local_info()
    (tmp_path / CLUSTER_FILE).write_text(json.dumps({"type": "local", "cluster_id": "local"}))
    local = sparkmagicsbase.get_sessions_info_html([FakeSession()], 0)
    assert "YARN" not in local and "None" not in local
    assert "<th>Driver log</th>" in local and 'href="http://127.0.0.1:4040/"' in local
    assert "<td>e-ALPHA</td>" in local and "\u2714" in local
    assert livysession.get_sessions_info_html([FakeSession()], 0) == local
    (tmp_path / CLUSTER_FILE).write_text(json.dumps({"type": "emr-ec2", "cluster_id": "j-1"}))
    assert "YARN Application ID" in sparkmagicsbase.get_sessions_info_html([FakeSession()], 0)


# -- feedback while Spark works -----------------------------------------------------------


def test_the_progress_bar_says_how_long_and_how_far() -> None:
    from jupyter_emr_workspace.kernels.feedback import describe

    assert describe(0.4, None) == "Running for 0 s: waiting for Spark tasks"
    assert describe(12.7, 0.0) == "Running for 12 s: waiting for Spark tasks"
    assert describe(75, 0.42) == "Running for 1 min 15 s: 42% of its Spark tasks done"
    jobs = {"jobs": 1, "jobsDone": 0, "stages": 3, "stagesDone": 1}
    running = {**jobs, "tasks": 10, "tasksDone": 4, "tasksRunning": 2}
    assert describe(5, 0.4, running) == "Running for 5 s: stage 2 of 3, 40% of its Spark tasks done"
    waiting = {**jobs, "tasks": 10, "tasksDone": 4, "tasksRunning": 0}
    assert describe(5, 0.4, waiting) == "Running for 5 s: stage 2 of 3, waiting for executors"
    assert describe(3, 0.0, {"jobs": 0, "stages": 0}) == "Running for 3 s: no Spark job yet"
    done = {"jobs": 2, "jobsDone": 2, "stages": 2, "stagesDone": 2, "tasks": 4, "tasksDone": 4}
    assert describe(9, 1.0, done) == "Running for 9 s: 2 Spark jobs done"


class FakeHandle:
    def __init__(self) -> None:
        self.updates: list[Any] = []

    def update(self, data: Any, raw: bool = False) -> None:
        self.updates.append((data, raw))


class FakeStatements:
    """A Livy that answers a running statement twice, then its result (or an interrupt)."""

    def __init__(self, final: dict[str, Any] | None) -> None:
        self.final, self.polls = final, 0
        self.id = 0
        self.http_client = self

    def get_statement(self, session_id: Any, statement_id: Any) -> dict[str, Any]:
        self.polls += 1
        if self.polls <= 2:
            jobs = {"jobs": 1, "jobsDone": 0, "stages": 2, "stagesDone": 1}
            jobs |= {"tasks": 4, "tasksDone": 3, "tasksRunning": 1}
            return {"state": "running", "progress": 0.75, "sparkProgress": jobs}
        if self.final is None:
            raise KeyboardInterrupt
        return self.final


def test_a_statement_is_polled_and_its_bar_retired_without_a_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bar follows the statement's stages, and once the statement ends (or is
    interrupted) it is closed and its place in the output blanked: no widget view is left
    to show as a broken link after a restart. A unit test: the session is a stand-in."""
    import IPython.display
    from ipywidgets import FloatProgress
    from sparkmagic.livyclientlib import command

    from jupyter_emr_workspace.kernels import feedback

    feedback.install()
    feedback.install()  # once only: no bar inside a bar
    assert command.FloatProgress.__mro__[1] is FloatProgress
    handles: list[FakeHandle] = []
    shown: list[Any] = []

    def display(obj: Any, display_id: bool = False) -> FakeHandle:
        assert display_id  # a bar shown without an id could not be blanked later
        shown.append(obj)
        handles.append(FakeHandle())
        return handles[-1]

    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(feedback, "POLL_DELAYS", (0.0,))
    done = {"state": "available", "output": {"status": "ok", "data": {"text/plain": "42"}}}
    result = command.Command("x")._get_statement_output(FakeStatements(done), 0)
    assert result == (True, "42", "text/plain")
    (bar,) = shown
    assert bar.value == 0.75 and "stage 2 of 2, 75% of its Spark tasks done" in bar.description
    assert handles[0].updates == [(feedback.RETIRED, True)] and not feedback.OPEN

    with pytest.raises(KeyboardInterrupt):
        command.Command("x")._get_statement_output(FakeStatements(None), 1)
    assert handles[1].updates == [(feedback.RETIRED, True)] and not feedback.OPEN


def test_a_livy_error_payload_reads_as_one_sentence() -> None:
    from jupyter_emr_workspace.kernels.livy_errors import readable

    body = {"msg": "No R here.", "error": {"code": "UnsupportedKind", "message": "No R here."}}
    fatal = (
        "The code failed because of a fatal error:\n\tInvalid status code '400' from "
        f"http://127.0.0.1:1/sessions with error payload: {json.dumps(body)}.\n\n"
        "Some things to try:\na) Check the cluster"
    )
    assert readable(fatal) == (
        "The code failed because of a fatal error:\n\tInvalid status code '400' from "
        "http://127.0.0.1:1/sessions: No R here.\n"
    )
    busy = fatal.replace("UnsupportedKind", "TooManySessions")
    assert readable(busy).endswith(": No R here.\n\nSome things to try:\na) Check the cluster")
    assert readable("NameError: x") == "NameError: x"
    broken = "Invalid status code '404' from u with error payload: {not json}."
    assert readable(broken) == broken  # still matched by the cluster hints
