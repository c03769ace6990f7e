"""The listing index: one object per Studio that holds the bodies of its small shared
objects (Workspace metadata, lock documents), each under the ETag it had, so a cold
listing of a thousand Workspaces reads one object instead of one per Workspace.

It is a cache, never the truth. A listing always LISTs the prefix and takes an entry
only when its ETag is the one the LIST shows; anything else is read with a GET (and the
index is then written back, repaired). A missing, stale, corrupt or half-updated index
costs requests, never correctness, and a writer that dies between its write and the
index update loses nothing. Writers (the registry) keep it current with conditional
writes (``If-Match`` on the index's ETag, re-read and retry on 412), so concurrent
servers never undo each other's entries.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from .layout import Layout
from .store import BlobStore, ObjectInfo, ObjectNotFound, PreconditionFailed, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

INDEX_FORMAT = 1
#: Up to this many changed objects a listing reads directly; beyond, one GET of the
#: index first (a warm refresh that saw one lock change costs one GET, not the index).
DIRECT_READS = 2
WRITE_ATTEMPTS = 4


async def gather_limited(
    factories: Iterable[Callable[[], Awaitable[T]]], limit: int = 16
) -> list[T]:
    """Run coroutine factories with at most ``limit`` in flight, keeping order."""
    sem = asyncio.Semaphore(limit)

    async def run(factory: Callable[[], Awaitable[T]]) -> T:
        async with sem:
            return await factory()

    return await asyncio.gather(*(run(f) for f in factories))


@dataclass(frozen=True)
class Fetched:
    """An object's body (parsed JSON) as of ``etag``; ``last_modified`` is set when it
    was read with a GET (then it may be newer than the LIST that named it)."""

    etag: str
    body: Any
    last_modified: datetime | None = None
    #: the store's time of the GET's answer
    store_time: datetime | None = None


class ListingIndex:
    """The index of one Studio, shared by the registry and the lease manager of a server
    (so a cold ``GET /workspaces`` reads it once for both)."""

    def __init__(self, store: BlobStore, layout: Layout):
        self.store, self.key = store, layout.index
        self._entries: dict[str, dict[str, Any]] = {}
        self._etag: str | None = None  # None: no index in the store (as last read)
        self._loaded_at = float("-inf")
        self._loading: tuple[float, asyncio.Future[None]] | None = None

    # -- reading ----------------------------------------------------------------------
    async def _load(self, since: float) -> None:
        """Make the in-memory copy at least as new as a read started at ``since``;
        concurrent callers share one GET."""
        if self._loaded_at >= since:
            return
        if self._loading is not None and self._loading[0] >= since:
            await asyncio.shield(self._loading[1])
            return
        started = time.monotonic()
        task = asyncio.ensure_future(self._fetch(started))
        self._loading = (started, task)
        try:
            await task
        finally:
            if self._loading is not None and self._loading[1] is task:
                self._loading = None

    async def _fetch(self, started: float) -> None:
        try:
            blob = await self.store.get(self.key)
        except ObjectNotFound:
            self._entries, self._etag, self._loaded_at = {}, None, started
            return
        entries: dict[str, dict[str, Any]] = {}
        try:
            raw = json.loads(blob.data)
            if isinstance(raw, dict) and raw.get("format") == INDEX_FORMAT:
                objects = raw.get("objects")
                if isinstance(objects, dict):
                    entries = {
                        k: v
                        for k, v in objects.items()
                        if isinstance(v, dict) and isinstance(v.get("etag"), str) and "body" in v
                    }
        except ValueError:
            log.warning("the listing index %s is not JSON; it will be rewritten", self.key)
        self._entries, self._etag, self._loaded_at = entries, blob.etag, started

    async def resolve(
        self,
        infos: list[ObjectInfo],
        known: Callable[[str, str], bool],
        *,
        prefix: str,
        started: float,
    ) -> dict[str, Fetched]:
        """The bodies of the listed objects the caller does not have (``known(key,
        etag)`` is False): from the index when its entry has the listed ETag, else by GET.
        ``started``: when the caller's LIST was sent (an index read since then is reused).
        Repairs the index when it was consulted and found stale."""
        missing = [i for i in infos if not known(i.key, i.etag)]
        out: dict[str, Fetched] = {}
        consulted = False
        if len(missing) > DIRECT_READS:
            try:
                await self._load(started)
                consulted = True
            except StoreError as e:  # the index is a shortcut: read the objects instead
                log.warning("listing index unreadable (%s); reading the objects", e)
            for info in missing:
                entry = self._entries.get(info.key)
                if entry is not None and entry["etag"] == info.etag:
                    out[info.key] = Fetched(info.etag, entry["body"])

        async def fetch(key: str) -> Fetched | None:
            try:
                blob = await self.store.get(key)
            except ObjectNotFound:  # deleted since the LIST
                return None
            try:
                body = json.loads(blob.data)
            except ValueError:
                log.warning("%s is not JSON; left out of the listing", key)
                return None
            return Fetched(blob.etag, body, blob.last_modified, blob.store_time)

        rest = [i.key for i in missing if i.key not in out]
        got = await gather_limited([lambda k=k: fetch(k) for k in rest])  # type: ignore[misc]
        fetched = {k: f for k, f in zip(rest, got, strict=True) if f is not None}
        out.update(fetched)
        if consulted:
            listed = {i.key for i in infos}
            gone = [k for k in self._entries if k.startswith(prefix) and k not in listed]
            if fetched or gone:
                await self._repair(fetched, gone)
        return out

    async def _repair(self, fetched: dict[str, Fetched], gone: list[str]) -> None:
        """Write back what a listing had to read (one attempt: if someone else wrote the
        index meanwhile, theirs stands and the next cold listing repairs again)."""
        entries = {k: v for k, v in self._entries.items() if k not in set(gone)}
        for key, f in fetched.items():
            entries[key] = {"etag": f.etag, "body": f.body}
        try:
            await self._put(entries)
        except PreconditionFailed:
            pass
        except StoreError as e:
            log.warning("could not repair the listing index: %s", e)

    # -- writing ------------------------------------------------------------------------
    async def _put(self, entries: dict[str, dict[str, Any]]) -> None:
        data = json.dumps({"format": INDEX_FORMAT, "objects": entries}, sort_keys=True).encode()
        if self._etag is None:
            result = await self.store.put(self.key, data, if_none_match=True)
        else:
            result = await self.store.put(self.key, data, if_match=self._etag)
        self._entries, self._etag = entries, result.etag

    async def record(self, key: str, etag: str, body: Any) -> None:
        """A writer's new version of ``key``: put it in the index."""
        await self._change(lambda entries: entries.__setitem__(key, {"etag": etag, "body": body}))

    async def forget(self, key: str) -> None:
        """A writer deleted ``key``: drop it from the index."""
        await self._change(lambda entries: entries.pop(key, None))

    async def _change(self, change: Callable[[dict[str, dict[str, Any]]], Any]) -> None:
        """Apply ``change`` to the current index with If-Match, re-reading on 412. Best
        effort: a failure is logged (listings stay right; the next one repairs it)."""
        fresh = self._loaded_at > float("-inf")  # first try with the copy we have
        try:
            for attempt in range(WRITE_ATTEMPTS):
                if not fresh:
                    await self._load(time.monotonic())
                entries = dict(self._entries)
                change(entries)
                try:
                    await self._put(entries)
                    return
                except PreconditionFailed:
                    fresh = False
                    # many servers writing at once (a hub's users creating together):
                    # spread the retries out
                    await asyncio.sleep(random.uniform(0, 0.05 * 2 ** min(attempt, 5)))
            log.warning("listing index %s: too much contention; left for a repair", self.key)
        except StoreError as e:
            log.warning("could not update the listing index %s: %s", self.key, e)
