"""The embedded Livy engine over real HTTP, with real PySpark sessions (Java 17 needed).

JVM start-up dominates the runtime, so the module starts its sessions once, all at the same
time: A (most tests), B (killed by user code), C (on a second engine with a 3 s idle
timeout), all as the owner (Workspace) `e-alpha`, with that owner's own credential. Tests of
who sees which session and of the per-owner cap run on an engine whose sessions are
stand-in processes that never start Spark (the engine is real, over HTTP). No test asserts
on timing; waits only bound how long a broken engine can hang.
"""

from __future__ import annotations

import asyncio
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import livy as pypi_livy
import pytest
import requests
from emrws_testing.loop_thread import LoopThread
from sparkmagic.livyclientlib.sqlquery import SQLQuery
from sparkmagic.utils import configuration as sparkmagic_conf

from jupyter_emr_workspace.kernels.sparkmagic_config import build_sparkmagic_config
from jupyter_emr_workspace.livy import EngineProcess, LivyEngine, engine_unavailable_reason
from jupyter_emr_workspace.livy.credentials import authenticate, basic_header, owner_password
from jupyter_emr_workspace.livy.errors import LivyError
from jupyter_emr_workspace.livy.launch import (
    FAST_JVM_FLAGS,
    normalize_kind,
    spark_conf_for,
    sparkr_unavailable,
    worker_env,
)
from jupyter_emr_workspace.livy.output import bound_output, output_size
from jupyter_emr_workspace.livy.worker import Capture, format_table

FINAL_STATEMENT = {"available", "error", "cancelled"}
FINAL_SESSION = {"dead", "error", "killed", "success"}
OWNER, OTHER = "e-alpha", "e-beta"
MAX_OUTPUT = 100_000  # the main engine's --max-output-chars


class Livy:
    """A tiny synchronous Livy client for the assertions: as `owner` (a Workspace's own
    credential), or as the engine's admin when owner is None."""

    def __init__(self, engine: EngineProcess, owner: str | None = OWNER) -> None:
        assert engine.url and engine.password
        self.url = engine.url
        self.http = requests.Session()
        self.auth = (
            (owner, engine.owner_password(owner) or "")
            if owner
            else (engine.username, engine.password)
        )
        self.http.auth = self.auth

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self.http.post(self.url + path, json=body or {}, timeout=30)

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(self.url + path, timeout=60)

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

    def wait_statement(
        self, sid: int, st: dict[str, Any], states: set[str] = FINAL_STATEMENT, limit: float = 60
    ) -> dict[str, Any]:
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
    main = EngineProcess(idle_timeout=0, max_output_chars=MAX_OUTPUT)
    short = EngineProcess(idle_timeout=3)

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
        "a": livy.create_session(
            name="main", driverMemory="700m", conf={**quiet, "spark.sql.shuffle.partitions": "3"}
        ),
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
    conf, notes = spark_conf_for(
        {
            "name": "n",
            "driverMemory": "2g",
            "executorCores": 10_000,
            "jars": ["/a.jar", "/b.jar"],
            "conf": {"spark.driver.extraJavaOptions": "-Dx=1", "spark.sql.ansi.enabled": True},
        },
        7,
    )
    assert conf["spark.app.name"] == "n"
    assert conf["spark.driver.memory"] == "2g"
    assert conf["spark.jars"] == "/a.jar,/b.jar"
    assert conf["spark.sql.ansi.enabled"] == "True"
    assert conf["spark.driver.extraJavaOptions"] == f"{FAST_JVM_FLAGS} -Dx=1"
    assert conf["spark.master"].startswith("local[") and "capped" in notes[0]
    assert spark_conf_for({"conf": {"spark.master": "local[1]"}}, 0)[0]["spark.master"] == (
        "local[1]"
    )
    assert spark_conf_for({}, 3)[0]["spark.app.name"] == "livy-session-3"
    with pytest.raises(LivyError):
        spark_conf_for({"conf": ["x"]}, 0)


def test_kinds_and_environment() -> None:
    assert normalize_kind("PySpark", "Session") == "pyspark"
    assert normalize_kind("sql", "Statement") == "sql"
    assert normalize_kind("scala", "Session") == normalize_kind("spark", "Session") == "spark"
    with pytest.raises(LivyError) as info:
        normalize_kind("sparkr", "Session")
    assert info.value.status == 400
    assert sparkr_unavailable("Session", "sparkr", rscript="").startswith(
        "Session kind 'sparkr' needs R, which is not installed"
    )
    assert "R is installed at /usr/bin/Rscript" in sparkr_unavailable(
        "Session", "sparkr", rscript="/usr/bin/Rscript"
    )
    env = worker_env("/py", {"PYSPARK_GATEWAY_PORT": "1", "PATH": "/bin"})
    assert env == {
        "PATH": "/bin",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": "/py",
        "PYTHONUNBUFFERED": "1",
    }


