"""Listing Workspaces (``GET /workspaces``'s service call) for 10 and 1,000 Workspaces, on S3
(moto as an HTTP server in its own process): latency and S3 requests, cold vs warm.

    python benchmarks/bench_core_list.py [--sizes 10 1000] [-n 5]

Cold: a server that has never listed (fresh services: empty registry and lock caches),
so it LISTs the Workspace and lock prefixes and GETs every object. Warm: the same server
listing again; the registry and the lock states are cached by ETag, so a warm listing is
the two LISTs plus a GET only for objects that changed. "Warm, 1 changed": another server
updated one Workspace in between. A tenth of the Workspaces are open (have a lock object).
Prints a markdown table: p50/p95 ms, the ratio to the floor (the same two LISTs, bare),
S3 requests per listing, and growth from the smallest size.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)

from _common import MotoProcess, pct  # noqa: E402
from emrws_testing.moto_servers import client  # noqa: E402

from jupyter_emr_workspace.app import build_services  # noqa: E402
from jupyter_emr_workspace.studio import Identity, Studio  # noqa: E402
from jupyter_emr_workspace.workspace_registry import gather_limited  # noqa: E402

ALICE = Identity("alice")


async def measure(services: Any, expect: int) -> tuple[float, collections.Counter[str]]:
    store = services.store
    before = collections.Counter(store.requests)
    start = time.perf_counter()
    items = await services.workspaces.list_workspaces(ALICE)
    elapsed = time.perf_counter() - start
    assert len(items) == expect, (len(items), expect)
    return elapsed, collections.Counter(store.requests) - before


async def run_size(size: int, n: int, moto: MotoProcess, tmp: Path) -> dict[str, Any]:
    bucket = f"bench-list-{size}"
    client(moto.url, "s3").create_bucket(Bucket=bucket)

    def services(name: str) -> Any:
        studio = Studio(
            id="es-bench",
            backup_uri=f"s3://{bucket}/studio",
            endpoint_url=moto.url,
            audit_log_path=str(tmp / f"audit-{size}-{name}.jsonl"),
        )
        return build_services(studio, str(tmp / f"root-{size}-{name}"), name)

    writer = services("writer")
    created = await gather_limited(
        [
            lambda i=i: writer.workspaces.create_workspace(ALICE, {"name": f"ws-{i:05d}"})
            for i in range(size)
        ],
        limit=16,
    )
    await gather_limited(
        [lambda w=w: writer.workspaces.open(ALICE, w["id"]) for w in created[::10]], limit=16
    )

    rows: dict[str, tuple[list[float], collections.Counter[str]]] = {}

    def add(name: str, elapsed: float, reqs: collections.Counter[str]) -> None:
        times, counter = rows.setdefault(name, ([], collections.Counter()))
        times.append(elapsed)
        counter.update(reqs)

    for i in range(n):
        reader = services(f"reader-{i}")
        add("cold", *await measure(reader, size))
        # the floor: the two LISTs a warm listing cannot avoid, bare
        # (after the cold listing, so on open connections like the warm ones)
        before = collections.Counter(reader.store.requests)
        start = time.perf_counter()
        await reader.store.list(reader.layout.workspaces_prefix)
        await reader.store.list(reader.layout.locks_prefix)
        add(
            "bare 2 LISTs (floor)",
            time.perf_counter() - start,
            collections.Counter(reader.store.requests) - before,
        )
        add("warm", *await measure(reader, size))
        await writer.workspaces.update_workspace(
            ALICE, created[i % size]["id"], {"description": f"change {i}"}
        )
        add("warm, 1 changed", *await measure(reader, size))
        await reader.store.close()
    await writer.store.close()
    return {name: (times, counter) for name, (times, counter) in rows.items()}


async def run(sizes: list[int], n: int, moto: MotoProcess, tmp: Path) -> None:
    results = {size: await run_size(size, n, moto, tmp) for size in sizes}
    base = sizes[0]
    print(f"\n{n} listings per case, moto {moto.url} (threaded HTTP server, own process)\n")
    print(
        "| Workspaces | listing | p50 ms | p95 ms | p50 / floor | S3 requests per listing "
        f"| p50 vs {base} |"
    )
    print("|---:|---|---:|---:|---:|---|---:|")
    for size, rows in results.items():
        for name, (times, counter) in rows.items():
            per = ", ".join(f"{op} {c / n:g}" for op, c in sorted(counter.items()))
            total = sum(counter.values()) / n
            growth = pct(times, 0.5) / pct(results[base][name][0], 0.5)
            floor = pct(rows["bare 2 LISTs (floor)"][0], 0.5)
            print(
                f"| {size} | {name} | {pct(times, 0.5):.1f} | {pct(times, 0.95):.1f} | "
                f"{pct(times, 0.5) / floor:.2f} | {total:g} ({per}) | {growth:.1f}x |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("-n", type=int, default=3, help="listings per case (default 3)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    moto = MotoProcess()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args.sizes, args.n, moto, Path(tmp)))
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
