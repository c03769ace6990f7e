"""The embedded Livy engine over real HTTP, with real PySpark sessions (Java 17 needed).

JVM start-up dominates the runtime, so the module starts its sessions once, all at the same
time: A (most tests), B (killed by user code), C (on a second engine with a 3 s idle
timeout). No test asserts on timing; waits only bound how long a broken engine can hang.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import requests
from sparkmagic.livyclientlib.sqlquery import SQLQuery
from sparkmagic.utils import configuration as sparkmagic_conf

from jupyter_emr_workspace.kernels.sparkmagic_config import build_sparkmagic_config
from jupyter_emr_workspace.livy import EngineProcess, engine_unavailable_reason
from jupyter_emr_workspace.livy.errors import LivyError
from jupyter_emr_workspace.livy.launch import (
    FAST_JVM_FLAGS,
    normalize_kind,
    spark_conf_for,
    worker_env,
)
from jupyter_emr_workspace.livy.worker import Capture, format_table

T = TypeVar("T")
FINAL_STATEMENT = {"available", "error", "cancelled"}
FINAL_SESSION = {"dead", "error", "killed", "success"}


class LoopThread:
    """An event loop in a thread, so sync tests can drive the async EngineProcess."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Livy:
    """A tiny synchronous Livy client for the assertions."""

    def __init__(self, engine: EngineProcess) -> None:
        assert engine.url and engine.password
        self.url = engine.url
        self.http = requests.Session()
        self.http.auth = (engine.username, engine.password)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self.http.post(self.url + path, json=body or {}, timeout=30)

    def create_session(self, **body: Any) -> int:
        r = self.post("/sessions", {"kind": "pyspark", **body})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def wait_session(self, sid: int, states: set[str], limit: float = 120) -> dict[str, Any]:
        end = time.monotonic() + limit
        while True:
            session = self.get(f"/sessions/{sid}").json()
            if session["state"] in states or time.monotonic() > end:
                return session
            time.sleep(0.1)

    def submit(self, sid: int, code: str, kind: str | None = None) -> dict[str, Any]:
        body = {"code": code, **({"kind": kind} if kind else {})}
        r = self.post(f"/sessions/{sid}/statements", body)
        assert r.status_code == 201, r.text
        return r.json()

    def wait_statement(self, sid: int, st: dict[str, Any], states: set[str] = FINAL_STATEMENT,
                       limit: float = 60) -> dict[str, Any]:
        end = time.monotonic() + limit
        while st["state"] not in states and time.monotonic() < end:
            time.sleep(0.05)
            st = self.get(f"/sessions/{sid}/statements/{st['id']}").json()
        return st

    def run(self, sid: int, code: str, kind: str | None = None) -> dict[str, Any]:
        return self.wait_statement(sid, self.submit(sid, code, kind))


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture(scope="module")
def engines(loop: LoopThread) -> Iterator[tuple[EngineProcess, EngineProcess]]:
    main, short = EngineProcess(idle_timeout=0), EngineProcess(idle_timeout=3)

    async def start() -> None:
        await asyncio.gather(main.start(), short.start())

    async def stop() -> None:
        await asyncio.gather(main.stop(), short.stop())

    loop.run(start())
    yield main, short
    loop.run(stop())
    assert not main.running and not short.running


@pytest.fixture(scope="module")
def livy(engines: tuple[EngineProcess, EngineProcess]) -> Livy:
    return Livy(engines[0])


@pytest.fixture(scope="module")
def sessions(engines: tuple[EngineProcess, EngineProcess], livy: Livy) -> dict[str, int]:
    """Post every session up front so their JVMs start in parallel."""
    quiet = {"spark.ui.enabled": "false"}
    return {
        "a": livy.create_session(name="main", driverMemory="700m",
                                 conf={**quiet, "spark.sql.shuffle.partitions": "3"}),
        "b": livy.create_session(name="doomed", conf=quiet),
        "c": Livy(engines[1]).create_session(name="idle", conf=quiet),
    }


@pytest.fixture(scope="module")
def sid(livy: Livy, sessions: dict[str, int]) -> int:
    session = livy.wait_session(sessions["a"], {"idle", *FINAL_SESSION})
    assert session["state"] == "idle", session["log"]
    assert session["appId"].startswith("local-")
    return sessions["a"]


def text(st: dict[str, Any]) -> str:
    assert st["state"] == "available", st
    assert st["output"]["status"] == "ok", st["output"]
    return str(st["output"]["data"]["text/plain"])


# -- without Spark ---------------------------------------------------------------------------