def test_text_table_and_bounded_capture() -> None:
    assert format_table(["x", "name"], [[1, None], [22, "a" * 30]]) == "\n".join(
        [
            "+---+--------------------+",
            "|  x|                name|",
            "+---+--------------------+",
            "|  1|                null|",
            "| 22|aaaaaaaaaaaaaaaaa...|",
            "+---+--------------------+",
        ]
    )
    capture = Capture(limit=5)
    capture.write("abc")
    capture.write("defgh")
    capture.write("ij")
    assert (capture.getvalue(), capture.cut) == ("abcde", 5)


def _note(output: dict[str, Any]) -> str:
    text = str(output["data"]["text/plain"])
    assert "[output truncated by the local Spark engine:" in text, text[-300:]
    return text[text.rindex("[output truncated") :]


def test_output_over_the_limit_is_cut_with_a_note_naming_the_setting() -> None:
    small = {"status": "ok", "execution_count": 1, "data": {"text/plain": "fine"}}
    assert bound_output(small, 1000) is small
    text = "line\n" * 5000  # escapes weigh more in JSON than in the text
    big = {
        "status": "ok",
        "execution_count": 2,
        "data": {"text/plain": text, "image/png": "A" * 30_000, "application/json": [1]},
    }
    cut = bound_output(big, 10_000)
    assert cut is not None and output_size(cut) <= 10_000
    assert cut["data"]["application/json"] == [1]  # small structured data stays whole
    assert "image/png" not in cut["data"]
    note = _note(cut)
    assert "characters cut" in note and "dropped image/png (30,002 characters)" in note
    assert "10,000 characters per statement (c.Studio.local_engine_max_output_chars)" in note
    assert cut["data"]["text/plain"].startswith("line\nline\n")
    assert bound_output(cut, 10_000) == cut  # what the session cut, the engine keeps
    error = {
        "status": "error",
        "ename": "ValueError",
        "evalue": "v" * 50_000,
        "traceback": ["frame\n"] * 10_000,
        "data": {"text/plain": ""},
    }
    cut = bound_output(error, 10_000)
    assert cut is not None and output_size(cut) <= 10_000 and cut["ename"] == "ValueError"
    assert cut["traceback"][-1].endswith("more lines cut\n")
    upstream = bound_output({"status": "ok", "data": {"text/plain": "abc"}}, 10_000, 7)
    assert upstream is not None and "7" in _note(upstream)  # what the capture already cut


def test_each_owner_has_its_own_password_and_the_token_is_the_admins() -> None:
    token = "engine-token"
    alpha, beta = owner_password(token, OWNER), owner_password(token, OTHER)
    assert len({alpha, beta, token, owner_password("other-token", OWNER)}) == 4

    def who(user: str, password: str) -> Any:
        return authenticate(token, basic_header(user, password)["Authorization"])

    assert who(OWNER, alpha) is not None and who(OWNER, alpha).name == OWNER
    assert not who(OWNER, alpha).admin
    assert who(OWNER, beta) is None and who(OTHER, alpha) is None
    assert who("anyone", token) is not None and who("anyone", token).admin
    assert who("a:b", owner_password(token, "a")) is None
    assert authenticate(token, "Bearer " + token) is None
    assert authenticate(token, "Basic !!!") is None
    with pytest.raises(ValueError):
        owner_password(token, "has:colon")


# -- with Spark ------------------------------------------------------------------------------


@pytest.mark.spark
def test_java_and_pyspark_are_available() -> None:
    assert engine_unavailable_reason() is None


@pytest.mark.spark
def test_requests_need_a_credential(livy: Livy, engines: tuple[EngineProcess, ...]) -> None:
    assert requests.get(livy.url + "/sessions", timeout=10).status_code == 401
    wrong = requests.get(livy.url + "/sessions", auth=("x", "wrong"), timeout=10)
    assert wrong.status_code == 401
    assert "credentials" in wrong.json()["msg"]
    assert livy.get("/sessions").status_code == 200
    # an owner's password is not another owner's, nor valid on another engine
    swapped = (OTHER, engines[0].owner_password(OWNER))
    assert requests.get(livy.url + "/sessions", auth=swapped, timeout=10).status_code == 401
    elsewhere = (OWNER, engines[1].owner_password(OWNER))
    assert requests.get(livy.url + "/sessions", auth=elsewhere, timeout=10).status_code == 401


