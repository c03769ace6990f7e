"""Interrupt latency: the stop button on a long Spark cell, vs a direct Livy cancel.

    python benchmarks/bench_interrupt.py [-n 20] [--code "spark.range(10**11).count()"]

Real parts: the embedded engine as its own process, the installed emr-pysparkkernel started
through jupyter_client in a Workspace folder (as in bench_sessions.py), the engine's own HTTP
API. Two Livy sessions on the one engine, each running the long statement in turn (the one
that goes first alternating each round, so background load hits both alike):

- *kernel*: the cell runs in the kernel; once the engine reports its Spark tasks running,
  the kernel is interrupted as JupyterLab's stop button does (`interrupt_kernel`: SIGINT
  to the kernel; sparkmagic turns it into `POST .../statements/{n}/cancel` and waits for
  the session to be idle);
- *direct*: the statement is posted to the engine directly and cancelled with
  `POST /sessions/{id}/statements/{n}/cancel` once its tasks run; the client polls every
  50 ms until it sees the statement `cancelled`.

Each run measures, from the interrupt (or the cancel request): when the engine ended the
statement (its `completed` time), when the last Spark job of the statement's job group
ended (the job's completion time in Spark's status store, read by a statement afterwards;
every job must have ended FAILED, i.e. cancelled), and when the client saw the end (the
kernel's `execute_reply`; the direct client's first `cancelled`). Prints p50/p95/max and
the kernel path's ratio to the direct one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import pct
from bench_sessions import SESSION, WORKSPACE, Bench

from jupyter_emr_workspace.livy import EngineProcess
from jupyter_emr_workspace.livy.progress import job_group

FINAL = ("available", "error", "cancelled")
#: a statement, run afterwards in the same session: the statement's jobs, as Spark recorded them
JOBS = """\
import json as _json
_store = sc._jsc.sc().statusStore()
_jobs = []
for _id in sc.statusTracker().getJobIdsForGroup({group!r}):
    _job = _store.job(_id)
    _end = _job.completionTime()
    _end = _end.get().getTime() if _end.isDefined() else None
    _jobs.append([_id, _job.status().toString(), _end])
print(_json.dumps(_jobs))
"""
MEASURES = ("statement cancelled", "Spark job group ended", "client sees the end")


class Livy:
    """The engine's API with the admin's credential (it sees every session)."""

    def __init__(self, engine: EngineProcess) -> None:
        self.url = engine.url or ""
        self.http = requests.Session()
        self.http.headers.update(engine.auth_header())

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, f"{self.url}{path}", timeout=30, **kw)
        r.raise_for_status()
        return r.json()

    def statement(self, sid: int, n: int) -> dict[str, Any]:
        return self.call("GET", f"/sessions/{sid}/statements/{n}")

    def tasks_running(self, sid: int, code: str, timeout: float = 300) -> int:
        """The id of the statement running ``code``, once its Spark tasks run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.call("GET", f"/sessions/{sid}/statements")["statements"][-1]
            if st["code"].strip() == code:  # sparkmagic adds a newline
                if st["state"] in FINAL:
                    raise RuntimeError(f"{code!r} ended before it was interrupted: make it longer")
                if (st.get("sparkProgress") or {}).get("tasksRunning"):
                    return int(st["id"])
            time.sleep(0.05)
        raise TimeoutError(f"{code!r} never ran Spark tasks")

    def run(self, sid: int, code: str, poll: float = 0.05) -> tuple[dict[str, Any], float]:
        """Run ``code`` to its end: (the statement, when the client saw it end)."""
        st = self.call("POST", f"/sessions/{sid}/statements", json={"code": code})
        return self.wait(sid, int(st["id"]), poll)

    def wait(self, sid: int, n: int, poll: float = 0.05) -> tuple[dict[str, Any], float]:
        while True:
            st = self.statement(sid, n)
            if st["state"] in FINAL:
                return st, time.time()
            time.sleep(poll)

    def jobs_end(self, sid: int, n: int) -> float:
        """When the last job of statement ``n``'s job group ended (epoch seconds)."""
        st, _ = self.run(sid, JOBS.format(group=job_group(n)))
        assert st["state"] == "available", st
        jobs = json.loads(st["output"]["data"]["text/plain"].strip().splitlines()[-1])
        if not jobs:
            raise RuntimeError(f"statement {n} of session {sid} ran no Spark job")
        unfinished = [j for j in jobs if j[1] != "FAILED" or j[2] is None]
        if unfinished:  # a job still running, or one that finished instead of being cancelled
            raise RuntimeError(f"session {sid}, statement {n}: jobs not cancelled: {unfinished}")
        return max(j[2] for j in jobs) / 1000


