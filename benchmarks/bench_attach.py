"""Attach to first result: a Workspace attached through the extension vs sparkmagic by hand.

    python benchmarks/bench_attach.py [-n 5]

One real jupyter-server process (the extension, the embedded engine), one engine, the same
statement (`spark.range(100).count()`), sessions alternating between the two ways so drift
hits both alike:

- extension: POST /workspaces/{id}/attach (local) → POST /api/sessions for a notebook in
  the Workspace with the emr-pysparkkernel (the provisioner picks the Workspace config) →
  the statement's result.
- by hand: write a minimal sparkmagic config.json (URL and credentials of the same engine)
  and a kernelspec of sparkmagic's own PySpark kernel with SPARKMAGIC_CONF_DIR in its env,
  as a user would → POST /api/sessions for a notebook outside any Workspace → the result.

Both include the kernel start and the Livy session (a JVM) that sparkmagic creates on the
first statement; those dominate. Prints a markdown table (seconds) and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from emrws_testing.servers import ServerProcess  # noqa: E402
from jupyter_client import BlockingKernelClient  # noqa: E402

from jupyter_emr_workspace.kernels import write_kernelspecs  # noqa: E402

STATEMENT = "spark.range(100).count()"
SESSION = {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}}


def first_result(server: ServerProcess, path: str, kernel: str) -> None:
    """Start a kernel for notebook ``path`` and wait for the statement's result."""
    r = server.request(
        "POST",
        "/api/sessions",
        json={
            "path": path,
            "name": Path(path).name,
            "type": "notebook",
            "kernel": {"name": kernel},
        },
    )
    r.raise_for_status()
    session = r.json()
    runtime = Path(server.root.parent / f"{server.name}-runtime")
    connection = runtime / f"kernel-{session['kernel']['id']}.json"
    deadline = time.monotonic() + 30
    while not connection.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no connection file {connection}")
        time.sleep(0.02)
    kc = BlockingKernelClient(connection_file=str(connection))
    kc.load_connection_file()
    kc.start_channels(hb=False)  # the heartbeat reports "dead" until the kernel binds
    texts: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] in ("stream", "execute_result"):
            c = msg["content"]
            texts.append(c.get("text") or str(c.get("data", {}).get("text/plain", "")))

    t0 = time.perf_counter()
    try:
        kc.wait_for_ready(timeout=120)
        t1 = time.perf_counter()
        kc.execute_interactive(STATEMENT, output_hook=hook, timeout=300)
        t2 = time.perf_counter()
    finally:
        kc.stop_channels()
    print(f"  kernel ready {t1 - t0:.2f} s, first statement {t2 - t1:.2f} s", file=sys.stderr)
    out = "".join(texts)
    if "100" not in out.split("SparkSession available as 'spark'.")[-1]:
        raise RuntimeError(f"unexpected output: {out!r}")
    server.request("DELETE", f"/api/sessions/{session['id']}").raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="runs of each (5)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-attach-"))
    server = ServerProcess(
        tmp / "root",
        # every run leaves its kernel's session running: no per-Workspace cap here
        {
            "backup_uri": str(tmp / "store"),
            "id": "es-bench",
            "local_engine_idle_timeout": 0,
            "local_engine_max_sessions": 0,
        },
        name="bench",
    )
    data = tmp / "bench-data" / "kernels"
    write_kernelspecs(data, names=["emr-pysparkkernel"])
    server.start()
    try:
        ws = server.api("POST", "/workspaces", json={"name": "bench"}).json()
        opened = server.api("POST", f"/workspaces/{ws['id']}/open")
        opened.raise_for_status()
        token = opened.json()["lease"]["token"]
        # warm-up: starts the engine, loads Spark's jars into the page cache
        body = {"type": "local", "cluster_id": "local", "session": SESSION}
        server.api("POST", f"/workspaces/{ws['id']}/attach", json=body).raise_for_status()
        first_result(server, f"{ws['path']}/warmup.ipynb", "emr-pysparkkernel")
        conf = json.loads(next((tmp / "bench-runtime").rglob("config.json")).read_text())
        creds = conf["kernel_python_credentials"]
        hand_dir = tmp / "by-hand"
        spec = data / "pyspark-by-hand"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [
                        sys.executable,
                        "-m",
                        "sparkmagic.kernels.pysparkkernel.pysparkkernel",
                        "-f",
                        "{connection_file}",
                    ],
                    "display_name": "PySpark (by hand)",
                    "language": "python",
                    "env": {"SPARKMAGIC_CONF_DIR": str(hand_dir)},
                }
            )
        )
        timings: dict[str, list[float]] = {"extension": [], "by hand": []}
        for i in range(args.n):
            for way in ("extension", "by hand") if i % 2 == 0 else ("by hand", "extension"):
                # keep the lease (as the UI does every 30 s), outside the timed part
                server.api(
                    "POST", f"/workspaces/{ws['id']}/heartbeat", json={"token": token}
                ).raise_for_status()
                t0 = time.perf_counter()
                if way == "extension":
                    r = server.api("POST", f"/workspaces/{ws['id']}/attach", json=body)
                    r.raise_for_status()
                    first_result(server, f"{ws['path']}/nb{i}.ipynb", "emr-pysparkkernel")
                else:
                    hand_dir.mkdir(exist_ok=True)
                    (hand_dir / "config.json").write_text(
                        json.dumps({"kernel_python_credentials": creds, "session_configs": SESSION})
                    )
                    first_result(server, f"outside{i}.ipynb", "pyspark-by-hand")
                timings[way].append(time.perf_counter() - t0)
                print(f"run {i + 1} {way}: {timings[way][-1]:.2f} s", file=sys.stderr)
        # the one step the extension adds: the attach call itself (engine already running)
        attach_ms = []
        for _ in range(20):
            t0 = time.perf_counter()
            server.api("POST", f"/workspaces/{ws['id']}/attach", json=body).raise_for_status()
            attach_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        server.stop()
    ext, hand = (statistics.median(timings[k]) for k in ("extension", "by hand"))
    print("| way | median s | min s | max s |\n|---|---|---|---|")
    for way, samples in timings.items():
        print(
            f"| {way} | {statistics.median(samples):.2f} | {min(samples):.2f} | "
            f"{max(samples):.2f} |"
        )
    print(f"\nratio extension / by hand (medians): {ext / hand:.3f} (n={args.n})")
    print(
        f"attach call alone: median {statistics.median(attach_ms):.1f} ms, "
        f"max {max(attach_ms):.1f} ms (n={len(attach_ms)})"
    )


if __name__ == "__main__":
    main()
