"""The runner: claims queued executions from the store, runs them, and ends orphans.

Any number of runners may share one store (a runner in each user's Jupyter server, and
one run as a JupyterHub service). Safety rests on conditional writes only:

- **claim**: a runner moves a START_PENDING record to STARTING with its id, conditioned
  on the ETag it read; of two runners that read the same version, one write wins and
  the other re-reads a record that is no longer START_PENDING;
- **heartbeat**: while it runs an execution, the runner rewrites its record at least
  every ``heartbeat_seconds``; it reads it every ``poll_seconds`` to see a stop;
- **orphans**: a record in a claimed state not written for ``claim_timeout`` seconds
  (in the store's clock) belongs to a runner that died; the first runner to see it ends
  it, FAILED (or STOPPED when a stop was asked), with a reason that says so, again by a
  conditional write, so two runners never both end it, and a runner that was only slow
  learns (its next write fails) that it lost the execution and stops running it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..store import PreconditionFailed, StoreError
from .model import (
    CLAIMED,
    FAILED,
    FINISHED,
    RUNNING,
    START_PENDING,
    STARTING,
    STOP_PENDING,
    STOPPED,
    STOPPING,
    Execution,
    utcnow_iso,
)
from .records import ExecutionStore, Read

log = logging.getLogger(__name__)


class ClaimLost(Exception):
    """Another runner ended this execution (this runner was taken for dead)."""


@dataclass
class Outcome:
    """How an execution ended, as the executor saw it."""

    status: str  # FINISHED, FAILED or STOPPED
    reason: str | None = None
    error: dict[str, Any] | None = None
    output: dict[str, str] = field(default_factory=dict)


class Executor(Protocol):
    async def __call__(self, ex: Execution, claim: Claim) -> Outcome:
        """Run ``ex`` (reporting progress through ``claim``); never raises for a notebook
        that fails: that is an Outcome."""
        ...


class Claim:
    """One execution held by this runner: its record, the ETag last written, and the
    stop signal the executor watches."""

    def __init__(self, records: ExecutionStore, read: Read, runner_id: str) -> None:
        self.records, self.runner_id = records, runner_id
        self.execution, self.etag = read.execution, read.etag
        self.stop_requested = asyncio.Event()
        self.lost = False
        self._written = asyncio.get_running_loop().time()

    @property
    def id(self) -> str:
        return self.execution.id

    def request_stop(self) -> None:
        self.stop_requested.set()

    async def set(self, status: str | None = None, message: str = "", **fields: Any) -> None:
        """Write a change of the record; after a lost race, re-read and apply it to what
        is there (a stop asked meanwhile is kept and signalled)."""
        while True:
            ex = copy.deepcopy(self.execution)
            if status is not None:
                keep = ex.status in (STOP_PENDING, STOPPING) and status in (STARTING, RUNNING)
                if not keep and (ex.status != status or message):
                    ex.note(status, message)
            for key, value in fields.items():
                setattr(ex, key, value)
            ex.runner = {**(ex.runner or {}), "id": self.runner_id, "heartbeat_at": utcnow_iso()}
            try:
                self.etag = await self.records.write(ex, self.etag)
                self.execution = ex
                self._written = asyncio.get_running_loop().time()
                return
            except PreconditionFailed:
                await self.refresh(force=True)

    async def refresh(self, force: bool = False) -> None:
        """Re-read the record: learn a stop, or that this runner lost the execution."""
        read = await self.records.read(self.id)
        if read.etag == self.etag and not force:
            return
        fresh = read.execution
        if fresh.final or (fresh.runner or {}).get("id") != self.runner_id:
            self.lost = True
            self.request_stop()
            raise ClaimLost(f"execution {self.id} was ended by another runner: {fresh.reason}")
        self.execution, self.etag = fresh, read.etag
        if fresh.status == STOP_PENDING:
            self.request_stop()

    def since_written(self) -> float:
        return asyncio.get_running_loop().time() - self._written


class Runner:
    def __init__(
        self,
        records: ExecutionStore,
        executor: Executor,
        runner_id: str,
        *,
        poll_seconds: float = 5.0,
        heartbeat_seconds: float = 15.0,
        claim_timeout: float = 60.0,
        concurrency: int = 2,
        on_end: Callable[[Execution], Awaitable[None] | None] | None = None,
        idle_poll_seconds: float | None = None,
    ) -> None:
        """``idle_poll_seconds``: while the queue is empty, look this seldom (a submission
        through this server wakes it at once), so an idle server costs the store nothing
        between looks; None: always every ``poll_seconds`` (a hub runner)."""
        if claim_timeout <= heartbeat_seconds:
            raise ValueError("claim_timeout must be longer than heartbeat_seconds")
        self.records, self.executor, self.id = records, executor, runner_id
        self.poll_seconds, self.heartbeat_seconds = poll_seconds, heartbeat_seconds
        self.claim_timeout, self.concurrency = claim_timeout, max(1, concurrency)
        self.on_end = on_end
        self.idle_poll_seconds = idle_poll_seconds
        self._queue_seen = True
        self._shutting_down = False
        #: which queued executions this runner may run (the in-process runner: its owner's)
        self.accept: Callable[[Execution], bool] = lambda ex: True
        self.claims: dict[str, Claim] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._loop(), name=f"runner {self.id}")

    def wake(self) -> None:
        """Poll now (a submission on this server need not wait for the next poll)."""
        self._wake.set()

    async def stop(self, *, stop_executions: bool = True, budget: float = 30.0) -> None:
        """Stop polling; stop what runs (each ends STOPPED with the reason), within budget."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if stop_executions:
            self._shutting_down = True
            for claim in self.claims.values():
                claim.request_stop()
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=budget)

    def crash(self) -> None:
        """Vanish without a word, as a killed process does (tests of orphan recovery)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            self._loop_task = None
        for task in self.tasks.values():
            task.cancel()

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll_once()
            except StoreError as e:
                log.warning("runner %s: the store is unavailable: %s", self.id, e)
            except Exception:
                log.exception("runner %s: poll failed", self.id)
            self._wake.clear()
            wait = self.poll_seconds
            if self.idle_poll_seconds is not None and not (self._queue_seen or self.claims):
                wait = max(wait, self.idle_poll_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    # -- one poll ---------------------------------------------------------------------------
    async def poll_once(self) -> list[str]:
        """Claim what is queued (up to ``concurrency``), end orphans; returns claimed ids."""
        claimed: list[str] = []
        live = await self.records.live_ids()
        self._queue_seen = bool(live)
        for execution_id in live:
            if execution_id in self.claims:
                continue
            try:
                read = await self.records.read(execution_id)
            except Exception as e:  # a half-written submission, or gone: not ours to judge
                log.debug("runner %s: cannot read %s: %s", self.id, execution_id, e)
                continue
            ex = read.execution
            if ex.final:
                await self.records.drop_from_queue(ex.id)
            elif ex.status == START_PENDING:
                if not self.accept(ex):
                    continue
                if len(self.claims) < self.concurrency and await self._claim(read):
                    claimed.append(ex.id)
            elif ex.status in CLAIMED and read.age > self.claim_timeout:
                await self._end_orphan(read)
        return claimed

    async def _claim(self, read: Read) -> bool:
        ex = copy.deepcopy(read.execution)
        ex.note(STARTING, f"claimed by runner {self.id}")
        ex.started_at = utcnow_iso()
        ex.runner = {"id": self.id, "claimed_at": ex.started_at, "heartbeat_at": ex.started_at}
        try:
            etag = await self.records.write(ex, read.etag)
        except PreconditionFailed:
            return False  # another runner (or a stop) wrote first
        claim = Claim(self.records, Read(ex, etag, 0.0), self.id)
        self.claims[ex.id] = claim
        self.tasks[ex.id] = asyncio.create_task(self._run(claim), name=f"execution {ex.id}")
        return True

    async def _end_orphan(self, read: Read) -> None:
        ex = copy.deepcopy(read.execution)
        runner = (ex.runner or {}).get("id", "?")
        last = (ex.runner or {}).get("heartbeat_at", "?")
        stopping = ex.status in (STOP_PENDING, STOPPING)
        reason = (
            f"The runner {runner} stopped heartbeating (last at {last}) while the execution "
            f"was {ex.status}: it died or lost the store. Ended by runner {self.id}."
        )
        ex.note(STOPPED if stopping else FAILED, reason)
        ex.reason, ex.ended_at = reason, utcnow_iso()
        try:
            await self.records.write(ex, read.etag)
        except PreconditionFailed:
            return  # it heartbeated after all, or another runner ended it first
        log.warning("runner %s: %s", self.id, reason)
        await self._ended(ex)

    # -- one execution -----------------------------------------------------------------------
    async def _run(self, claim: Claim) -> None:
        beat = asyncio.create_task(self._heartbeat(claim))
        try:
            try:
                outcome = await self.executor(claim.execution, claim)
            except ClaimLost:
                return
            except Exception as e:
                log.exception("execution %s: the runner failed", claim.id)
                outcome = Outcome(FAILED, f"The runner failed: {type(e).__name__}: {e}")
            if claim.lost:
                return
            beat.cancel()
            final = outcome.status if outcome.status in (FINISHED, FAILED, STOPPED) else FAILED
            who = claim.execution.stop_requested_by
            reason = outcome.reason
            if final == STOPPED and reason is None:
                if who:
                    reason = f"Stopped by {who}"
                elif self._shutting_down:
                    reason = f"Stopped: the runner {self.id} shut down (its server stopped)"
                else:
                    reason = "Stopped"
            try:
                await claim.set(
                    final,
                    reason or "",
                    reason=reason,
                    error=outcome.error,
                    output=outcome.output,
                    ended_at=utcnow_iso(),
                )
            except ClaimLost:
                return
            await self._ended(claim.execution)
        finally:
            beat.cancel()
            self.claims.pop(claim.id, None)
            self.tasks.pop(claim.id, None)
            self._wake.set()  # a slot is free

    async def _heartbeat(self, claim: Claim) -> None:
        while True:
            await asyncio.sleep(min(self.poll_seconds, self.heartbeat_seconds))
            try:
                await claim.refresh()
                if claim.since_written() >= self.heartbeat_seconds:
                    await claim.set()
            except ClaimLost:
                return
            except Exception as e:  # the store is away: the claim runs out if it stays away
                log.warning("execution %s: heartbeat failed: %s", claim.id, e)

    async def _ended(self, ex: Execution) -> None:
        if self.on_end is not None:
            try:
                result = self.on_end(ex)
                if result is not None:
                    await result
            except Exception:
                log.exception("execution %s: on_end failed", ex.id)


__all__ = ["RUNNING", "Claim", "ClaimLost", "Executor", "Outcome", "Runner"]
