"""The backup scheduler: every ``autosave_interval`` seconds, send what changed.

Saves only mark paths (no I/O); a local scan (stat only) also catches files written by
kernels or terminals. A file whose checksum matches the manifest costs no request. Each
write carries the lease generation and is conditional on the ETag this server last
wrote, so a server whose lease was taken over never overwrites a newer backup: it keeps
its version as a conflict copy beside it instead. Failures never reach the save: files
stay pending, are retried with exponential backoff and are shown in the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import posixpath
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..folders import WorkspaceFolders
from ..leases import LeaseManager
from ..store import BlobStore, ObjectNotFound, PreconditionFailed, StoreError, StoreUnavailable
from .paths import is_skipped, walk_files
from .state import Entry, StateFiles, WorkspaceState

log = logging.getLogger(__name__)

#: A chunked upload with no chunk for this long is taken as abandoned and backed up as is.
CHUNK_STALE_SECONDS = 3600.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def conflict_name(rel: str, user: str) -> str:
    """``dir/name.ipynb`` → ``dir/name.conflict-<user>-<UTC time>.ipynb``."""
    folder, base = posixpath.split(rel)
    stem, ext = posixpath.splitext(base)
    who = re.sub(r"[^A-Za-z0-9_.@-]", "_", user)[:64] or "unknown"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return posixpath.join(folder, f"{stem}.conflict-{who}-{stamp}{ext}")


def _read(path: Path) -> tuple[bytes, str, os.stat_result] | None:
    """File bytes, checksum and the stat taken *before* reading (a later write then shows
    up as a stat change and is sent again). None if it is gone or not a regular file."""
    try:
        st = path.stat()
        if not path.is_file():
            return None
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return data, md5_hex(data), st


class _Outage(Exception):
    """The store is unreachable: stop this pass and back off."""


class BackupScheduler:
    def __init__(
        self,
        store: BlobStore,
        folders: WorkspaceFolders,
        leases: LeaseManager,
        files: StateFiles,
        *,
        interval: float,
        concurrency: int,
        max_backoff: float,
    ) -> None:
        self.store, self.folders, self.leases, self.files = store, folders, leases, files
        self.interval, self.max_backoff = interval, max_backoff
        self.concurrency = max(1, concurrency)
        self.states: dict[str, WorkspaceState] = files.load_all()
        self._chunking: dict[tuple[str, str], float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._persist_task: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._sem: asyncio.Semaphore | None = None

    # -- marks from the contents manager (no I/O) ---------------------------------------
    def state(self, workspace_id: str) -> WorkspaceState:
        return self.states.setdefault(workspace_id, WorkspaceState())

    def changed(self, workspace_id: str, rel: str) -> None:
        self._chunking.pop((workspace_id, rel), None)
        if not rel or is_skipped(rel):
            return
        self.state(workspace_id).pending[rel] = time.time()
        self._persist_soon(workspace_id)

    def chunk_received(self, workspace_id: str, rel: str) -> None:
        """A chunk of a large upload landed: not a file to back up until the last one."""
        self._chunking[(workspace_id, rel)] = time.monotonic()

    def removed(self, workspace_id: str, rel: str, is_dir: bool) -> None:
        if is_skipped(rel):
            return
        st = self.state(workspace_id)
        st.forget_under(rel)
        key = f"{workspace_id}/{rel}"
        st.deletes.append(key + "/" if is_dir else key)
        self._persist_soon(workspace_id)
        self.kick()

    def moved(self, old: tuple[str | None, str], new: tuple[str | None, str], is_dir: bool) -> None:
        """A rename: the old backup goes, the new path is backed up (the scan finds the
        files of a renamed folder)."""
        if old[0] and old[1]:
            self.removed(old[0], old[1], is_dir)
        if new[0] and new[1] and not is_dir:
            self.changed(new[0], new[1])
        self.kick()

    def kick(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # -- the loop ---------------------------------------------------------------------
    def start(self) -> None:
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(self.concurrency)
        self._loop_task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            held = list(self.leases.held)
            results = await asyncio.gather(
                *(self.backup(ws) for ws in held), return_exceptions=True
            )
            for ws, result in zip(held, results, strict=True):
                if isinstance(result, BaseException) and not isinstance(
                    result, asyncio.CancelledError
                ):
                    log.error("backup of %s failed", ws, exc_info=result)

    async def stop(self, budget: float) -> None:
        """Flush every Workspace this server holds (bounded), then persist the rest."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        held = list(self.leases.held)
        if held:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(self.flush(ws, budget) for ws in held)), budget
                )
        if self._persist_task is not None and not self._persist_task.done():
            self._persist_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._persist_task
        for ws in list(self.states):
            self._save_now(ws)

    # -- one pass over a Workspace ---------------------------------------------------------
    async def flush(self, workspace_id: str, budget: float) -> None:
        """Back up now, ignoring the backoff, until nothing is pending, the store is
        unreachable or ``budget`` seconds pass."""
        deadline = time.monotonic() + budget
        st = self.state(workspace_id)
        while time.monotonic() < deadline:
            before = set(st.pending)
            try:
                outage = await asyncio.wait_for(
                    self.backup(workspace_id, force=True), deadline - time.monotonic()
                )
            except TimeoutError:
                return
            ready = {p for p in st.pending if (workspace_id, p) not in self._chunking}
            stuck = bool(ready) and ready <= before and all(p in st.failed for p in ready)
            if outage or stuck or not (ready or st.deletes):
                return
            if self.leases.generation(workspace_id) is None or st.released_at is not None:
                return

    async def backup(self, workspace_id: str, *, force: bool = False) -> bool:
        """One pass; returns True when the store was unreachable."""
        lock = self._locks.setdefault(workspace_id, asyncio.Lock())
        async with lock:
            generation = self.leases.generation(workspace_id)
            if generation is None:
                return False
            st = self.state(workspace_id)
            if st.released_at is not None:
                return False  # the open has not sorted out unleased changes yet (unleased.py)
            await self._scan(workspace_id, st)
            if not (st.pending or st.deletes):
                return False
            now = time.time()
            if not force and self._retry_at.get(workspace_id, 0.0) > now:
                return False
            user = sorted(self.leases.held.get(workspace_id, {}) or ["unknown"])[0]
            try:
                await self._deletes(workspace_id, st)
                ready = [
                    rel
                    for rel in list(st.pending)
                    if (workspace_id, rel) not in self._chunking
                    and (force or st.failed.get(rel, {}).get("retry_at", 0.0) <= now)
                ]
                outage = asyncio.Event()
                await asyncio.gather(
                    *(self._one(workspace_id, st, rel, generation, user, outage) for rel in ready)
                )
                if outage.is_set():
                    raise _Outage()
            except _Outage:
                n = self._failures[workspace_id] = self._failures.get(workspace_id, 0) + 1
                self._retry_at[workspace_id] = time.time() + self._backoff(n)
                self._persist_soon(workspace_id)
                return True
            self._failures.pop(workspace_id, None)
            self._retry_at.pop(workspace_id, None)
            if not st.failed:
                st.last_error = None
            self._persist_soon(workspace_id)
            return False

    def _backoff(self, attempts: int) -> float:
        delay = min(self.interval * 2 ** max(0, attempts - 1), self.max_backoff)
        return float(delay * random.uniform(0.8, 1.0))

    async def _scan(self, workspace_id: str, st: WorkspaceState) -> None:
        """Mark files whose size or mtime differs from the manifest (stat only, in a thread)."""
        now = time.monotonic()
        for key, at in list(self._chunking.items()):
            if now - at > CHUNK_STALE_SECONDS:
                del self._chunking[key]
        known = {rel: (e.mtime_ns, e.size) for rel, e in st.manifest.items()}
        folder = self.folders.local_path(workspace_id)

        def scan() -> list[str]:
            out = []
            for rel, s in walk_files(folder).items():
                if known.get(rel) != (s.st_mtime_ns, s.st_size):
                    out.append(rel)
            return out

        changed = await asyncio.to_thread(scan)
        for rel in changed:
            if rel not in st.pending and (workspace_id, rel) not in self._chunking:
                st.pending[rel] = time.time()
                self._dirty.add(workspace_id)

    async def _deletes(self, workspace_id: str, st: WorkspaceState) -> None:
        while st.deletes:
            key = st.deletes[0]
            try:
                if key.endswith("/"):
                    await self.store.delete_prefix(key)
                else:
                    await self.store.delete(key)
            except StoreError as e:
                st.last_error = f"delete {key}: {e}"
                raise _Outage() from e
            st.deletes.pop(0)
            self._dirty.add(workspace_id)

    async def _one(
        self,
        workspace_id: str,
        st: WorkspaceState,
        rel: str,
        generation: int,
        user: str,
        outage: asyncio.Event,
    ) -> None:
        if self._sem is None:  # a flush before the loop started (early shutdown)
            self._sem = asyncio.Semaphore(self.concurrency)
        async with self._sem:
            if outage.is_set():
                return
            marked = st.pending.get(rel)
            path = self.folders.local_path(workspace_id) / rel
            try:
                read = await asyncio.to_thread(_read, path)
            except OSError as e:
                self._fail(st, rel, f"cannot read the file: {e}")
                return
            if read is None:
                st.pending.pop(rel, None)
                st.failed.pop(rel, None)
                return
            data, md5, stat = read
            entry = st.manifest.get(rel)
            try:
                if entry is None or entry.md5 != md5:
                    entry = await self._put(workspace_id, st, rel, data, md5, generation, user)
            except StoreUnavailable as e:
                self._fail(st, rel, str(e))
                outage.set()
                return
            except StoreError as e:
                self._fail(st, rel, str(e))
                return
            entry.mtime_ns, entry.size = stat.st_mtime_ns, stat.st_size
            st.manifest[rel] = entry
            st.failed.pop(rel, None)
            if st.pending.get(rel) == marked:
                st.pending.pop(rel, None)
            st.last_backup_at = now_iso()
            self._dirty.add(workspace_id)

    def _fail(self, st: WorkspaceState, rel: str, error: str) -> None:
        previous = st.failed.get(rel, {})
        attempts = int(previous.get("attempts", 0)) + 1
        st.failed[rel] = {
            "error": error,
            "attempts": attempts,
            "retry_at": time.time() + self._backoff(attempts),
        }
        st.last_error = f"{rel}: {error}"

    async def _put(
        self,
        workspace_id: str,
        st: WorkspaceState,
        rel: str,
        data: bytes,
        md5: str,
        generation: int,
        user: str,
    ) -> Entry:
        """Write conditionally on the ETag last seen; on a precondition failure compare
        generations: an older writer keeps a conflict copy, never overwrites."""
        key = f"{workspace_id}/{rel}"
        meta = {"md5": md5, "generation": str(generation), "writer": user}
        known = st.manifest.get(rel)
        etag = known.etag if known else ""
        for _ in range(4):
            try:
                if etag:
                    r = await self.store.put(key, data, if_match=etag, metadata=meta)
                else:
                    r = await self.store.put(key, data, if_none_match=True, metadata=meta)
                return Entry(md5, r.etag, generation)
            except PreconditionFailed:
                pass
            try:
                blob = await self.store.get(key)
            except ObjectNotFound:
                etag = ""
                continue
            theirs = int(blob.metadata.get("generation") or 0)
            if (blob.metadata.get("md5") or md5_hex(blob.data)) == md5:
                return Entry(md5, blob.etag, max(theirs, generation))
            if theirs > generation:
                await self._conflict(workspace_id, st, rel, data, meta, theirs, blob.metadata)
                # keep the old ETag: the next write by this (stale) writer is fenced again
                return Entry(md5, known.etag if known else "", generation)
            etag = blob.etag
        raise StoreUnavailable(f"{key}: the backup kept changing under us; will retry")

    async def _conflict(
        self,
        workspace_id: str,
        st: WorkspaceState,
        rel: str,
        data: bytes,
        meta: dict[str, str],
        theirs: int,
        their_meta: dict[str, str],
    ) -> None:
        copy = conflict_name(rel, meta["writer"])
        await self.store.put(f"{workspace_id}/{copy}", data, if_none_match=True, metadata=meta)
        st.conflicts.append(
            {
                "path": rel,
                "conflict_path": copy,
                "kind": "fenced",
                "message": f"The backup of {rel} was written by {their_meta.get('writer', '?')} "
                f"under a newer lease (generation {theirs} > {meta['generation']}); this "
                f"server's version was kept as {copy}",
                "at": now_iso(),
            }
        )
        del st.conflicts[:-100]
        log.warning("backup of %s/%s fenced; kept as %s", workspace_id, rel, copy)

    # -- status, persistence ------------------------------------------------------------
    def status(self, workspace_id: str) -> dict[str, Any]:
        st = self.states.get(workspace_id) or WorkspaceState()
        return {
            "workspace_id": workspace_id,
            "backup_uri": f"{self.store.uri}/{workspace_id}/",
            "active": self.leases.generation(workspace_id) is not None,
            "autosave_interval": self.interval,
            "last_backup_at": st.last_backup_at,
            "pending": sorted(st.pending),
            "pending_deletes": len(st.deletes),
            "failed": [
                {"path": p, "error": f.get("error"), "attempts": f.get("attempts", 0)}
                for p, f in sorted(st.failed.items())
            ],
            "conflicts": st.conflicts[-20:],
            "last_error": st.last_error,
        }

    def forget(self, workspace_id: str) -> None:
        self.states.pop(workspace_id, None)
        self._retry_at.pop(workspace_id, None)
        self._failures.pop(workspace_id, None)
        self._dirty.discard(workspace_id)
        self.files.remove(workspace_id)

    def _persist_soon(self, workspace_id: str) -> None:
        self._dirty.add(workspace_id)
        if self._persist_task is None or self._persist_task.done():
            try:
                self._persist_task = asyncio.get_running_loop().create_task(self._persist())
            except RuntimeError:  # no loop (tests of the part in isolation): write now
                self._save_now(workspace_id)

    async def _persist(self) -> None:
        await asyncio.sleep(0.05)  # coalesce a burst of saves into one write
        while self._dirty:
            dirty, self._dirty = self._dirty, set()
            for ws in dirty:
                if ws in self.states:
                    data = self.states[ws].to_json()
                    await asyncio.to_thread(self.files.save, ws, data)

    def _save_now(self, workspace_id: str) -> None:
        if workspace_id in self.states:
            self.files.save(workspace_id, self.states[workspace_id].to_json())