# -- owners and the per-owner cap (stand-in session processes, no JVM) -------------------


@pytest.fixture
def stub_engine(loop: LoopThread, tmp_path: Path) -> Iterator[LivyEngine]:
    """The real engine over HTTP, whose sessions run a process that never starts Spark:
    they stay `starting`, which is what owners and caps are about."""
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nhead -c 50000 /dev/zero | tr '\\0' x\necho\nexec sleep 300\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    engine = LivyEngine(
        token="stub-token", python=str(python), max_sessions_per_owner=2, idle_timeout=0
    )
    loop.run(engine.start())
    yield engine
    loop.run(engine.stop())


class Caller:
    def __init__(self, engine: LivyEngine, user: str, password: str) -> None:
        assert engine.url
        self.url, self.auth = engine.url, (user, password)

    @classmethod
    def owner(cls, engine: LivyEngine, name: str) -> Caller:
        assert engine.token
        return cls(engine, name, owner_password(engine.token, name))

    def __call__(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, self.url + path, json=body, auth=self.auth, timeout=30)


ROUTES = [
    ("GET", "/sessions/{sid}"),
    ("GET", "/sessions/{sid}/state"),
    ("GET", "/sessions/{sid}/log"),
    ("GET", "/sessions/{sid}/statements"),
    ("POST", "/sessions/{sid}/statements"),
    ("GET", "/sessions/{sid}/statements/0"),
    ("POST", "/sessions/{sid}/statements/0/cancel"),
    ("DELETE", "/sessions/{sid}"),
]


@pytest.mark.spark
def test_another_owner_cannot_see_or_touch_a_session(stub_engine: LivyEngine) -> None:
    alpha, beta = Caller.owner(stub_engine, OWNER), Caller.owner(stub_engine, OTHER)
    admin = Caller(stub_engine, "emr-workspace", "stub-token")
    r = alpha("POST", "/sessions", {"kind": "pyspark"})
    assert r.status_code == 201 and r.json()["owner"] == OWNER, r.text
    sid = r.json()["id"]
    assert alpha("POST", f"/sessions/{sid}/statements", {"code": "1"}).status_code == 201
    assert beta("POST", "/sessions", {"kind": "pyspark"}).status_code == 201
    for method, route in ROUTES:
        mine = beta(method, route.format(sid=sid), {"code": "2"})
        missing = beta(method, route.format(sid=9999), {"code": "2"})
        assert mine.status_code == 404, (method, route, mine.text)
        assert mine.json()["msg"] == f"Session '{sid}' not found."
        assert missing.json()["msg"] == "Session '9999' not found."  # same answer
    theirs = beta("GET", "/sessions").json()
    assert (theirs["total"], [s["owner"] for s in theirs["sessions"]]) == (1, [OTHER])
    listing = alpha("GET", "/sessions").json()
    assert (listing["total"], [s["id"] for s in listing["sessions"]]) == (1, [sid])
    statements = alpha("GET", f"/sessions/{sid}/statements").json()
    assert [st["code"] for st in statements["statements"]] == ["1"]  # beta's never landed
    assert alpha("GET", f"/sessions/{sid}").json()["state"] == "starting"  # not deleted
    assert admin("GET", "/sessions").json()["total"] == 2  # the server's token sees all
    assert alpha("DELETE", f"/sessions/{sid}").status_code == 200


@pytest.mark.spark
def test_a_long_session_log_line_is_cut(stub_engine: LivyEngine) -> None:
    """Output written past the statement capture (to fd 1) lands in the kept session log."""
    alpha = Caller.owner(stub_engine, OWNER)
    sid = alpha("POST", "/sessions", {}).json()["id"]
    deadline = time.monotonic() + 30
    while not (
        lines := [
            x for x in alpha("GET", f"/sessions/{sid}/log").json()["log"] if x.startswith("xxx")
        ]
    ):
        assert time.monotonic() < deadline, "the session process printed nothing"
        time.sleep(0.1)
    assert lines == ["x" * 8192 + "... [41,808 characters cut]"]


