"""A JupyterHub's worth of users on one Studio store: S3 requests and lock latency.

    python benchmarks/bench_hub_load.py [--users 100] [--speedup 50] [--window 30]
        [--phases idle,editing,panels,refresh,cold] [--panels N] [--probe-every 0.25]
        [--json out.json]

Simulates ``--users`` single-user servers, each with one user holding one open
Workspace, all on one shared S3 store (moto's HTTP server, in its own process so it does
not share this process's GIL). Each simulated server runs the real code: its own
LeaseManager (heartbeats renew the lease), BackupScheduler (autosave of changed files,
with fencing) and WorkspaceRegistry, on its own S3Store; they only share one boto3
client. Time is compressed by ``--speedup``: heartbeats every 30 s / speedup, autosave
every 30 s / speedup, the panel's list refresh every 30 s / speedup. Each phase is
measured over ``--window`` seconds of wall time (``--window`` x ``--speedup`` simulated
seconds); request counts are reported per user per simulated (real-world) minute.

Phases, one after the other, each measured after a warm-up interval:

- idle: the Workspaces are open, nobody types (heartbeats; autosave finds nothing);
- editing: every user changes their notebook once per autosave interval (worst case);
- panels: as idle (nobody opens or types; the probe pauses), and ``--panels`` users'
  EMR Workspaces panels refresh their list (GET /workspaces: the registry's list and the
  lock states) every 30 s, as the frontend does while visible, through their own
  server's registry and lease manager wired as ``app.build_services`` wires them
  (``c.Studio.listing_max_age``); counted in all: heartbeats and refreshes, per user
  per minute;
- refresh: what one warm refresh costs on its own: a panel on a store of its own that
  never reuses a listing (``listing_max_age`` 0), refreshing at the panel's cadence
  while the heartbeats go on; requests per refresh (mean, max);
- cold: a new server's first listing (the registry and lock states, as GET /workspaces),
  right after the setup (it also repairs the listing index with the locks opened since it
  was last written) and again at the end.

Lock operations' cost (requests per acquire, renew, release) is counted on the probe.
Runs against older versions of the code too (without the listing index or max age).

Lock latency: every heartbeat (renew) is timed; a probe server also opens and closes a
Workspace (acquire + release) and does a bare PUT of a lock-sized body (the floor: one
S3 round trip at that moment) in a loop, so the percentiles are under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import inspect
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's code

import boto3
import botocore.config
from _common import pct

from jupyter_emr_workspace.contents.backup import BackupScheduler
from jupyter_emr_workspace.contents.state import StateFiles
from jupyter_emr_workspace.folders import WorkspaceFolders
from jupyter_emr_workspace.layout import Layout
from jupyter_emr_workspace.leases import Lease, LeaseManager
from jupyter_emr_workspace.store.s3 import S3Store
from jupyter_emr_workspace.workspace_registry import WorkspaceRegistry

STUDIO = "es-bench"
PROBE_STUDIO = "es-bench-probe"  # the probe's Workspace: not counted in the listings
HEARTBEAT_S = 30.0  # what the frontend does with the default 90 s lease
AUTOSAVE_S = 30.0  # c.Studio.autosave_interval default
PANEL_S = 30.0  # the panel's list refresh while visible
#: this version's listing index and c.Studio.listing_max_age, if it has them
HAS_INDEX = "index" in inspect.signature(WorkspaceRegistry).parameters
try:
    from jupyter_emr_workspace.studio import Studio

    LISTING_MAX_AGE = float(Studio().listing_max_age) if HAS_INDEX else 0.0
except Exception:  # an older version: no such setting
    LISTING_MAX_AGE = 0.0


def wired(store: S3Store, name: str, max_age: float, studio: str = STUDIO) -> tuple[Any, Any]:
    """A registry and a lease manager as ``app.build_services`` wires them."""
    layout = Layout(studio)
    if not HAS_INDEX:
        return WorkspaceRegistry(store, layout, studio), LeaseManager(store, layout, name, 90)
    from jupyter_emr_workspace.listing_index import ListingIndex

    index = ListingIndex(store, layout)
    registry = WorkspaceRegistry(store, layout, studio, index=index, max_age=max_age)
    leases = LeaseManager(store, layout, name, 90, index=index, listing_max_age=max_age / 2)
    return registry, leases


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return proc, url
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto server did not start")


def notebook(version: int) -> bytes:
    """A ~20 KB notebook whose first cell changes with ``version``."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{i}",
            "metadata": {},
            "outputs": [],
            "source": f"# v{version}\n" if i == 0 else "x = 1\n" * 60,
        }
        for i in range(50)
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


