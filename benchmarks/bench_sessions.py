"""Time to a notebook's first Spark result: session started with the kernel, and reattached.

    python benchmarks/bench_sessions.py [-n 3] [--delay 10]

Real parts: the embedded engine as its own process, the installed emr-pysparkkernel started
through jupyter_client in a Workspace folder (the Workspace's sparkmagic config and
`workspace.json` as the server writes them, `JPY_SESSION_NAME` as jupyter-server sets it).
Each timing is from sending the cell to its reply (what the user waits for once they run it):

- first cell right after the kernel is ready, vs `--delay` seconds later (the user reading),
  with the session started with the kernel; and, for reference, sparkmagic's way (the
  Workspace setting `start_session_early` off) `--delay` seconds later;
- after the kernel process is killed (SIGKILL): the notebook's next kernel reattaches, vs a
  new session (a notebook whose kernel has none), both timed from the new kernel's ready.

Prints a markdown table of p50/max in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_client.manager import KernelManager

from jupyter_emr_workspace.kernels import register_workspace_conf, write_sparkmagic_config
from jupyter_emr_workspace.kernels.cluster_hints import CLUSTER_FILE
from jupyter_emr_workspace.livy import EngineProcess

WORKSPACE = "e-benchsessions"
SESSION = {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}}
CELL = "spark.range(10).count()"


class Bench:
    def __init__(self, root: Path, engine: EngineProcess) -> None:
        self.root, self.engine = root, engine
        self.folder = root / "workspace"
        self.folder.mkdir()
        self.conf = root / "conf"
        self.notebooks = 0

    def configure(self, early: bool) -> None:
        assert self.engine.url
        write_sparkmagic_config(
            self.conf,
            self.engine.url,
            session_settings=SESSION,
            **self.engine.sparkmagic_auth(WORKSPACE),
        )
        info = {
            "type": "local",
            "workspace_id": WORKSPACE,
            "kernels": {"start_session_early": early},
        }
        (self.conf / CLUSTER_FILE).write_text(json.dumps(info))
        register_workspace_conf(self.folder, self.conf)

    def kernel(self, notebook: str) -> tuple[KernelManager, Any]:
        km = KernelManager(kernel_name="emr-pysparkkernel")
        env = {**os.environ, "JPY_SESSION_NAME": str(self.folder / notebook)}
        km.start_kernel(cwd=str(self.folder), env=env)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        return km, kc

    def new_notebook(self) -> str:
        self.notebooks += 1
        return f"nb{self.notebooks}.ipynb"

    @staticmethod
    def timed(kc: Any, code: str = CELL) -> float:
        start = time.perf_counter()
        reply = kc.execute_interactive(code, timeout=300, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        return time.perf_counter() - start

    @staticmethod
    def close(km: KernelManager, kc: Any) -> None:
        kc.stop_channels()
        km.shutdown_kernel(now=False)

    def first_result(self, early: bool, delay: float) -> float:
        self.configure(early)
        km, kc = self.kernel(self.new_notebook())
        try:
            time.sleep(delay)
            return self.timed(kc)
        finally:
            self.close(km, kc)

    def after_kernel_death(self) -> tuple[float, float]:
        """(reattach, new session), each from the new kernel's ready to the first result."""
        self.configure(early=True)
        notebook = self.new_notebook()
        km, kc = self.kernel(notebook)
        self.timed(kc, "x = 41")
        kc.stop_channels()
        os.kill(km.provisioner.pid, signal.SIGKILL)  # type: ignore[union-attr]
        km.cleanup_resources()
        km, kc = self.kernel(notebook)
        try:
            reattach = self.timed(kc, "x + 1")
        finally:
            self.close(km, kc)
        km, kc = self.kernel(self.new_notebook())
        try:
            fresh = self.timed(kc)
        finally:
            self.close(km, kc)
        return reattach, fresh


def row(name: str, values: list[float], target: str) -> str:
    return f"| {name} | {statistics.median(values):.2f} | {max(values):.2f} | {target} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3)
    parser.add_argument("--delay", type=float, default=10.0)
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(120)

    engine = EngineProcess(idle_timeout=0)
    run(engine.start())
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EMR_WORKSPACE_KERNEL_REGISTRY"] = str(Path(tmp) / "kernels.json")
        os.environ.pop("SPARKMAGIC_CONF_DIR", None)
        bench = Bench(Path(tmp), engine)
        at_once, later, lazy, reattach, fresh = [], [], [], [], []
        try:
            for _ in range(args.n):
                at_once.append(bench.first_result(early=True, delay=0))
                later.append(bench.first_result(early=True, delay=args.delay))
                lazy.append(bench.first_result(early=False, delay=args.delay))
                again, new = bench.after_kernel_death()
                reattach.append(again)
                fresh.append(new)
        finally:
            run(engine.stop())
    d = f"{args.delay:g} s"
    print(f"n={args.n}, seconds from running the cell to its result\n")
    print("| first cell | p50 | max | target |\n|---|---:|---:|---|")
    print(row("at once after kernel start (session started with the kernel)", at_once, ""))
    print(row(f"{d} after kernel start (session started with the kernel)", later, "< 2 s"))
    print(row(f"{d} after kernel start, start_session_early off (sparkmagic)", lazy, ""))
    print(row("after a kernel death: reattach", reattach, "< 1 s"))
    print(row("after a kernel death: new session", fresh, ""))


if __name__ == "__main__":
    main()
