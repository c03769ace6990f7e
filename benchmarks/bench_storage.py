"""Notebook storage benchmarks: save latency, autosave requests, restore time.

    python benchmarks/bench_storage.py save [-n 30]      # p50/p95 save latency, 3 managers
    python benchmarks/bench_storage.py save -n 1 --sizes 10KB   # a quick smoke run
    python benchmarks/bench_storage.py requests          # S3 requests per autosave interval
    python benchmarks/bench_storage.py restore [-n 3]    # 500 x 100 KB, parallel vs sequential

Everything talks to one moto server over HTTP on loopback, directly and through a proxy
that adds 20 ms to every S3 request (real S3 is that far away; loopback moto is not).

save: three real jupyter-server processes side by side, saving the same notebooks through
the contents REST API (PUT), rounds interleaved so drift hits all alike:
- this extension as installed (it puts its WorkspaceContentsManager in place itself; the
  benchmark checks GET /studio says backups are on), saving into an open Workspace (autosave
  every 2 s, so background backups run during the measurement), and the same server
  saving outside Workspaces (what the rest of the extension costs per request);
- jupyter_server's stock AsyncLargeFileManager (no extension);
- s3contents' S3ContentsManager 0.11.2, on the same moto bucket, in a virtualenv of its own
  because it pins an older botocore than this project's. The benchmark builds that venv on
  first use in .cache/bench/venv-s3contents (gitignored; set BENCH_S3CONTENTS_VENV to put
  it elsewhere), with the same jupyter_server version as this environment.
requests: a 1,000-notebook Workspace, one notebook changed: requests seen by the proxy in
the following autosave intervals (and while idle). restore: the restore code in-process
(S3Store, Restorer) into an empty folder, with restore_concurrency 16 vs 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from emrws_testing import servers as servers_mod  # noqa: E402
from emrws_testing.moto_servers import MotoHttp, client  # noqa: E402
from emrws_testing.proxy import DelayProxy  # noqa: E402
from emrws_testing.servers import ServerProcess  # noqa: E402

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log lines

S3CONTENTS_VENV = Path(
    os.environ.get("BENCH_S3CONTENTS_VENV", ROOT / ".cache" / "bench" / "venv-s3contents")
)
S3CONTENTS = "s3contents==0.11.2"
SIZES = {"10 KB": 10_000, "1 MB": 1_000_000, "10 MB": 10_000_000}
DELAYS = {"loopback": 0.0, "+20 ms/request": 0.020}


def notebook(size: int, tag: str) -> dict[str, Any]:
    body = f"# {tag}\n" + "x" * max(0, size - 200)
    return {
        "type": "notebook",
        "format": "json",
        "content": {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "source": body,
                       "outputs": [], "execution_count": None}],
        },
    }  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def configure(proc: ServerProcess, app: dict[str, Any], extra: dict[str, Any]) -> None:
    config = json.loads(proc.config_path.read_text())
    config["ServerApp"].update(app)
    config.update(extra)
    proc.config_path.write_text(json.dumps(config))


@contextlib.contextmanager
def python(executable: str) -> Iterator[None]:
    """ServerProcess starts ``sys.executable``; s3contents lives in another venv."""
    saved = servers_mod.sys.executable
    servers_mod.sys.executable = executable
    try:
        yield
    finally:
        servers_mod.sys.executable = saved


def s3contents_python() -> str:
    """The interpreter of s3contents' own venv, built on first use and kept.

    s3contents pins an older botocore than this project, so it cannot share this
    environment. Its venv gets this environment's jupyter_server version, so that the
    contents manager is the only difference between the servers compared. Building never
    deletes anything: an existing venv at that place is installed into."""
    import jupyter_server

    requirements = [S3CONTENTS, f"jupyter_server=={jupyter_server.__version__}"]
    python = S3CONTENTS_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    marker = S3CONTENTS_VENV / "bench-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        print(f"s3contents: the venv in {S3CONTENTS_VENV} ({', '.join(requirements)})")
        return str(python)
    print(f"s3contents: building its venv in {S3CONTENTS_VENV} ({', '.join(requirements)}), "
          "once; set BENCH_S3CONTENTS_VENV to build it elsewhere", flush=True)  # fmt: skip
    subprocess.run([sys.executable, "-m", "venv", str(S3CONTENTS_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *requirements], check=True)  # fmt: skip
    marker.write_text(wanted)
    print("s3contents: venv ready", flush=True)
    return str(python)


def studio(bucket: str, endpoint: str, **extra: Any) -> dict[str, Any]:
    # a long lease: the benchmark sends no heartbeats (they would be S3 requests too)
    return {"id": "es-bench", "backup_uri": f"s3://{bucket}/backups", "endpoint_url": endpoint,
            "lease_seconds": 3600, **extra}  # fmt: skip


def check_backups_on(proc: ServerProcess) -> None:
    """The extension's servers run as installed (no contents_manager_class): make sure the
    extension put its own manager in place, or the figures would be the stock manager's."""
    r = proc.api("GET", "/studio")
    r.raise_for_status()
    backups = r.json()["backups"]
    if not backups["enabled"]:
        raise RuntimeError(f"{proc.name}: Workspace backups are off: {backups['reason']}")