def test_livy_request_fields_become_spark_settings() -> None:
    conf, notes = spark_conf_for({
        "name": "n", "driverMemory": "2g", "executorCores": 10_000, "jars": ["/a.jar", "/b.jar"],
        "conf": {"spark.driver.extraJavaOptions": "-Dx=1", "spark.sql.ansi.enabled": True},
    }, 7)
    assert conf["spark.app.name"] == "n"
    assert conf["spark.driver.memory"] == "2g"
    assert conf["spark.jars"] == "/a.jar,/b.jar"
    assert conf["spark.sql.ansi.enabled"] == "True"
    assert conf["spark.driver.extraJavaOptions"] == f"{FAST_JVM_FLAGS} -Dx=1"
    assert conf["spark.master"].startswith("local[") and "capped" in notes[0]
    assert spark_conf_for({"conf": {"spark.master": "local[1]"}}, 0)[0]["spark.master"] == (
        "local[1]")
    assert spark_conf_for({}, 3)[0]["spark.app.name"] == "livy-session-3"
    with pytest.raises(LivyError):
        spark_conf_for({"conf": ["x"]}, 0)


def test_kinds_and_environment() -> None:
    assert normalize_kind("PySpark", "Session") == "pyspark"
    assert normalize_kind("sql", "Statement") == "sql"
    with pytest.raises(LivyError) as info:
        normalize_kind("scala", "Session")
    assert info.value.status == 400
    env = worker_env("/py", {"PYSPARK_GATEWAY_PORT": "1", "PATH": "/bin"})
    assert env == {"PATH": "/bin", "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": "/py",
                   "PYTHONUNBUFFERED": "1"}


def test_text_table_and_bounded_capture() -> None:
    assert format_table(["x", "name"], [[1, None], [22, "a" * 30]]) == "\n".join([
        "+---+--------------------+", "|  x|                name|", "+---+--------------------+",
        "|  1|                null|", "| 22|aaaaaaaaaaaaaaaaa...|", "+---+--------------------+"])
    capture = Capture(limit=5)
    capture.write("abc")
    capture.write("defgh")
    assert capture.getvalue() == "abcde\n[output truncated at 5 characters]"


# -- with Spark ------------------------------------------------------------------------------


@pytest.mark.spark
def test_java_and_pyspark_are_available() -> None:
    assert engine_unavailable_reason() is None


@pytest.mark.spark
def test_requests_need_the_token(livy: Livy) -> None:
    assert requests.get(livy.url + "/sessions", timeout=10).status_code == 401
    wrong = requests.get(livy.url + "/sessions", auth=("x", "wrong"), timeout=10)
    assert wrong.status_code == 401
    assert "credentials" in wrong.json()["msg"]
    assert livy.get("/sessions").status_code == 200


@pytest.mark.parametrize("kind", ["spark", "sparkr"])
@pytest.mark.spark
def test_scala_and_r_sessions_get_a_clear_400(livy: Livy, kind: str) -> None:
    r = livy.post("/sessions", {"kind": kind})
    assert r.status_code == 400
    assert "runs Python (pyspark) and SQL only" in r.json()["msg"]


@pytest.mark.spark
def test_unknown_session_is_404(livy: Livy) -> None:
    r = livy.get("/sessions/9999")
    assert r.status_code == 404
    assert r.json()["msg"] == "Session '9999' not found."


@pytest.mark.spark
def test_count(livy: Livy, sid: int) -> None:
    assert text(livy.run(sid, "spark.range(100).count()")) == "100"


@pytest.mark.spark
def test_print_and_stderr_are_captured(livy: Livy, sid: int) -> None:
    out = text(livy.run(sid, "import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n1+1"))
    assert out.splitlines() == ["hello", "oops", "2"]


@pytest.mark.spark
def test_exception_is_an_error_output(livy: Livy, sid: int) -> None:
    st = livy.run(sid, "def f():\n    return 1/0\nf()")
    assert st["state"] == "error"
    out = st["output"]
    assert (out["status"], out["ename"], out["evalue"]) == ("error", "ZeroDivisionError",
                                                            "division by zero")
    assert "return 1/0" in "".join(out["traceback"])
    assert "worker.py" not in "".join(out["traceback"])


@pytest.mark.spark
def test_session_conf_reaches_spark(livy: Livy, sid: int) -> None:
    code = ("import os\n"
            "print(spark.conf.get('spark.sql.shuffle.partitions'))\n"
            "print(sc.getConf().get('spark.driver.memory'))\n"
            "print(sc.getConf().get('spark.driver.extraJavaOptions'))\n"
            "print(spark.conf.get('spark.sql.warehouse.dir'))\n"
            "print('EMR_WORKSPACE_LIVY_TOKEN' in os.environ)")
    partitions, memory, java_opts, warehouse, token_seen = text(livy.run(sid, code)).splitlines()
    assert (partitions, memory) == ("3", "700m")
    assert FAST_JVM_FLAGS in java_opts
    assert f"livy-session-{sid}-" in warehouse  # a scratch dir, not ./spark-warehouse
    assert token_seen == "False"  # user code cannot read the engine's token


@pytest.mark.spark
def test_sql_statement_returns_livy_json(livy: Livy, sid: int) -> None:
    st = livy.run(sid, "SELECT 1 AS x, 'a' AS y", kind="sql")
    assert st["state"] == "available", st
    result = st["output"]["data"]["application/json"]
    assert [f["name"] for f in result["schema"]["fields"]] == ["x", "y"]
    assert result["data"] == [[1, "a"]]


