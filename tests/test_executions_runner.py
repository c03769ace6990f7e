"""Runners share one store (S3 in moto, run single-threaded so conditional writes are
atomic as on S3): two runners never run one execution, a runner that dies mid-run leaves
no execution RUNNING once another runner looks, and a stop reaches the runner that holds
the execution. The executor here is a stand-in (the notebook part is tested with real
kernels in test_executions_spark.py); the store, the claims and the records are real."""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import make_bucket
from emrws_testing.moto_servers import MotoHttp, client

from jupyter_emr_workspace.executions.model import (
    FAILED,
    FINISHED,
    RUNNING,
    START_PENDING,
    STOPPED,
    Execution,
    new_execution_id,
    utcnow_iso,
)
from jupyter_emr_workspace.executions.records import ExecutionStore
from jupyter_emr_workspace.executions.runner import Claim, Outcome, Runner
from jupyter_emr_workspace.layout import Layout
from jupyter_emr_workspace.store.s3 import S3Store


@pytest.fixture
def records(moto_serial: MotoHttp) -> Iterator[ExecutionStore]:
    bucket = make_bucket(moto_serial.url)
    store = S3Store(client(moto_serial.url, "s3"), f"s3://{bucket}/studio")
    yield ExecutionStore(store, Layout("es-runners"))
    asyncio.run(store.close())


async def submit(records: ExecutionStore, n: int = 1) -> list[str]:
    ids = []
    for _ in range(n):
        ex = Execution(
            id=new_execution_id(),
            workspace_id="e-" + "A" * 25,
            relative_path="nb.ipynb",
            name="t",
            created_by="alice",
            created_at=utcnow_iso(),
        )
        await records.create(ex, b"{}")
        ids.append(ex.id)
    return ids


class Counting:
    """Counts which runner ran which execution; optionally waits to be stopped."""

    def __init__(self, runs: collections.Counter[str], block: bool = False) -> None:
        self.runs, self.block = runs, block
        self.started = asyncio.Event()

    async def __call__(self, ex: Execution, claim: Claim) -> Outcome:
        self.runs[ex.id] += 1
        await claim.set(RUNNING)
        self.started.set()
        if self.block:
            await claim.stop_requested.wait()
            return Outcome(STOPPED)
        await asyncio.sleep(0.01)
        return Outcome(FINISHED, output={"notebook": "s3://x"})


async def wait_until(check: Any, limit: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not await check():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.1)


async def test_two_runners_never_run_one_execution_twice(records: ExecutionStore) -> None:
    ids = await submit(records, 12)
    runs: collections.Counter[str] = collections.Counter()
    runners = [
        Runner(records, Counting(runs), f"r{i}-{uuid.uuid4().hex[:4]}", concurrency=12)
        for i in range(2)
    ]
    # both poll the same queue at the same moment, repeatedly, until nothing is left
    for _ in range(3):
        await asyncio.gather(*(r.poll_once() for r in runners))
    await asyncio.gather(*(t for r in runners for t in list(r.tasks.values())))
    assert sorted(runs) == sorted(ids) and set(runs.values()) == {1}
    ended = [await records.get(i) for i in ids]
    assert {e.status for e in ended} == {FINISHED}
    assert {e.runner["id"] for e in ended} <= {r.id for r in runners}  # type: ignore[index]
    assert await records.live_ids() == []  # ended executions leave the queue


async def test_a_runner_that_died_mid_run_leaves_no_execution_running(
    records: ExecutionStore,
) -> None:
    (eid,) = await submit(records)
    runs: collections.Counter[str] = collections.Counter()
    dying = Counting(runs, block=True)
    first = Runner(records, dying, "dies", heartbeat_seconds=0.5, claim_timeout=2.0)
    assert await first.poll_once() == [eid]
    await asyncio.wait_for(dying.started.wait(), 10)
    assert (await records.get(eid)).status == RUNNING
    first.crash()  # no final write, no more heartbeats

    second = Runner(records, Counting(runs), "next", heartbeat_seconds=0.5, claim_timeout=2.0)

    async def ended() -> bool:
        await second.poll_once()
        return (await records.get(eid)).final

    await wait_until(ended)
    ex = await records.get(eid)
    assert ex.status == FAILED and runs[eid] == 1  # failed, not run again
    assert "runner dies stopped heartbeating" in (ex.reason or "")
    assert "Ended by runner next" in (ex.reason or "")
    assert await records.live_ids() == []