def open_workspace(proc: ServerProcess, name: str) -> tuple[str, str]:
    r = proc.api("POST", "/workspaces", json={"name": name})
    r.raise_for_status()
    ws_id = r.json()["id"]
    r = proc.api("POST", f"/workspaces/{ws_id}/open")
    r.raise_for_status()
    return ws_id, r.json()["path"]


# -- save latency -----------------------------------------------------------------------
def bench_save(rounds: int, sizes: dict[str, int]) -> None:
    s3contents = s3contents_python()  # first, so that a failed build costs no server start
    moto = MotoHttp(threaded=True).start()
    s3 = client(moto.url, "s3")
    tmp = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    print(f"save latency, {rounds} saves per size and manager; PUT /api/contents; ms\n")
    print("| S3 | notebook | manager | p50 | p95 | p50 vs stock | p95 vs stock |")
    print("|---|---|---|---:|---:|---:|---:|")
    for label, delay in DELAYS.items():
        proxy = DelayProxy(moto.server.server_port, delay=delay).start()
        bucket = f"bench-{int(time.time() * 1000)}"
        s3.create_bucket(Bucket=bucket)
        procs: dict[str, ServerProcess] = {}
        try:
            ws = ServerProcess(tmp / f"ws-{delay}", studio(bucket, proxy.url, autosave_interval=2),
                               name=f"ws-{delay}")  # fmt: skip
            stock = ServerProcess(tmp / f"stock-{delay}", {}, name=f"stock-{delay}")
            configure(stock, {"jpserver_extensions": {"jupyter_emr_workspace": False},
                              "contents_manager_class": "jupyter_server.services.contents."
                              "largefilemanager.AsyncLargeFileManager"}, {})  # fmt: skip
            s3c = ServerProcess(tmp / f"s3c-{delay}", {}, name=f"s3c-{delay}")
            configure(
                s3c,
                {"jpserver_extensions": {"jupyter_emr_workspace": False},
                 "contents_manager_class": "s3contents.S3ContentsManager"},
                {"S3ContentsManager": {"bucket": bucket, "prefix": "s3contents",
                                       "endpoint_url": proxy.url, "access_key_id": "testing",
                                       "secret_access_key": "testing"}},
            )  # fmt: skip
            ws.start()
            check_backups_on(ws)
            stock.start()
            with python(s3contents):
                s3c.start()
            procs = {"this extension": ws, "this extension, outside Workspaces": ws,
                     "stock AsyncLargeFileManager": stock,
                     "s3contents S3ContentsManager": s3c}  # fmt: skip
            _, ws_path = open_workspace(ws, "bench")
            paths = {"this extension": ws_path, "this extension, outside Workspaces": "",
                     "stock AsyncLargeFileManager": "",
                     "s3contents S3ContentsManager": ""}  # fmt: skip
            sessions = {name: requests.Session() for name in procs}
            for size_label, size in sizes.items():
                times: dict[str, list[float]] = {name: [] for name in procs}
                for i in range(rounds + 2):  # two warm-up rounds
                    order = list(procs)
                    random.shuffle(order)
                    for name in order:
                        proc = procs[name]
                        body = json.dumps(notebook(size, f"{name} {i}"))
                        url = f"{proc.url}/api/contents/{paths[name]}/nb-{size}.ipynb".replace(
                            "contents//", "contents/")  # fmt: skip
                        t0 = time.perf_counter()
                        r = sessions[name].put(
                            url,
                            data=body,
                            headers={
                                "Authorization": f"token {proc.token}",
                                "X-Test-User": "alice",
                            },
                        )
                        elapsed = time.perf_counter() - t0
                        r.raise_for_status()
                        if i >= 2:
                            times[name].append(elapsed * 1000)
                stock_p50 = pct(times["stock AsyncLargeFileManager"], 0.5)
                stock_p95 = pct(times["stock AsyncLargeFileManager"], 0.95)
                for name, values in times.items():
                    p50, p95 = pct(values, 0.5), pct(values, 0.95)
                    print(
                        f"| {label} | {size_label} | {name} | {p50:.1f} | {p95:.1f} | "
                        f"{p50 / stock_p50:.2f}x | {p95 / stock_p95:.2f}x |",
                        flush=True,
                    )
        finally:
            for proc in set(procs.values()):
                proc.stop()
            proxy.close()
    moto.stop()


