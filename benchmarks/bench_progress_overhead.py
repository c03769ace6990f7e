"""Overhead of statement progress reporting in the embedded engine, on a 1,000-statement loop.

    python benchmarks/bench_progress_overhead.py [-n 1000] [--code "spark.range(1000).count()"]

Three engines, each with one pyspark session, differ only in how often the session samples
the running statement's Spark jobs (`EMR_WORKSPACE_LIVY_PROGRESS_INTERVAL`): never (0, the
baseline), every second (the default), and every 50 ms (20 times more often, to show what
a sample costs). The statements are run interleaved (one on each engine in turn, the
engine that goes first rotating each round, so background load hits all alike) by a
client that polls every 2 ms. Prints the total and p50/p95 per engine and the overhead
against the baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import pct
from bench_livy_overhead import Engine

from jupyter_emr_workspace.livy.worker import PROGRESS_INTERVAL_ENV

SETTINGS = {"off (baseline)": "0", "every 1 s (default)": "1.0", "every 50 ms": "0.05"}


def start(interval: str, poll: float) -> Engine:
    os.environ[PROGRESS_INTERVAL_ENV] = interval
    try:
        return Engine(poll)
    finally:
        del os.environ[PROGRESS_INTERVAL_ENV]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="statements per engine (1000)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured first runs (30)")
    parser.add_argument("--code", default="spark.range(1000).count()", help="the statement")
    parser.add_argument("--poll", type=float, default=0.002, help="GET interval, s (0.002)")
    parser.add_argument(
        "--aa", action="store_true", help="add a second engine without sampling, started last"
    )
    args = parser.parse_args()
    settings = {**SETTINGS, **({"off (second baseline, started last)": "0"} if args.aa else {})}
    engines = {label: start(value, args.poll) for label, value in settings.items()}
    times: dict[str, list[float]] = {label: [] for label in engines}
    began = time.monotonic()
    try:
        labels = list(engines)
        for i in range(args.warmup + args.n):
            turn = i % len(labels)  # each engine first in turn: no one is always first
            for label in labels[turn:] + labels[:turn]:
                took = engines[label].run(args.code)
                if i >= args.warmup:
                    times[label].append(took)
    finally:
        for engine in engines.values():
            engine.close()
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python "
        f"{sys.version.split()[0]}, {args.n} statements `{args.code}` per engine after "
        f"{args.warmup} warm-up runs, client polls every {args.poll * 1000:g} ms, "
        f"{time.monotonic() - began:.0f} s in all\n"
    )
    print("| progress sampling | loop total | p50 / p95 per statement | overhead (total) |")
    print("|---|---:|---:|---:|")
    base = sum(times["off (baseline)"])
    for label, values in times.items():
        total = sum(values)
        print(
            f"| {label} | {total:.2f} s | {pct(values, 0.5):.1f} / {pct(values, 0.95):.1f} ms "
            f"| {(total / base - 1) * 100:+.1f}% |"
        )


if __name__ == "__main__":
    main()
