"""Overhead of a notebook execution over running the same notebook interactively, on the
same embedded engine, and a runner's throughput on short executions.

    python benchmarks/bench_executions.py [-n 5] [--queue 50] [--concurrency 2]

Interactive: what a user does: start the Workspace's `emr-pysparkkernel` (the provisioner
finds the sparkmagic config by the kernel's folder), run every cell, shut the kernel down
(sparkmagic deletes its Livy session). Execution: submit the notebook (record + snapshot in
a folder store), a runner claims it, injects the parameters, runs it with the same kernel
and config, writes the executed notebook, ends it FINISHED. Both include the Spark session
start (a JVM), which dominates. The two alternate, run by run, so background load hits both.
Then `--queue` executions are queued at once and one runner with `--concurrency` slots
(the default `c.Studio.execution_concurrency`, and a plain install's poll, heartbeat and
claim timeout) drains them: time to drain, executions per
minute, each execution's phases from its record's history, the slot time spent between
executions (the runner's own overhead) and the Livy sessions left on the engine (none).
The 1-minute load average is printed with each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nbformat
import requests
from _common import pct
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_emr_workspace.compute.model import LivyEndpoint
from jupyter_emr_workspace.executions.model import (
    FINISHED,
    FINISHING,
    RUNNING,
    STARTING,
    Execution,
    duration,
    new_execution_id,
    parse_time,
    utcnow_iso,
)
from jupyter_emr_workspace.executions.notebook import NotebookExecutor
from jupyter_emr_workspace.executions.records import ExecutionStore
from jupyter_emr_workspace.executions.runner import Runner
from jupyter_emr_workspace.executions.settings import ExecutionSettings
from jupyter_emr_workspace.kernels import register_workspace_conf, unregister_workspace_conf
from jupyter_emr_workspace.kernels.sparkmagic_config import write_sparkmagic_config
from jupyter_emr_workspace.layout import Layout
from jupyter_emr_workspace.livy import EngineProcess
from jupyter_emr_workspace.store.local import LocalStore

WORKSPACE = "e-" + "B" * 25
SESSION = {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}}
#: an execution's phases in order, and what each phase is (the phase ends at the next status)
PHASES = (STARTING, RUNNING, FINISHING, FINISHED)
PHASE_LABELS = (
    "queued: submitted to claimed",
    "starting: claimed to kernel started",
    "running: the cells, Spark session start included",
    "finishing: output written, session deleted",
)
#: a plain install's c.Studio.execution_* settings
DEFAULTS = ExecutionSettings()
ENDED = ("dead", "error", "killed", "success")
CELLS = ["n = 1", "spark.range(n).count()", "spark.range(10**6).selectExpr('sum(id)').collect()"]


def the_notebook() -> Any:
    cells = [new_code_cell(c) for c in CELLS]
    cells[0].metadata["tags"] = ["parameters"]
    spec = {"name": "emr-pysparkkernel", "display_name": "PySpark", "language": "python"}
    return new_notebook(cells=cells, metadata={"kernelspec": spec})


async def interactive(engine: EngineProcess, base: Path) -> float:
    from jupyter_client.manager import AsyncKernelManager

    folder = Path(tempfile.mkdtemp(dir=base))
    conf = folder / ".conf"
    write_sparkmagic_config(
        conf, engine.url or "", session_settings=SESSION, **engine.sparkmagic_auth(WORKSPACE)
    )
    register_workspace_conf(folder, conf)
    start = time.perf_counter()
    km = AsyncKernelManager(kernel_name="emr-pysparkkernel")
    await km.start_kernel(cwd=str(folder))
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        for code in ["n = 42", *CELLS[1:]]:
            reply = await kc.execute_interactive(code, timeout=300, output_hook=lambda m: None)
            assert reply["content"]["status"] == "ok", reply
    finally:
        kc.stop_channels()
        await km.shutdown_kernel()
        unregister_workspace_conf(folder)
    return time.perf_counter() - start


def runner_for(
    engine: EngineProcess, store: LocalStore, concurrency: int, poll_seconds: float = 0.2
) -> Runner:
    """``poll_seconds``: the throughput run takes a plain install's (a slot freed must be
    taken without waiting for the next look); the overhead runs poll by hand."""
    records = ExecutionStore(store, Layout("es-bench"))

    async def resolve(ex: Execution) -> tuple[LivyEndpoint, dict[str, Any]]:
        return LivyEndpoint(url=engine.url or "", **engine.sparkmagic_auth(WORKSPACE)), SESSION

    executor = NotebookExecutor(records.snapshot, store, store.uri, resolve)
    return Runner(
        records,
        executor,
        "bench",
        poll_seconds=poll_seconds,
        heartbeat_seconds=DEFAULTS.execution_heartbeat_seconds,
        claim_timeout=DEFAULTS.execution_claim_timeout,
        concurrency=concurrency,
    )


async def submit(runner: Runner) -> str:
    ex = Execution(
        id=new_execution_id(),
        workspace_id=WORKSPACE,
        relative_path="bench.ipynb",
        name="bench",
        created_by="bench",
        created_at=utcnow_iso(),
        parameters={"n": 42},
    )
    await runner.records.create(ex, nbformat.writes(the_notebook()).encode())
    return ex.id


async def execution(runner: Runner) -> float:
    start = time.perf_counter()
    eid = await submit(runner)
    await runner.poll_once()
    await asyncio.gather(*runner.tasks.values())
    ex = await runner.records.get(eid)
    assert ex.status == "FINISHED", ex
    return time.perf_counter() - start


def phases(ex: Execution) -> dict[str, float]:
    """Seconds in each of an execution's phases, from its record's own history."""
    at = phase_times(ex)
    marks = [("queued", ex.created_at), *((s, at.get(s)) for s in PHASES)]
    out = {}
    for (name, begin), (_, end) in itertools.pairwise(marks):
        took = duration(begin, end)
        if took is not None:
            out[name] = took
    return out


def claim_gaps(done: list[Execution], slots: int) -> list[float]:
    """For each execution claimed once the first ``slots`` ran: seconds from the last end
    before its claim (the slot it took freeing) to the claim: the runner's own delay."""
    times = [(phase_times(e)[STARTING], phase_times(e)[FINISHED]) for e in done]
    starts = sorted(parse_time(s, "s").timestamp() for s, _ in times)
    ends = sorted(parse_time(e, "e").timestamp() for _, e in times)
    gaps = []
    for start in starts[slots:]:
        before = [e for e in ends if e <= start]
        if before:
            gaps.append(start - before[-1])
    return gaps


