"""Execution records in the Studio's store, where every server and runner sees them.

Keys, under the Studio's metadata prefix (``layout.Layout.base``):

- ``executions/<id>/execution.json``: the record; every change is a write conditioned on
  the ETag read (``If-Match``), so a runner's claim, a stop and a heartbeat never
  overwrite each other: the loser re-reads and decides again;
- ``executions/<id>/input.ipynb``: the notebook as it was at submission (later edits do
  not change a queued or running execution);
- ``execution-queue/<id>``: an empty marker per execution not yet ended, so a runner
  lists only the live ones (one LIST per poll, however long the history is).

A runner's claim is the conditional write START_PENDING → STARTING with its id; its
heartbeat is a later write of the record, and staleness is judged in the store's clock
(the record's ``Last-Modified`` against the ``Date`` of the read), never a local one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..errors import NotFound
from ..layout import Layout
from ..store import BlobStore, ObjectNotFound, PreconditionFailed
from .model import EXECUTION_ID_RE, Execution

#: Conditional writes that lose this often in a row mean something is wrong.
MAX_CONFLICTS = 20


class Unchanged(Exception):
    """Raised by an update's change function: nothing to write (the caller decides why)."""


@dataclass
class Read:
    """A record as read, with what the next conditional write and staleness need."""

    execution: Execution
    etag: str
    #: seconds since the record was last written, in the store's clock
    age: float


class ExecutionStore:
    def __init__(self, store: BlobStore, layout: Layout) -> None:
        self.store = store
        self.prefix = f"{layout.base}/executions/"
        self.queue_prefix = f"{layout.base}/execution-queue/"

    def record_key(self, execution_id: str) -> str:
        return f"{self.prefix}{execution_id}/execution.json"

    def input_key(self, execution_id: str) -> str:
        return f"{self.prefix}{execution_id}/input.ipynb"

    def queue_key(self, execution_id: str) -> str:
        return f"{self.queue_prefix}{execution_id}"

    @staticmethod
    def _encode(ex: Execution) -> bytes:
        return json.dumps(ex.to_json(), sort_keys=True).encode()

    async def create(self, ex: Execution, notebook: bytes) -> None:
        """Snapshot, record (create-only), then the queue marker: a runner that sees the
        marker always finds both."""
        await self.store.put(self.input_key(ex.id), notebook)
        await self.store.put(self.record_key(ex.id), self._encode(ex), if_none_match=True)
        await self.store.put(self.queue_key(ex.id), b"")

    async def read(self, execution_id: str) -> Read:
        if not EXECUTION_ID_RE.match(execution_id):
            raise NotFound(f"No execution {execution_id[:80]!r}", code="ExecutionNotFound")
        try:
            blob = await self.store.get(self.record_key(execution_id))
        except ObjectNotFound:
            raise NotFound(f"No execution {execution_id}", code="ExecutionNotFound") from None
        ex = Execution.from_json(json.loads(blob.data))
        return Read(ex, blob.etag, _age(blob.store_time, blob.last_modified))

    async def get(self, execution_id: str) -> Execution:
        return (await self.read(execution_id)).execution

    async def snapshot(self, execution_id: str) -> bytes:
        return (await self.store.get(self.input_key(execution_id))).data

    async def write(self, ex: Execution, etag: str) -> str:
        """One conditional write; raises PreconditionFailed when someone wrote first."""
        result = await self.store.put(self.record_key(ex.id), self._encode(ex), if_match=etag)
        if ex.final:
            await self.store.delete(self.queue_key(ex.id))
        return result.etag

    async def update(
        self, execution_id: str, change: Callable[[Execution], None]
    ) -> tuple[Execution, str]:
        """Read, change, write conditionally; again on a lost race. ``change`` may raise
        ``Unchanged`` (returned as the record read) or an ApiError."""
        for _ in range(MAX_CONFLICTS):
            read = await self.read(execution_id)
            try:
                change(read.execution)
            except Unchanged:
                return read.execution, read.etag
            try:
                return read.execution, await self.write(read.execution, read.etag)
            except PreconditionFailed:
                await asyncio.sleep(0.05)
        raise PreconditionFailed(f"execution {execution_id} kept changing; try again")

    async def ids(self) -> list[str]:
        """Every execution of the Studio, oldest first (ids sort by creation time)."""
        suffix = "/execution.json"
        keys = [i.key for i in await self.store.list(self.prefix)]
        return sorted(
            k[len(self.prefix) : -len(suffix)]
            for k in keys
            if k.endswith(suffix) and EXECUTION_ID_RE.match(k[len(self.prefix) : -len(suffix)])
        )

    async def live_ids(self) -> list[str]:
        """Executions not yet ended (the queue markers), oldest first."""
        infos = await self.store.list(self.queue_prefix)
        ids = [i.key[len(self.queue_prefix) :] for i in infos]
        return sorted(i for i in ids if EXECUTION_ID_RE.match(i))

    async def drop_from_queue(self, execution_id: str) -> None:
        await self.store.delete(self.queue_key(execution_id))


def _age(store_time: datetime, last_modified: datetime | None) -> float:
    if last_modified is None:
        return 0.0
    return max(0.0, (store_time - last_modified).total_seconds())