# -- requests per autosave interval ---------------------------------------------------------
def bench_requests(files: int, interval: int) -> None:
    moto = MotoHttp(threaded=True).start()
    s3 = client(moto.url, "s3")
    bucket = f"bench-{int(time.time() * 1000)}"
    s3.create_bucket(Bucket=bucket)
    proxy = DelayProxy(moto.server.server_port).start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    proc = ServerProcess(tmp / "root", studio(bucket, proxy.url, autosave_interval=interval),
                         name="req")  # fmt: skip
    try:
        proc.start()
        check_backups_on(proc)
        ws_id, path = open_workspace(proc, "thousand")
        session = requests.Session()
        headers = {"Authorization": f"token {proc.token}", "X-Test-User": "alice"}
        proxy.request_lines.clear()
        first = proxy.requests
        for i in range(files):
            body = json.dumps(notebook(2_000, f"nb {i}"))
            session.put(f"{proc.url}/api/contents/{path}/nb{i:04}.ipynb", data=body,
                        headers=headers).raise_for_status()  # fmt: skip
        wait_for(lambda: len(_keys(s3, bucket, f"backups/{ws_id}/")) == files, 300)
        time.sleep(2 * interval)  # let the first backup finish its bookkeeping
        initial = proxy.requests - first
        initial_methods = Counter(line.split(" ")[0] for line in proxy.request_lines)

        proxy.request_lines.clear()
        before = proxy.requests
        time.sleep(3 * interval)
        idle = proxy.requests - before

        proxy.request_lines.clear()
        before = proxy.requests
        body = json.dumps(notebook(2_000, "changed"))  # one of those saved above
        session.put(f"{proc.url}/api/contents/{path}/nb{files // 2:04}.ipynb", data=body,
                    headers=headers).raise_for_status()  # fmt: skip
        time.sleep(3 * interval)
        changed = proxy.requests - before
        methods = Counter(line.split(" ")[0] for line in proxy.request_lines)
        print(f"Workspace of {files} notebooks, autosave_interval={interval}s\n")
        print("| phase | S3 requests |")
        print("|---|---:|")
        print(f"| {files} new notebooks saved and backed up | {initial} "
              f"({dict(initial_methods)}) |")  # fmt: skip
        print(f"| 3 idle intervals | {idle} |")
        print(f"| 1 notebook changed, next 3 intervals | {changed} ({dict(methods)}) |")
    finally:
        proc.stop()
        proxy.close()
        moto.stop()


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    out: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def wait_for(check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.2)