async def test_a_live_runner_is_never_taken_for_dead(records: ExecutionStore) -> None:
    (eid,) = await submit(records)
    runs: collections.Counter[str] = collections.Counter()
    slow = Counting(runs, block=True)
    holder = Runner(records, slow, "holder", poll_seconds=0.2, heartbeat_seconds=0.5,
                    claim_timeout=2.0)  # fmt: skip
    await holder.poll_once()
    await asyncio.wait_for(slow.started.wait(), 10)
    other = Runner(records, Counting(runs), "other", heartbeat_seconds=0.5, claim_timeout=2.0)
    for _ in range(8):  # well past claim_timeout: heartbeats keep the claim fresh
        await other.poll_once()
        await asyncio.sleep(0.5)
    assert (await records.get(eid)).status == RUNNING and runs[eid] == 1
    await holder.stop()
    ex = await records.get(eid)
    assert ex.status == STOPPED and ex.runner["id"] == "holder"  # type: ignore[index]
    assert ex.reason == "Stopped: the runner holder shut down (its server stopped)"


async def test_a_stop_written_to_the_store_reaches_the_holding_runner(
    records: ExecutionStore,
) -> None:
    (eid,) = await submit(records)
    runs: collections.Counter[str] = collections.Counter()
    blocked = Counting(runs, block=True)
    runner = Runner(records, blocked, "holder", poll_seconds=0.2, heartbeat_seconds=1.0,
                    claim_timeout=5.0)  # fmt: skip
    await runner.poll_once()
    await asyncio.wait_for(blocked.started.wait(), 10)

    def ask(ex: Execution) -> None:  # what another server's POST /stop writes
        ex.note("STOP_PENDING")
        ex.stop_requested_by = "bob"

    await records.update(eid, ask)
    await asyncio.wait_for(asyncio.gather(*runner.tasks.values()), 10)
    ex = await records.get(eid)
    assert ex.status == STOPPED and ex.reason == "Stopped by bob"
    assert [e["status"] for e in ex.events][-3:] == ["RUNNING", "STOP_PENDING", "STOPPED"]


async def test_a_queued_execution_waits_for_a_free_slot(records: ExecutionStore) -> None:
    ids = await submit(records, 3)
    runs: collections.Counter[str] = collections.Counter()
    runner = Runner(records, Counting(runs, block=True), "one", concurrency=1)
    assert await runner.poll_once() == ids[:1]
    assert await runner.poll_once() == []
    assert [(await records.get(i)).status for i in ids[1:]] == [START_PENDING] * 2
    await runner.stop()


async def test_an_idle_runner_costs_the_store_nothing_until_woken(
    records: ExecutionStore,
) -> None:
    runs: collections.Counter[str] = collections.Counter()
    runner = Runner(records, Counting(runs), "quiet", poll_seconds=0.1, idle_poll_seconds=600)
    store = records.store
    runner.start()
    try:
        await wait_until(lambda: _async(sum(store.requests.values()) > 0))  # its first look
        await asyncio.sleep(0.3)
        idle = dict(store.requests)
        await asyncio.sleep(1.0)  # ten poll intervals: not one request
        assert dict(store.requests) == idle
        (eid,) = await submit(records)
        runner.wake()  # what a submission through this server does
        await wait_until(lambda: _async(runs[eid] == 1), limit=10)
    finally:
        await runner.stop()


async def _async(value: bool) -> bool:
    return value
