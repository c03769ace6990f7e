"""Lease operations (open / heartbeat / close) against S3 on moto, beside a bare put_object.

    python benchmarks/bench_core_leases.py [-n 200]

moto runs as an HTTP server in its own process; the Studio's services are
built as the server builds them (S3 store, registry, lease manager, policies in open mode,
audit log) and called directly, so the figures are the core's cost without tornado.
Each round runs, interleaved: a bare unconditional ``put_object`` of a lock-sized body
through the same store (the floor: one S3 round trip), then open, heartbeat and close of
one Workspace. Prints p50/p95 in milliseconds, the ratio to the floor's p50 and the S3
requests each operation made (counted by the store).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import os  # noqa: E402

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)

from _common import MotoProcess, pct  # noqa: E402
from emrws_testing.moto_servers import client  # noqa: E402

from jupyter_emr_workspace.app import build_services  # noqa: E402
from jupyter_emr_workspace.studio import Identity, Studio  # noqa: E402


async def run(n: int, moto: MotoProcess, tmp: Path) -> None:
    client(moto.url, "s3").create_bucket(Bucket="bench-leases")
    studio = Studio(
        id="es-bench",
        backup_uri="s3://bench-leases/studio",
        endpoint_url=moto.url,
        audit_log_path=str(tmp / "audit.jsonl"),
    )
    studio.validate()
    s = build_services(studio, str(tmp / "root"), "bench-server")
    alice = Identity("alice")
    ws = await s.workspaces.create_workspace(alice, {"name": "bench"})
    wid = ws["id"]
    store = s.store
    body = b'{"generation": 1, "holders": [{"user": "alice", "server_id": "bench-server"}]}' * 2

    times: dict[str, list[float]] = collections.defaultdict(list)
    requests: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)

    async def timed(name: str, coro: Any) -> Any:
        before = collections.Counter(store.requests)
        start = time.perf_counter()
        result = await coro
        times[name].append(time.perf_counter() - start)
        requests[name].update(collections.Counter(store.requests) - before)
        return result

    # warm up connections and caches
    for _ in range(5):
        await store.put("bench/floor", body)
        opened = await s.workspaces.open(alice, wid)
        await s.workspaces.close(alice, wid, {"token": opened["lease"]["token"]})

    for _ in range(n):
        await timed("bare put_object (floor)", store.put("bench/floor", body))
        opened = await timed("open", s.workspaces.open(alice, wid))
        token = opened["lease"]["token"]
        await timed("heartbeat", s.workspaces.heartbeat(alice, wid, {"token": token}))
        await timed("close", s.workspaces.close(alice, wid, {"token": token}))

    floor = pct(times["bare put_object (floor)"], 0.5)
    print(f"\n{n} rounds, moto {moto.url} (threaded HTTP server, own process)\n")
    print("| operation | p50 ms | p95 ms | p50 / floor | S3 requests per op |")
    print("|---|---:|---:|---:|---|")
    for name, samples in times.items():
        per_op = ", ".join(f"{op} {count / n:g}" for op, count in sorted(requests[name].items()))
        total = sum(requests[name].values()) / n
        print(
            f"| {name} | {pct(samples, 0.5):.2f} | {pct(samples, 0.95):.2f} | "
            f"{pct(samples, 0.5) / floor:.2f} | {total:g} ({per_op}) |"
        )
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=200, help="rounds (default 200)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    moto = MotoProcess()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args.n, moto, Path(tmp)))
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