# -- restore ------------------------------------------------------------------------------------
def bench_restore(repeats: int, files: int, size: int) -> None:
    from jupyter_emr_workspace.contents.backup import BackupScheduler
    from jupyter_emr_workspace.contents.restore import Restorer
    from jupyter_emr_workspace.contents.state import StateFiles
    from jupyter_emr_workspace.folders import WorkspaceFolders
    from jupyter_emr_workspace.layout import Layout
    from jupyter_emr_workspace.leases import LeaseManager
    from jupyter_emr_workspace.store.s3 import S3Store

    moto = MotoHttp(threaded=True).start()
    s3 = client(moto.url, "s3")
    bucket = f"bench-{int(time.time() * 1000)}"
    s3.create_bucket(Bucket=bucket)
    ws_id = "e-" + "B" * 25
    payload = json.dumps(notebook(size, "r")["content"]).encode()
    for i in range(files):
        s3.put_object(Bucket=bucket, Key=f"backups/{ws_id}/nb{i:03}.ipynb", Body=payload)
    print(f"restore of {files} notebooks of {len(payload) // 1000} KB into an empty folder; "
          f"seconds, best and median of {repeats}\n")  # fmt: skip
    print("| S3 | parallel (16) | sequential (1) | speed-up (median) |")
    print("|---|---:|---:|---:|")
    for label, delay in DELAYS.items():
        proxy = DelayProxy(moto.server.server_port, delay=delay).start()
        results: dict[int, list[float]] = {16: [], 1: []}
        for _ in range(repeats):
            for concurrency in (16, 1):
                tmp = Path(tempfile.mkdtemp(prefix="bench-restore-"))

                async def run(tmp: Path = tmp, concurrency: int = concurrency,
                              url: str = proxy.url) -> float:  # fmt: skip
                    store = S3Store(client(url, "s3", config=_pool()), f"s3://{bucket}/backups")
                    folders = WorkspaceFolders(tmp / "root", "workspaces")
                    leases = LeaseManager(store, Layout("es-bench"), "bench", 90)
                    files_ = StateFiles(tmp / "state", "es-bench", folders.root)
                    scheduler = BackupScheduler(store, folders, leases, files_, interval=30,
                                                concurrency=8, max_backoff=60)  # fmt: skip
                    restorer = Restorer(store, scheduler, concurrency)
                    t0 = time.perf_counter()
                    facts = await restorer.restore(ws_id, folders.ensure(ws_id))
                    elapsed = time.perf_counter() - t0
                    assert facts["restored"] == files, facts
                    await asyncio.sleep(0.1)  # let the state write finish
                    await store.close()
                    return elapsed

                results[concurrency].append(asyncio.run(run()))
        par, seq = results[16], results[1]
        print(f"| {label} | {min(par):.2f} / {statistics.median(par):.2f} | "
              f"{min(seq):.2f} / {statistics.median(seq):.2f} | "
              f"{statistics.median(seq) / statistics.median(par):.1f}x |", flush=True)  # fmt: skip
        proxy.close()
    moto.stop()


def _pool() -> Any:
    import botocore.config

    return botocore.config.Config(max_pool_connections=32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    p = sub.add_parser("save")
    p.add_argument("-n", type=int, default=30, help="saves per size and manager")
    p.add_argument("--sizes", nargs="+", choices=[k.replace(" ", "") for k in SIZES],
                   default=[k.replace(" ", "") for k in SIZES], help="notebook sizes")  # fmt: skip
    p = sub.add_parser("requests")
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--interval", type=int, default=2)
    p = sub.add_parser("restore")
    p.add_argument("-n", type=int, default=3, help="repetitions")
    p.add_argument("--files", type=int, default=500)
    p.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    if args.bench == "save":
        bench_save(args.n, {k: v for k, v in SIZES.items() if k.replace(" ", "") in args.sizes})
    elif args.bench == "requests":
        bench_requests(args.files, args.interval)
    else:
        bench_restore(args.n, args.files, args.size)


if __name__ == "__main__":
    main()
