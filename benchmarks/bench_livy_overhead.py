"""Statement round-trip overhead of the embedded Livy engine vs the same PySpark code in-process.

    python benchmarks/bench_livy_overhead.py [-n 50] [--poll 0.002]

Same machine, same run, same Spark settings (local[*], the engine's fast JVM flags, no UI).
In-process: the statement's code is compiled and run against a SparkSession in this process.
Engine: POST the statement, then poll GET every `--poll` seconds until it is available (a
client that polls slower, such as sparkmagic at 1 s and more, adds its own wait on top).
Prints a markdown table of p50/p95 in milliseconds and the engine/in-process ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import pct

from jupyter_emr_workspace.livy.launch import FAST_JVM_FLAGS
from jupyter_emr_workspace.livy.server import READY_PREFIX

STATEMENTS = {"trivial `1+1`": "1+1", "`spark.range(10**6).count()`": "spark.range(10**6).count()"}
SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": FAST_JVM_FLAGS,
}


class InProcess:
    """The baseline: the statement's code evaluated against a SparkSession in this process."""

    def __init__(self) -> None:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.master("local[*]").appName("bench-in-process")
        for key, value in SPARK_CONF.items():
            builder = builder.config(key, value)
        self.spark = builder.getOrCreate()
        self.namespace: dict[str, Any] = {"spark": self.spark, "sc": self.spark.sparkContext}

    def run(self, code: str) -> float:
        compiled = compile(code, "<bench>", "eval")
        start = time.perf_counter()
        eval(compiled, self.namespace)
        return time.perf_counter() - start


class Engine:
    """The embedded engine in a child process, one pyspark session, a polling client."""

    def __init__(self, poll: float) -> None:
        self.poll = poll
        env = {k: v for k, v in os.environ.items() if k != "EMR_WORKSPACE_LIVY_TOKEN"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_emr_workspace.livy",
                "--port",
                "0",
                "--idle-timeout",
                "0",
                "--log-level",
                "WARNING",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith(READY_PREFIX):
            raise SystemExit(f"the engine did not start: {line!r}")
        self.url = line[len(READY_PREFIX) :].strip()
        self.http = requests.Session()
        body = {"kind": "pyspark", "conf": SPARK_CONF}
        self.sid = self.http.post(f"{self.url}/sessions", json=body, timeout=30).json()["id"]
        while self.http.get(f"{self.url}/sessions/{self.sid}", timeout=30).json()["state"] != (
            "idle"
        ):
            time.sleep(0.1)
        self.server_side: list[float] = []

    def run(self, code: str) -> float:
        base = f"{self.url}/sessions/{self.sid}/statements"
        start = time.perf_counter()
        st = self.http.post(base, json={"code": code}, timeout=30).json()
        while st["state"] not in ("available", "error", "cancelled"):
            time.sleep(self.poll)
            st = self.http.get(f"{base}/{st['id']}", timeout=30).json()
        elapsed = time.perf_counter() - start
        if st["state"] != "available":
            raise SystemExit(f"statement failed: {st}")
        self.server_side.append((st["completed"] - st["started"]) / 1000)
        return elapsed

    def close(self) -> None:
        self.http.delete(f"{self.url}/sessions/{self.sid}", timeout=60)
        self.proc.terminate()
        self.proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="measured repetitions (50)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured first runs (20)")
    parser.add_argument("--poll", type=float, default=0.002, help="GET interval, s (0.002)")
    args = parser.parse_args()
    local, remote = InProcess(), Engine(args.poll)
    rows = []
    try:
        for label, code in STATEMENTS.items():
            a: list[float] = []
            b: list[float] = []
            remote.server_side = []
            for i in range(args.warmup + args.n):  # interleaved: both see the same load
                ta, tb = local.run(code), remote.run(code)
                if i >= args.warmup:
                    a.append(ta)
                    b.append(tb)
            server = remote.server_side[args.warmup :]
            rows.append((label, a, b, server))
    finally:
        remote.close()
        local.spark.stop()
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python "
        f"{sys.version.split()[0]}, n={args.n} after {args.warmup} warm-up runs, "
        f"client polls every {args.poll * 1000:g} ms\n"
    )
    print(
        "| statement | in-process p50 / p95 | engine round trip p50 / p95 "
        "| engine worker-side p50 | overhead p50 | ratio p50 |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, a, b, server in rows:
        a50, b50 = pct(a, 0.5), pct(b, 0.5)
        ratio = f"{b50 / a50:.1f}x" if a50 >= 1 else "n/a (baseline < 1 ms)"
        print(
            f"| {label} | {a50:.3f} / {pct(a, 0.95):.3f} ms | {b50:.1f} / {pct(b, 0.95):.1f} ms "
            f"| {pct(server, 0.5):.0f} ms | {b50 - a50:+.1f} ms | {ratio} |"
        )
    mean = statistics.mean(rows[0][2]) * 1000
    print(
        f"\nengine round trip for a trivial statement: mean {mean:.1f} ms "
        "(HTTP POST + GETs, socket to the session process, exec, result)"
    )


if __name__ == "__main__":
    main()