def phase_times(ex: Execution) -> dict[str, str]:
    """When the execution first entered each status."""
    at: dict[str, str] = {}
    for event in ex.events:
        at.setdefault(event["status"], event["time"])
    return at


def load() -> float:
    return os.getloadavg()[0]


def load_range(samples: list[float]) -> str:
    return f"{min(samples):.1f}-{max(samples):.1f}"


async def live_sessions(engine: EngineProcess) -> list[dict[str, Any]]:
    """The engine's sessions not yet ended: an execution must leave none behind."""

    def get() -> list[dict[str, Any]]:
        r = requests.get(f"{engine.url}/sessions", headers=engine.auth_header(), timeout=30)
        r.raise_for_status()
        return [s for s in r.json()["sessions"] if s["state"] not in ENDED]

    return await asyncio.to_thread(get)


async def overhead(engine: EngineProcess, store: LocalStore, base: Path, n: int) -> None:
    runner = runner_for(engine, store, 1)
    await interactive(engine, base)  # warm-up: imports, kernelspec lookups, page cache
    await execution(runner)
    pairs, loads = [], [load()]
    for i in range(n):
        # alternate which goes first, so a load that rises or falls hits both alike
        if i % 2 == 0:
            pair = (await interactive(engine, base), await execution(runner))
        else:
            ex = await execution(runner)
            pair = (await interactive(engine, base), ex)
        pairs.append(pair)
        loads.append(load())
        print(f"pair {i + 1}: interactive {pair[0]:.2f} s, execution {pair[1]:.2f} s, "
              f"load {loads[-1]:.1f}", file=sys.stderr)  # fmt: skip
    inter = statistics.median(p[0] for p in pairs)
    execd = statistics.median(p[1] for p in pairs)
    ratios = [b / a for a, b in pairs]
    print(f"\n### Overhead: {n} pairs, load average {load_range(loads)} (1-minute, each pair)\n")
    print("| interactive p50 | execution p50 | overhead p50 | ratio of p50s | ratio per pair: "
          "p50 (min-max) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|")
    print(f"| {inter:.2f} s | {execd:.2f} s | {execd - inter:+.2f} s | {execd / inter:.2f}x | "
          f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |")  # fmt: skip
    print(
        "\nruns (interactive, execution):",
        json.dumps([[round(a, 2), round(b, 2)] for a, b in pairs]),
    )


async def throughput(engine: EngineProcess, store: LocalStore, queue: int, slots: int) -> None:
    runner = runner_for(engine, store, slots, DEFAULTS.execution_poll_seconds)
    ids = [await submit(runner) for _ in range(queue)]
    loads = [load()]
    start = time.perf_counter()
    runner.start()
    done: list[Execution] = []
    next_sample = start + 30
    while True:
        done = [await runner.records.get(i) for i in ids]
        if all(e.final for e in done):
            break
        if time.perf_counter() >= next_sample:
            loads.append(load())
            next_sample += 30
            ended = sum(e.final for e in done)
            print(f"{ended}/{queue} ended after {time.perf_counter() - start:.0f} s, "
                  f"load {loads[-1]:.1f}", file=sys.stderr)  # fmt: skip
        await asyncio.sleep(0.5)
    took = time.perf_counter() - start
    loads.append(load())
    await runner.stop()
    left = await live_sessions(engine)
    by_status = collections.Counter(e.status for e in done)
    ok = sum(e.status == "FINISHED" for e in done)
    busy = [sum(v for k, v in phases(e).items() if k != "queued") for e in done]
    gaps = claim_gaps(done, slots)
    print(f"\n### Throughput: {queue} executions queued at once, one runner with {slots} slots, "
          f"load average {load_range(loads)} (1-minute, every 30 s)\n")  # fmt: skip
    print("| queue drained | executions/min | FINISHED | one execution, claim to end: p50 "
          "(p95) | a slot freed to the next claim: p50 (max) | slots busy | Livy sessions "
          "left |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {took:.1f} s | {60 * queue / took:.1f} | {ok}/{queue} | "
          f"{pct(busy, 0.5) / 1000:.2f} s ({pct(busy, 0.95) / 1000:.2f} s) | "
          f"{pct(gaps or [0.0], 0.5):.0f} ms ({max(gaps, default=0) * 1000:.0f} ms) | "
          f"{sum(busy) / (slots * took):.0%} | {len(left)} |")  # fmt: skip
    print("\n| phase (from the record's history) | p50 | p95 | max |\n|---|---:|---:|---:|")
    names = ["queued", *PHASES[:-1]]
    labels = dict(zip(names, PHASE_LABELS, strict=True))
    for name in names:
        values = [p[name] for p in map(phases, done) if name in p]
        if values:
            print(f"| {labels[name]} | {pct(values, 0.5) / 1000:.2f} s | "
                  f"{pct(values, 0.95) / 1000:.2f} s | {max(values):.2f} s |")  # fmt: skip
    if ok < queue:
        print(f"\nNOT FINISHED: {by_status}; reasons:",
              {e.id: e.reason for e in done if e.status != "FINISHED"})  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    base = Path(tempfile.mkdtemp(prefix="bench-executions-"))
    os.environ["EMR_WORKSPACE_KERNEL_REGISTRY"] = str(base / "kernels.json")
    engine = EngineProcess(idle_timeout=0)
    await engine.start()
    store = LocalStore(str(base / "store"))
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, notebook: {CELLS}")
    try:
        if args.n:
            await overhead(engine, store, base, args.n)
        if args.queue:
            await throughput(engine, store, args.queue, args.concurrency)
    finally:
        await engine.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5, help="alternating runs of each (0: skip)")
    parser.add_argument("--queue", type=int, default=50, help="queued executions (0: skip)")
    parser.add_argument("--concurrency", type=int, default=2, help="the runner's slots (2)")
    asyncio.run(main(parser.parse_args()))