@dataclass
class Server:
    """One user's single-user server, reduced to what runs while a Workspace is open."""

    name: str
    store: S3Store
    leases: LeaseManager
    registry: WorkspaceRegistry
    scheduler: BackupScheduler
    folders: WorkspaceFolders
    workspace_id: str = ""
    lease: Lease | None = None
    version: int = 0


@dataclass
class Stats:
    """Latency samples per (phase, operation), taken only while a phase is measured."""

    latencies: dict[tuple[str, str], list[float]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    phase: str | None = None

    def add(self, op: str, seconds: float) -> None:
        if self.phase is not None:
            self.latencies[(self.phase, op)].append(seconds)


def requests_of(servers: list[Server]) -> collections.Counter[str]:
    total: collections.Counter[str] = collections.Counter()
    for s in servers:
        total.update(s.store.requests)
    return total


async def make_server(
    name: str, s3: Any, uri: str, tmp: Path, max_age: float, studio: str = STUDIO
) -> Server:
    store = S3Store(s3, uri, max_workers=4)
    root = tmp / name
    folders = WorkspaceFolders(root, "workspaces")
    registry, leases = wired(store, name, max_age, studio)
    scheduler = BackupScheduler(
        store,
        folders,
        leases,
        StateFiles(tmp / "state" / name, STUDIO, root),
        interval=AUTOSAVE_S,  # set per run below
        concurrency=8,
        max_backoff=300,
    )
    return Server(name, store, leases, registry, scheduler, folders)


async def every(period: float) -> Any:
    """Ticks on a fixed schedule (as the frontend's timers), from a random phase."""
    next_at = time.monotonic() + random.uniform(0, period)
    while True:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        yield
        next_at = max(next_at + period, time.monotonic())


async def heartbeats(server: Server, period: float, stats: Stats) -> None:
    async for _ in every(period):
        assert server.lease is not None
        t0 = time.perf_counter()
        server.lease = await server.leases.renew(server.workspace_id, server.lease.token)
        stats.add("heartbeat (renew)", time.perf_counter() - t0)


async def edits(server: Server, period: float) -> None:
    """A change in the user's notebook once per autosave interval (the editor's save)."""
    path = server.folders.local_path(server.workspace_id) / "analysis.ipynb"
    async for _ in every(period):
        server.version += 1
        await asyncio.to_thread(path.write_bytes, notebook(server.version))
        server.scheduler.changed(server.workspace_id, "analysis.ipynb")


async def listing(registry: Any, leases: Any) -> tuple[Any, Any]:
    """What GET /workspaces reads from the store (``WorkspaceService.list_workspaces``)."""
    return await asyncio.gather(registry.list(), leases.states())


async def panel(server: Server, period: float, stats: Stats, first: asyncio.Queue[None]) -> None:
    """A visible panel's refreshes; says when its first (cold) listing is done."""
    async for _ in every(period):
        t0 = time.perf_counter()
        await listing(server.registry, server.leases)
        if first is not None:
            first.put_nowait(None)
            first = None  # type: ignore[assignment]
        stats.add("panel refresh (GET /workspaces)", time.perf_counter() - t0)


@dataclass
class OpCosts:
    """Requests per lock operation on the probe (its store counts nothing else then)."""

    ops: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    runs: collections.Counter[str] = field(default_factory=collections.Counter)

    def add(
        self, op: str, before: collections.Counter[str], after: collections.Counter[str]
    ) -> None:
        self.ops[op].update(after - before)
        self.runs[op] += 1

    def summary(self) -> dict[str, float]:
        return {op: round(sum(c.values()) / self.runs[op], 2) for op, c in self.ops.items()}


async def probe(server: Server, period: float, stats: Stats, costs: OpCosts) -> None:
    """Open/close of a Workspace and a bare PUT, timed under the load."""
    key = Layout(STUDIO).base + "/bench-floor"
    body = b"x" * 300
    async for _ in every(period):
        c0 = collections.Counter(server.store.requests)
        t0 = time.perf_counter()
        lease = await server.leases.acquire(
            server.workspace_id, server.name, shared=False, may_share=True
        )
        t1 = time.perf_counter()
        c1 = collections.Counter(server.store.requests)
        renewed = await server.leases.renew(server.workspace_id, lease.token)
        c2 = collections.Counter(server.store.requests)
        t2 = time.perf_counter()
        await server.leases.release(server.workspace_id, renewed.token)
        t3 = time.perf_counter()
        c3 = collections.Counter(server.store.requests)
        await server.store.put(key, body)
        t4 = time.perf_counter()
        costs.add("acquire", c0, c1)
        costs.add("renew", c1, c2)
        costs.add("release", c2, c3)
        stats.add("open (acquire)", t1 - t0)
        stats.add("close (release)", t3 - t2)
        stats.add("floor: bare PUT", t4 - t3)


async def run(args: argparse.Namespace, url: str, tmp: Path) -> dict[str, Any]:
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        config=botocore.config.Config(max_pool_connections=200, retries={"max_attempts": 2}),
    )
    bucket = "bench-hub"
    s3.create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/studio"
    k = args.speedup
    hb, autosave = HEARTBEAT_S / k, AUTOSAVE_S / k
    max_age = args.listing_max_age / k  # simulated seconds, like every period

    servers = [await make_server(f"user{i:04d}", s3, uri, tmp, max_age) for i in range(args.users)]
    t_setup = time.monotonic()
    # the Workspaces exist already (users created them over time): made one after the
    # other by one server, which keeps the listing index current as it goes
    admin = await make_server("admin", s3, uri, tmp, max_age)
    created = [await admin.registry.create(f"ws-{i:04d}", s.name) for i, s in enumerate(servers)]
    await admin.store.close()
    print(f"created {len(created)} Workspaces in {time.monotonic() - t_setup:.0f} s", flush=True)

    stats = Stats()
    tasks: list[asyncio.Future[Any]] = []

    async def setup(i: int, server: Server) -> None:
        server.scheduler.interval = autosave
        ws = await server.registry.get(created[i].id)
        server.workspace_id = ws.id
        server.lease = await server.leases.acquire(ws.id, server.name, shared=False, may_share=True)
        # heartbeats from the open on, as the frontend does: a long setup loses no lease
        tasks.append(asyncio.ensure_future(heartbeats(server, hb, stats)))
        folder = server.folders.ensure(ws.id)
        (folder / "analysis.ipynb").write_bytes(notebook(0))
        server.scheduler.start()
        await server.scheduler.flush(server.workspace_id, 120)  # first backup: setup

    sem = asyncio.Semaphore(32)  # users arriving, a few at a time

    async def limited(i: int, server: Server) -> None:
        async with sem:
            await setup(i, server)

    await asyncio.gather(*(limited(i, s) for i, s in enumerate(servers)))
    print(f"setup: {args.users} users in {time.monotonic() - t_setup:.0f} s", flush=True)
    results: dict[str, Any] = {"phases": {}, "latency": {}}
    cold: dict[str, Any] = {}

    async def cold_listing(label: str) -> None:
        """A new server's first listing: what a server starting up pays."""
        store = S3Store(s3, uri, max_workers=16)
        registry, leases = wired(store, label, 0.0)
        t0 = time.perf_counter()
        workspaces, locks = await listing(registry, leases)
        cold[label] = {
            "requests": sum(store.requests.values()),
            "by_operation": dict(store.requests),
            "ms": round((time.perf_counter() - t0) * 1000, 1),
            "workspaces_listed": len(workspaces),
            "leases_shown_held": sum(1 for state in locks.values() if state),
        }
        print(f"cold listing, {label}: {cold[label]}", flush=True)
        await store.close()

    if "cold" in args.phases or "panels" in args.phases:
        # the first listing after every user opened a Workspace: lock writes leave the
        # index alone, so this one reads the locks and repairs it (before the panels
        # start, as in a hub whose servers do not all start in the same second)
        await cold_listing("first after all the opens (repairs the index)")
        results["phases"]["cold listing"] = cold
    # the probe works in a Studio of its own, so listings count exactly --users Workspaces
    prober = await make_server("probe", s3, uri, tmp, max_age, PROBE_STUDIO)
    prober.workspace_id = (await prober.registry.create("probe", "probe")).id

    costs = OpCosts()
    probing = asyncio.ensure_future(probe(prober, args.probe_every, stats, costs))

    async def phase(name: str, counted: list[Any], warmup: float) -> dict[str, Any]:
        await asyncio.sleep(warmup)  # every loop has run at least once
        before = collections.Counter[str]()
        for store in counted:
            before.update(store.requests)
        stats.phase = name
        t0 = time.monotonic()
        await asyncio.sleep(args.window)
        elapsed = time.monotonic() - t0
        stats.phase = None
        delta = collections.Counter[str]()
        for store in counted:
            delta.update(store.requests)
        delta -= before
        simulated_minutes = elapsed * k / 60
        out: dict[str, Any] = {
            "per_user_per_minute": round(sum(delta.values()) / args.users / simulated_minutes, 2),
            "by_operation": {
                op: round(n / args.users / simulated_minutes, 2) for op, n in sorted(delta.items())
            },
            "store_requests_per_second": round(sum(delta.values()) / elapsed, 1),
            "requests": sum(delta.values()),
        }
        results["phases"][name] = out
        print(f"{name}: {out}", flush=True)
        return out

    stores = [s.store for s in servers]
    if "idle" in args.phases:
        await phase("idle", stores, 2 * max(hb, autosave))
    if "editing" in args.phases:
        editing = [asyncio.ensure_future(edits(s, autosave)) for s in servers]
        await phase("editing", stores, 2 * max(hb, autosave))
        for task in editing:
            task.cancel()
    results["lock_operation_requests"] = costs.summary()
    probing.cancel()  # from here on nobody opens or closes anything
    if "panels" in args.phases:
        refresh = PANEL_S / k
        first: asyncio.Queue[None] = asyncio.Queue()
        with_panel = servers[: args.panels or len(servers)]
        panels = [asyncio.ensure_future(panel(s, refresh, stats, first)) for s in with_panel]
        for _ in with_panel:  # every panel's first (cold) listing is done
            await first.get()
        await asyncio.sleep(refresh)
        out = await phase("idle, panels visible (in all)", stores, 0)
        out["panels_open"] = len(with_panel)
        reads = sum(n for op, n in out["by_operation"].items() if op != "put_object")
        # heartbeats are the PUTs; a panel's listing only reads (once warm)
        out["listing_reads_per_panel_minute"] = round(reads * args.users / len(with_panel), 2)
        out["if_every_panel_visible_per_user_minute"] = round(
            out["by_operation"].get("put_object", 0) + out["listing_reads_per_panel_minute"], 2
        )
        out["listing_max_age_s"] = args.listing_max_age if HAS_INDEX else None
        for task in panels:
            task.cancel()
    if "refresh" in args.phases:
        store = S3Store(s3, uri, max_workers=16)
        registry, leases = wired(store, "observer", 0.0)
        await listing(registry, leases)  # its first (cold) listing
        per_refresh = []
        t_refresh = []
        for _ in range(args.refreshes):
            await asyncio.sleep(PANEL_S / k)  # the panel's cadence: what a refresh finds
            before = collections.Counter(store.requests)
            t0 = time.perf_counter()
            workspaces, locks = await listing(registry, leases)
            t_refresh.append(time.perf_counter() - t0)
            per_refresh.append(sum((collections.Counter(store.requests) - before).values()))
        held = sum(1 for state in locks.values() if state)
        results["phases"]["warm refresh (listing_max_age 0)"] = out = {
            "refreshes": len(per_refresh),
            "requests_mean": round(sum(per_refresh) / len(per_refresh), 2),
            "requests_max": max(per_refresh),
            "workspaces_listed": len(workspaces),
            "leases_shown_held": held,
            "p50_ms": round(pct(t_refresh, 0.5), 1),
        }
        print(f"warm refresh: {out}", flush=True)
        await store.close()
    if "cold" in args.phases:
        await cold_listing("a new server (cold)")

    for (name, op), samples in stats.latencies.items():
        results["latency"].setdefault(name, {})[op] = {
            "n": len(samples),
            "p50_ms": round(pct(samples, 0.5), 1),
            "p99_ms": round(pct(samples, 0.99), 1),
        }
    for task in tasks:
        task.cancel()
    for server in servers:
        await server.scheduler.stop(5)
    for server in [*servers, prober]:
        await server.store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--speedup", type=float, default=50.0, help="time compression")
    parser.add_argument("--window", type=float, default=30.0, help="seconds measured per phase")
    parser.add_argument(
        "--panels", type=int, default=0, help="users whose panel is visible (default: all)"
    )
    parser.add_argument(
        "--listing-max-age",
        type=float,
        default=LISTING_MAX_AGE,
        help="c.Studio.listing_max_age the panels' servers run with (default: its default)",
    )
    parser.add_argument("--refreshes", type=int, default=20, help="warm refreshes measured")
    parser.add_argument(
        "--probe-every", type=float, default=0.25, help="seconds between probe open/close"
    )
    parser.add_argument(
        "--phases",
        type=lambda v: set(v.split(",")),
        default={"idle", "editing", "panels", "refresh", "cold"},
        help="comma-separated subset of idle,editing,panels,refresh,cold",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    proc, url = start_moto()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = asyncio.run(run(args, url, Path(tmp)))
    finally:
        proc.terminate()
        proc.wait(10)
    results["settings"] = {
        "users": args.users,
        "speedup": args.speedup,
        "window_s": args.window,
        "heartbeat_every_s": HEARTBEAT_S,
        "autosave_every_s": AUTOSAVE_S,
        "panel_refresh_every_s": PANEL_S,
        "panels_open": args.panels or args.users,
        "listing_max_age_s": args.listing_max_age if HAS_INDEX else None,
        "code": "listing index + LastModified leases" if HAS_INDEX else "before",
        "cpus": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