@pytest.mark.spark
def test_sessions_per_owner_are_capped_with_a_clear_429(stub_engine: LivyEngine) -> None:
    alpha, beta = Caller.owner(stub_engine, OWNER), Caller.owner(stub_engine, OTHER)
    first, second = (alpha("POST", "/sessions", {}).json()["id"] for _ in range(2))
    refused = alpha("POST", "/sessions", {})
    assert refused.status_code == 429
    msg = refused.json()["msg"]
    assert refused.json()["error"]["code"] == "SessionLimitExceeded"
    assert f"'{OWNER}' already has 2 active Spark sessions ({first}, {second})" in msg
    assert "allows 2 per Workspace (c.Studio.local_engine_max_sessions)" in msg
    assert beta("POST", "/sessions", {}).status_code == 201  # the cap is per owner
    assert alpha("DELETE", f"/sessions/{first}").status_code == 200
    assert alpha("POST", "/sessions", {}).status_code == 201  # room again
    gamma = Caller.owner(stub_engine, "e-gamma")
    with ThreadPoolExecutor(6) as pool:  # racing posts cannot slip past the cap
        codes = sorted(pool.map(lambda _: gamma("POST", "/sessions", {}).status_code, range(6)))
    assert codes == [201, 201, 429, 429, 429, 429]


@pytest.mark.parametrize("kind", ["sparkr", "r"])
@pytest.mark.spark
def test_r_sessions_get_a_clear_400_naming_what_is_missing(livy: Livy, kind: str) -> None:
    r = livy.post("/sessions", {"kind": kind})
    assert r.status_code == 400
    assert f"kind '{kind}' needs R, which is not installed" in r.json()["msg"]


@pytest.mark.spark
def test_unknown_session_is_404(livy: Livy) -> None:
    r = livy.get("/sessions/9999")
    assert r.status_code == 404
    assert r.json()["msg"] == "Session '9999' not found."


@pytest.mark.spark
def test_count(livy: Livy, sid: int) -> None:
    assert text(livy.run(sid, "spark.range(100).count()")) == "100"


@pytest.mark.spark
def test_a_third_party_livy_client_reaches_only_its_owners_session(
    livy: Livy, sid: int, engines: tuple[EngineProcess, EngineProcess]
) -> None:
    """The PyPI `livy` client, as another tool would use the engine."""
    session = pypi_livy.LivySession(livy.url, sid, auth=livy.auth, echo=False)
    assert session.run("spark.range(6).count()").text == "6"
    other = pypi_livy.client.LivyClient(
        livy.url, auth=(OTHER, engines[0].owner_password(OTHER) or "")
    )
    assert other.get_session(sid) is None
    assert other.list_sessions() == []
    with pytest.raises(requests.HTTPError) as info:
        other.create_statement(sid, "1 + 1")
    assert info.value.response.status_code == 404


@pytest.mark.spark
def test_statement_output_over_the_limit_is_cut_with_a_note(livy: Livy, sid: int) -> None:
    st = livy.run(sid, f"print('x' * {3 * MAX_OUTPUT})")
    note = _note(st["output"])
    assert output_size(st["output"]) <= MAX_OUTPUT
    cut = int(note.split(" of ")[0].split(": ")[1].replace(",", ""))
    assert 2 * MAX_OUTPUT <= cut <= 3 * MAX_OUTPUT
    assert "(c.Studio.local_engine_max_output_chars)" in note
    assert text(livy.run(sid, "'small'")) == "'small'"  # the next statement is whole


@pytest.mark.spark
def test_the_engine_bounds_output_the_session_did_not(livy: Livy, sid: int) -> None:
    """User code can write to the session's socket itself: the engine cuts what it keeps."""
    code = (
        "import gc, sys\n"
        "channel = next(o for o in gc.get_objects() if type(o).__name__ == 'Channel')\n"
        "me = int(sys._getframe().f_code.co_filename.strip('<>').split('-')[1])\n"
        "channel.send({'event': 'result', 'id': me, 'state': 'available', 'output':"
        f" {{'status': 'ok', 'data': {{'text/plain': 'y' * {5 * MAX_OUTPUT}}}}}}})\n"
        "import time; time.sleep(1)"
    )
    st = livy.run(sid, code)
    assert st["state"] == "available"
    assert output_size(st["output"]) <= MAX_OUTPUT and "characters cut" in _note(st["output"])
    assert text(livy.run(sid, "40 + 2")) == "42"


@pytest.mark.spark
def test_print_and_stderr_are_captured(livy: Livy, sid: int) -> None:
    out = text(livy.run(sid, "import sys\nprint('hello')\nprint('oops', file=sys.stderr)\n1+1"))
    assert out.splitlines() == ["hello", "oops", "2"]


