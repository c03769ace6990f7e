"""Overhead of a notebook execution over running the same notebook interactively, on the
same embedded engine, and a runner's throughput on short executions.

    python benchmarks/bench_executions.py [-n 3] [--queue 10] [--concurrency 2]

Interactive: what a user does: start the Workspace's `emr-pysparkkernel` (the provisioner
finds the sparkmagic config by the kernel's folder), run every cell, shut the kernel down
(sparkmagic deletes its Livy session). Execution: submit the notebook (record + snapshot in
a folder store), a runner claims it, injects the parameters, runs it with the same kernel
and config, writes the executed notebook, ends it FINISHED. Both include the Spark session
start (a JVM), which dominates. The two alternate, run by run, so background load hits both.
Then `--queue` executions are queued at once and one runner with `--concurrency` slots
drains them: executions per minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_emr_workspace.compute.model import LivyEndpoint
from jupyter_emr_workspace.executions.model import Execution, new_execution_id, utcnow_iso
from jupyter_emr_workspace.executions.notebook import NotebookExecutor
from jupyter_emr_workspace.executions.records import ExecutionStore
from jupyter_emr_workspace.executions.runner import Runner
from jupyter_emr_workspace.kernels import register_workspace_conf, unregister_workspace_conf
from jupyter_emr_workspace.kernels.sparkmagic_config import write_sparkmagic_config
from jupyter_emr_workspace.layout import Layout
from jupyter_emr_workspace.livy import EngineProcess
from jupyter_emr_workspace.store.local import LocalStore

WORKSPACE = "e-" + "B" * 25
SESSION = {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}}
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


def runner_for(engine: EngineProcess, store: LocalStore, concurrency: int) -> Runner:
    records = ExecutionStore(store, Layout("es-bench"))

    async def resolve(ex: Execution) -> tuple[LivyEndpoint, dict[str, Any]]:
        return LivyEndpoint(url=engine.url or "", **engine.sparkmagic_auth(WORKSPACE)), SESSION

    executor = NotebookExecutor(records.snapshot, store, store.uri, resolve)
    return Runner(records, executor, "bench", poll_seconds=0.2, concurrency=concurrency)


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


async def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    base = Path(tempfile.mkdtemp(prefix="bench-executions-"))
    os.environ["EMR_WORKSPACE_KERNEL_REGISTRY"] = str(base / "kernels.json")
    engine = EngineProcess(idle_timeout=0)
    await engine.start()
    store = LocalStore(str(base / "store"))
    try:
        runner = runner_for(engine, store, 1)
        await interactive(engine, base)  # warm-up: imports, kernelspec lookups, page cache
        await execution(runner)
        pairs = []
        for _ in range(args.n):
            pairs.append((await interactive(engine, base), await execution(runner)))
        inter = statistics.median(p[0] for p in pairs)
        execd = statistics.median(p[1] for p in pairs)
        print(f"load average: {os.getloadavg()}")
        print("| runs | interactive p50 | execution p50 | overhead | ratio |")
        print("|---:|---:|---:|---:|---:|")
        print(f"| {args.n} | {inter:.2f} s | {execd:.2f} s | {execd - inter:+.2f} s | "
              f"{execd / inter:.2f}x |")  # fmt: skip
        print("runs:", json.dumps([[round(a, 2), round(b, 2)] for a, b in pairs]))
        if args.queue:
            runner = runner_for(engine, store, args.concurrency)
            ids = [await submit(runner) for _ in range(args.queue)]
            start = time.perf_counter()
            runner.start()
            while True:
                done = [await runner.records.get(i) for i in ids]
                if all(e.final for e in done):
                    break
                await asyncio.sleep(0.5)
            took = time.perf_counter() - start
            await runner.stop()
            ok = sum(e.status == "FINISHED" for e in done)
            rate = 60 * args.queue / took
            print(f"throughput: {args.queue} queued, {ok} FINISHED in {took:.1f} s with "
                  f"{args.concurrency} slots: {rate:.1f} executions/min")  # fmt: skip
    finally:
        await engine.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--queue", type=int, default=10, help="queued executions to drain")
    parser.add_argument("--concurrency", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
