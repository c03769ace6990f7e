"""Side doors of the embedded Livy engine, tried over real HTTP against a real engine.

The sessions run a stand-in session process (no JVM): it speaks the engine's socket
protocol as user code in a real session can (user code runs in that process and can write
to the socket), so what it sends is what an attacker's statement could send.
"""

from __future__ import annotations

import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from emrws_testing.loop_thread import LoopThread

from jupyter_emr_workspace.livy import LivyEngine
from jupyter_emr_workspace.livy.credentials import check_owner, owner_password
from jupyter_emr_workspace.livy.output import bound_output, output_size

OWNER = "e-alpha"
LIMIT = 10_000

#: A session process that is ready at once and answers every statement with the output
#: its code names (as JSON): what user code writing to the session socket can send.
STAND_IN = """
import json, socket, sys
fd = int(sys.argv[sys.argv.index("--fd") + 1])
sock = socket.socket(fileno=fd)
rfile = sock.makefile("rb")
def send(message):
    sock.sendall((json.dumps(message) + "\\n").encode())
rfile.readline()  # init
send({"event": "ready", "app_id": "local-stand-in", "spark_ui_url": None, "pid": 0})
for line in rfile:
    op = json.loads(line)
    if op.get("op") == "exec":
        send({"event": "started", "id": op["id"]})
        output = eval(op["code"])
        send({"event": "result", "id": op["id"], "state": "available", "output": output})
    elif op.get("op") == "shutdown":
        break
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[LivyEngine]:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    loop = LoopThread()
    engine = LivyEngine(
        token="attack-token", python=str(python), idle_timeout=0, max_output_chars=LIMIT
    )
    loop.run(engine.start())
    try:
        yield engine
    finally:
        loop.run(engine.stop())
        loop.close()


def call(engine: LivyEngine, method: str, path: str, body: Any = None) -> requests.Response:
    assert engine.url and engine.token
    auth = (OWNER, owner_password(engine.token, OWNER))
    return requests.request(method, engine.url + path, json=body, auth=auth, timeout=30)


def run_statement(engine: LivyEngine, sid: int, code: str) -> dict[str, Any]:
    r = call(engine, "POST", f"/sessions/{sid}/statements", {"code": code})
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    while True:
        st = call(engine, "GET", f"/sessions/{sid}/statements/{r.json()['id']}").json()
        if st["state"] in ("available", "error", "cancelled"):
            return st  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, st
        time.sleep(0.05)


def idle_session(engine: LivyEngine) -> int:
    sid = int(call(engine, "POST", "/sessions", {"kind": "pyspark"}).json()["id"])
    deadline = time.monotonic() + 30
    while call(engine, "GET", f"/sessions/{sid}/state").json()["state"] != "idle":
        assert time.monotonic() < deadline, call(engine, "GET", f"/sessions/{sid}/log").text
        time.sleep(0.05)
    return sid


HUGE = "9" * 5000  # more digits than Python turns into an int


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", f"/sessions/{HUGE}"),
        ("DELETE", f"/sessions/{HUGE}"),
        ("GET", f"/sessions/{HUGE}/state"),
        ("GET", f"/sessions/{HUGE}/log"),
        ("GET", f"/sessions/{HUGE}/statements"),
        ("POST", f"/sessions/{HUGE}/statements"),
        ("GET", f"/sessions/{HUGE}/statements/0"),
        ("GET", f"/sessions/0/statements/{HUGE}"),
        ("POST", f"/sessions/0/statements/{HUGE}/cancel"),
    ],
)
def test_an_id_too_long_for_an_int_is_not_found_not_a_500(
    engine: LivyEngine, method: str, path: str
) -> None:
    r = call(engine, method, path, {"code": "1"})
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] in ("SessionNotFound", "StatementNotFound")


@pytest.mark.parametrize("query", ["from=-1", "size=-1", "from=-5&size=2"])
def test_negative_paging_of_sessions_and_statements_is_a_400(
    engine: LivyEngine, query: str
) -> None:
    sid = idle_session(engine)
    run_statement(engine, sid, "{'status': 'ok', 'data': {'text/plain': 'a'}}")
    for path in ("/sessions", f"/sessions/{sid}/statements"):
        r = call(engine, "GET", f"{path}?{query}")
        assert r.status_code == 400, (path, r.text)
        assert "must not be negative" in r.json()["msg"]


#: Outputs whose weight hides outside `data["text/plain"]`, `evalue` and a list traceback.
FORGED = {
    "ename": "{'status': 'error', 'ename': 'E' * 200_000, 'evalue': 'v', 'traceback': []}",
    "extra key": "{'status': 'ok', 'data': {'text/plain': 'x'}, 'extra': 'x' * 200_000}",
    "string traceback": "{'status': 'error', 'ename': 'E', 'traceback': 't' * 200_000}",
    "nested traceback": "{'status': 'error', 'ename': 'E', 'traceback': [['t' * 200_000]]}",
    "mime names": "{'status': 'ok', 'data': {('m' * 5_000) + str(i): 1 for i in range(100)}}",
    "data not a dict": "{'status': 'ok', 'data': ['d' * 200_000]}",
    "execution_count": "{'status': 'ok', 'execution_count': 'c' * 200_000, 'data': {}}",
}


@pytest.mark.parametrize("name", list(FORGED))
def test_a_statement_keeps_at_most_the_limit_whatever_field_its_output_is_in(
    engine: LivyEngine, name: str
) -> None:
    sid = idle_session(engine)
    output = run_statement(engine, sid, FORGED[name])["output"]
    assert output_size(output) <= LIMIT, (name, output_size(output))
    assert "output truncated by the local Spark engine" in output["data"]["text/plain"]


def test_an_exception_class_with_a_huge_name_is_cut_by_the_session_bound() -> None:
    """What the real session process builds for `raise type('E' * 10**6, (Exception,), {})()`."""
    output = {
        "status": "error",
        "execution_count": 1,
        "ename": "E" * 1_000_000,
        "evalue": "",
        "traceback": ["Traceback (most recent call last):\n", "E" * 1_000_000 + "\n"],
    }
    cut = bound_output(output, LIMIT)
    assert cut is not None and output_size(cut) <= LIMIT
    assert cut["status"] == "error" and cut["ename"].startswith("EEE")


def test_an_owner_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        check_owner("e-alpha\n")


def test_the_session_cap_counts_every_kind_and_the_admins_sessions_for_an_owner(
    engine: LivyEngine,
) -> None:
    """No kind, spelling of a kind, or admin-made session for the owner slips past the cap."""
    assert engine.token
    for kind in ("pyspark", "sql", "PySpark"):
        assert call(engine, "POST", "/sessions", {"kind": kind}).status_code == 201
    admin = requests.post(  # the server's token, naming the owner as its user
        f"{engine.url}/sessions", json={"kind": "sql"}, auth=(OWNER, engine.token), timeout=30
    )
    assert admin.status_code == 201 and admin.json()["owner"] == OWNER, admin.text
    for kind in ("python", "pyspark", "sql"):
        r = call(engine, "POST", "/sessions", {"kind": kind})
        assert r.status_code == 429, (kind, r.text)
        assert r.json()["error"]["code"] == "SessionLimitExceeded"