@pytest.mark.spark
def test_sparkmagic_sql_code_prints_json_lines(livy: Livy, sid: int) -> None:
    """The exact code sparkmagic's %%sql sends to a pyspark session."""
    # sparkmagic configures logging whenever it builds a command: keep it off disk and from
    # disabling this process's loggers.
    sparkmagic_conf.override_all(build_sparkmagic_config(livy.url))
    try:
        query = SQLQuery("SELECT id, id * 2 AS twice FROM range(3)", maxrows=10)
        code = query.to_command("pyspark", "spark").code
    finally:
        sparkmagic_conf.override_all({})
    lines = text(livy.run(sid, code)).splitlines()
    assert lines == ['{"id":0,"twice":0}', '{"id":1,"twice":2}', '{"id":2,"twice":4}']


@pytest.mark.spark
def test_unsupported_statement_kind_is_400(livy: Livy, sid: int) -> None:
    r = livy.post(f"/sessions/{sid}/statements", {"code": "1", "kind": "spark"})
    assert r.status_code == 400
    assert "SQL only" in r.json()["msg"]


def _cancel_when_running(livy: Livy, sid: int, code: str) -> dict[str, Any]:
    st = livy.wait_statement(sid, livy.submit(sid, code), {"running", *FINAL_STATEMENT})
    assert st["state"] == "running", st
    r = livy.post(f"/sessions/{sid}/statements/{st['id']}/cancel")
    assert (r.status_code, r.json()) == (200, {"msg": "canceled"})
    return livy.wait_statement(sid, st, limit=30)


@pytest.mark.spark
def test_cancel_python_code_and_a_waiting_statement(livy: Livy, sid: int) -> None:
    running = livy.submit(sid, "import time\ntime.sleep(60)")
    waiting = livy.submit(sid, "'never runs'")
    assert waiting["state"] == "waiting"
    livy.post(f"/sessions/{sid}/statements/{waiting['id']}/cancel")
    assert livy.get(f"/sessions/{sid}/statements/{waiting['id']}").json()["state"] == "cancelled"
    livy.wait_statement(sid, running, {"running"})
    livy.post(f"/sessions/{sid}/statements/{running['id']}/cancel")
    assert livy.wait_statement(sid, running, limit=30)["state"] == "cancelled"
    assert text(livy.run(sid, "21 * 2")) == "42"


@pytest.mark.spark
def test_cancel_a_spark_job(livy: Livy, sid: int) -> None:
    st = _cancel_when_running(livy, sid, "spark.range(10**13).selectExpr('sum(id)').collect()")
    assert st["state"] == "cancelled", st
    # The JVM connection must still be in sync after the interrupted call.
    assert text(livy.run(sid, "spark.range(5).count()")) == "5"


@pytest.mark.spark
def test_state_log_and_listing(livy: Livy, sid: int) -> None:
    assert livy.get(f"/sessions/{sid}/state").json() == {"id": sid, "state": "idle"}
    log = livy.get(f"/sessions/{sid}/log", params={"from": 0, "size": 1000}).json()
    assert log["from"] == 0 and log["total"] == len(log["log"])
    assert any("Spark is ready" in line for line in log["log"])
    tail = livy.get(f"/sessions/{sid}/log", params={"size": 2}).json()
    assert tail["log"] == log["log"][-2:]
    listing = livy.get("/sessions").json()
    assert sid in [s["id"] for s in listing["sessions"]]
    statements = livy.get(f"/sessions/{sid}/statements").json()
    assert statements["total_statements"] == len(statements["statements"]) > 0


@pytest.mark.spark
def test_worker_crash_kills_only_that_session(livy: Livy, sessions: dict[str, int],
                                              sid: int) -> None:
    doomed = sessions["b"]
    assert livy.wait_session(doomed, {"idle", *FINAL_SESSION})["state"] == "idle"
    st = livy.run(doomed, "import os\nos._exit(1)")
    assert st["state"] == "error" and st["output"]["ename"] == "SessionDead"
    session = livy.wait_session(doomed, FINAL_SESSION)
    assert session["state"] == "dead"
    assert any("exited with code 1 while running statement 0" in line
               for line in session["log"])
    assert text(livy.run(sid, "1 + 1")) == "2"  # the others live on
    r = livy.post(f"/sessions/{doomed}/statements", {"code": "1"})
    assert r.status_code == 400 and "is dead" in r.json()["msg"]


@pytest.mark.spark
def test_idle_timeout_stops_the_session(engines: tuple[EngineProcess, EngineProcess],
                                        sessions: dict[str, int]) -> None:
    short = Livy(engines[1])
    session = short.wait_session(sessions["c"], FINAL_SESSION)
    assert session["state"] == "killed"
    assert any("idle timeout" in line for line in session["log"])


@pytest.mark.spark
def test_delete_session(livy: Livy, sessions: dict[str, int]) -> None:
    for sid in (sessions["b"], sessions["a"]):
        r = livy.http.delete(f"{livy.url}/sessions/{sid}", timeout=60)
        assert (r.status_code, r.json()) == (200, {"msg": "deleted"})
        assert livy.get(f"/sessions/{sid}").status_code == 404