def kernel_run(bench_kc: Any, km: Any, livy: Livy, sid: int, code: str) -> dict[str, float]:
    msg_id = bench_kc.execute(code)
    n = livy.tasks_running(sid, code)
    start = time.time()
    km.interrupt_kernel()
    while True:
        reply = bench_kc.get_shell_msg(timeout=120)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    seen = time.time()
    ename = reply["content"].get("ename")
    if ename != "SparkStatementCancelledException":
        raise RuntimeError(f"the interrupted cell ended with {ename!r}: {reply['content']}")
    st = livy.statement(sid, n)
    if st["state"] != "cancelled":
        raise RuntimeError(f"the interrupted statement is {st['state']!r}: {st}")
    return {
        MEASURES[0]: st["completed"] / 1000 - start,
        MEASURES[1]: livy.jobs_end(sid, n) - start,
        MEASURES[2]: seen - start,
    }


def direct_run(livy: Livy, sid: int, code: str) -> dict[str, float]:
    livy.call("POST", f"/sessions/{sid}/statements", json={"code": code})
    n = livy.tasks_running(sid, code)
    start = time.time()
    livy.call("POST", f"/sessions/{sid}/statements/{n}/cancel")
    st, seen = livy.wait(sid, n)
    if st["state"] != "cancelled":
        raise RuntimeError(f"the cancelled statement is {st['state']!r}: {st}")
    return {
        MEASURES[0]: st["completed"] / 1000 - start,
        MEASURES[1]: livy.jobs_end(sid, n) - start,
        MEASURES[2]: seen - start,
    }


def direct_session(engine: EngineProcess, livy: Livy) -> int:
    """A session of the Workspace's own, made as any Livy client makes one."""
    auth = engine.sparkmagic_auth(WORKSPACE)
    body = {"kind": "pyspark", "name": "bench-direct", **SESSION}
    r = requests.post(
        f"{livy.url}/sessions", json=body, auth=(auth["username"], auth["password"]), timeout=30
    )
    r.raise_for_status()
    sid = int(r.json()["id"])
    deadline = time.monotonic() + 300
    while (state := livy.call("GET", f"/sessions/{sid}")["state"]) != "idle":
        if state in ("dead", "error", "killed") or time.monotonic() > deadline:
            raise RuntimeError(f"the direct session is {state}")
        time.sleep(0.2)
    return sid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="interrupts of each kind (20)")
    parser.add_argument("--code", default="spark.range(10**11).count()", help="the long cell")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(120)

    engine = EngineProcess(idle_timeout=0)
    run(engine.start())
    loads = [os.getloadavg()[0]]
    began = time.monotonic()
    results: dict[str, list[dict[str, float]]] = {"kernel": [], "direct": []}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EMR_WORKSPACE_KERNEL_REGISTRY"] = str(Path(tmp) / "kernels.json")
        os.environ.pop("SPARKMAGIC_CONF_DIR", None)
        bench = Bench(Path(tmp), engine)
        livy = Livy(engine)
        try:
            bench.configure(early=True)
            km, kc = bench.kernel(bench.new_notebook())
            try:
                bench.timed(kc)  # the session is up and has run a job
                (session,) = livy.call("GET", "/sessions")["sessions"]
                kernel_sid = int(session["id"])
                direct_sid = direct_session(engine, livy)
                livy.run(direct_sid, "spark.range(10).count()")
                for i in range(args.n):
                    kinds = ["kernel", "direct"] if i % 2 == 0 else ["direct", "kernel"]
                    for kind in kinds:
                        if kind == "kernel":
                            took = kernel_run(kc, km, livy, kernel_sid, args.code)
                        else:
                            took = direct_run(livy, direct_sid, args.code)
                        results[kind].append(took)
                        loads.append(os.getloadavg()[0])
                    print(
                        f"round {i + 1}: "
                        + ", ".join(
                            f"{k} {results[k][-1][MEASURES[2]]:.2f} s" for k in ("kernel", "direct")
                        ),
                        file=sys.stderr,
                    )
            finally:
                bench.close(km, kc)
        finally:
            run(engine.stop())
    print(
        f"{os.cpu_count()} CPUs, load average {min(loads):.1f}-{max(loads):.1f} "
        f"(1-minute, sampled each run), Python {sys.version.split()[0]}, {args.n} interrupts "
        f"of each kind of `{args.code}`, {time.monotonic() - began:.0f} s in all\n"
    )
    print(
        "| seconds from the interrupt to | kernel p50 | p95 | max "
        "| direct cancel p50 | p95 | max | kernel / direct (p50) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for measure in MEASURES:
        cells, p50 = [], {}
        for kind in ("kernel", "direct"):
            values = [r[measure] for r in results[kind]]
            p50[kind] = pct(values, 0.5)
            cells += [f"{pct(values, q) / 1000:.2f}" for q in (0.5, 0.95)] + [f"{max(values):.2f}"]
        print(f"| {measure} | {' | '.join(cells)} | {p50['kernel'] / p50['direct']:.2f}x |")


if __name__ == "__main__":
    main()