@pytest.mark.spark
def test_exception_is_an_error_output(livy: Livy, sid: int) -> None:
    st = livy.run(sid, "def f():\n    return 1/0\nf()")
    assert st["state"] == "error"
    out = st["output"]
    assert (out["status"], out["ename"], out["evalue"]) == (
        "error",
        "ZeroDivisionError",
        "division by zero",
    )
    assert "return 1/0" in "".join(out["traceback"])
    assert "worker.py" not in "".join(out["traceback"])


@pytest.mark.spark
def test_session_conf_reaches_spark(livy: Livy, sid: int) -> None:
    code = (
        "import os\n"
        "print(spark.conf.get('spark.sql.shuffle.partitions'))\n"
        "print(sc.getConf().get('spark.driver.memory'))\n"
        "print(sc.getConf().get('spark.driver.extraJavaOptions'))\n"
        "print(spark.conf.get('spark.sql.warehouse.dir'))\n"
        "print('EMR_WORKSPACE_LIVY_TOKEN' in os.environ)"
    )
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
    r = livy.post(f"/sessions/{sid}/statements", {"code": "1", "kind": "sparkr"})
    assert r.status_code == 400
    assert "needs R" in r.json()["msg"]
    r = livy.post(f"/sessions/{sid}/statements", {"code": "1", "kind": "cobol"})
    assert r.status_code == 400 and "use pyspark, spark or sql" in r.json()["msg"]


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
def test_worker_crash_kills_only_that_session(
    livy: Livy, sessions: dict[str, int], sid: int
) -> None:
    doomed = sessions["b"]
    assert livy.wait_session(doomed, {"idle", *FINAL_SESSION})["state"] == "idle"
    st = livy.run(doomed, "import os\nos._exit(1)")
    assert st["state"] == "error" and st["output"]["ename"] == "SessionDead"
    session = livy.wait_session(doomed, FINAL_SESSION)
    assert session["state"] == "dead"
    assert any("exited with code 1 while running statement 0" in line for line in session["log"])
    assert text(livy.run(sid, "1 + 1")) == "2"  # the others live on
    r = livy.post(f"/sessions/{doomed}/statements", {"code": "1"})
    assert r.status_code == 400 and "is dead" in r.json()["msg"]


@pytest.mark.spark
def test_idle_timeout_stops_the_session(
    engines: tuple[EngineProcess, EngineProcess], sessions: dict[str, int]
) -> None:
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


def test_info_names_the_sessions_owner_not_none(stub_engine: LivyEngine) -> None:
    """sparkmagic's %%info shows `proxyUser` when the key is there, even null: the engine
    leaves it out when nobody asked for one, so %%info shows the owner (the Workspace)."""
    alpha = Caller.owner(stub_engine, OWNER)
    r = alpha("POST", "/sessions", {"kind": "pyspark"})
    assert r.status_code == 201, r.text
    session = alpha("GET", f"/sessions/{r.json()['id']}").json()
    assert "proxyUser" not in session
    assert session.get("proxyUser", session.get("owner")) == OWNER  # sparkmagic's get_user
    asked = alpha("POST", "/sessions", {"kind": "pyspark", "proxyUser": "carol"})
    assert asked.json()["proxyUser"] == "carol"


def test_statement_progress_counts_stages_and_treats_skipped_ones_as_done() -> None:
    """`sparkProgress` from Spark's status tracker (a stand-in with pyspark's shapes): a
    stage with no task done while a later stage of its job runs was skipped, not pending."""
    from types import SimpleNamespace as NS

    from jupyter_emr_workspace.livy.progress import sample

    stages = {
        1: NS(numTasks=4, numCompletedTasks=0, numActiveTasks=0),  # skipped (cached shuffle)
        2: NS(numTasks=4, numCompletedTasks=1, numActiveTasks=2),
        3: NS(numTasks=2, numCompletedTasks=0, numActiveTasks=0),  # waits for stage 2
        4: NS(numTasks=2, numCompletedTasks=2, numActiveTasks=0),
    }
    jobs = {7: NS(stageIds=[3, 1, 2], status="RUNNING"), 8: NS(stageIds=[4], status="SUCCEEDED")}
    tracker = NS(
        getJobIdsForGroup=lambda group: [7, 8] if group == "livy-statement-5" else [],
        getJobInfo=jobs.get,
        getStageInfo=stages.get,
    )
    progress, info = sample(tracker, "livy-statement-5")
    assert info == {
        "jobs": 2,
        "jobsDone": 1,
        "stages": 4,
        "stagesDone": 2,
        "tasks": 12,
        "tasksDone": 3,
        "tasksRunning": 2,
    }
    assert progress == 0.25
    assert sample(tracker, "livy-statement-6") == (0.0, dict.fromkeys(info, 0))
