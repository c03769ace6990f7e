"""The backup scheduler: every ``autosave_interval`` seconds, send what changed.

Saves only mark paths (no I/O); a local scan (stat only) also catches files written by
kernels or terminals. A file whose checksum matches the manifest costs no request. Each
write carries the lease generation and this server's id and is conditional on the ETag
this server last wrote, so a server whose lease was taken over never overwrites a newer
backup, and two servers holding one Workspace together (collaboration) never overwrite
each other: the loser keeps its version as a conflict copy beside it instead. Deletes
are fenced the same way (see ``_delete_one``). Nothing is written once this server's
lease has run out (in the store's time). Failures never reach the save: files stay
pending, are retried with exponential backoff and are shown in the status.
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
from .state import Entry, QueuedDelete, StateFiles, WorkspaceState

log = logging.getLogger(__name__)

#: A chunked upload with no chunk for this long is taken as abandoned and backed up as is.
CHUNK_STALE_SECONDS = 3600.0

#: No write or delete starts under a lease with less time than this left (store time):
#: a request in flight must not outlive the lease it was fenced by.
FENCE_MARGIN_SECONDS = 2.0
#: How long a lease check made before creating a backup object stands for the next ones.
CREATE_CHECK_SECONDS = 1.0


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


class _Fenced(Exception):
    """This server's lease ended (expired, taken over, released): stop writing."""


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
        #: Workspace → (monotonic time, lock) of the last lease check before a create
        self._create_checks: dict[str, tuple[float, asyncio.Lock]] = {}
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._dirty: set[str] = set()
        #: Workspaces where a backup written under a newer generation was met this pass
        self._outrun: set[str] = set()
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
        under = rel.rstrip("/") + "/"
        # the backups as this server last agreed with them: one written since by another
        # lease holds content the user deleting here never saw
        seen = {
            f"{workspace_id}/{r}": e.etag
            for r, e in st.manifest.items()
            if (r == rel or r.startswith(under)) and e.etag
        }
        st.forget_under(rel)
        key = f"{workspace_id}/{rel}"
        # the generation the delete was decided under: it may never remove a backup written
        # under a newer one, however long it waits (0 without a lease: only unfenced ones)
        generation = self.leases.generation(workspace_id) or 0
        item = QueuedDelete(key + "/" if is_dir else key, generation, self.leases.server_id, seen)
        st.deletes.append(item)
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
            held = self.leases.held_workspaces()
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
        held = self.leases.held_workspaces()
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
        """One pass; returns True when it had to stop: the store was unreachable or this
        server's lease ended."""
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
            user = (self.leases.held_users(workspace_id) or ["unknown"])[0]
            try:
                await self._deletes(workspace_id, st)
                ready = [
                    rel
                    for rel in list(st.pending)
                    if (workspace_id, rel) not in self._chunking
                    and (force or st.failed.get(rel, {}).get("retry_at", 0.0) <= now)
                ]
                outage, fenced = asyncio.Event(), asyncio.Event()
                await asyncio.gather(
                    *(
                        self._one(workspace_id, st, rel, generation, user, outage, fenced)
                        for rel in ready
                    )
                )
                if workspace_id in self._outrun:
                    # a newer generation wrote here: the lease was most likely taken over;
                    # ask the lock now rather than wait for a heartbeat to tell
                    self._outrun.discard(workspace_id)
                    with contextlib.suppress(StoreError):
                        if await self.leases.verify(workspace_id) is None:
                            fenced.set()
                if fenced.is_set():
                    raise _Fenced()
                if outage.is_set():
                    raise _Outage()
            except _Fenced:
                why = self.leases.lost.get(workspace_id) or "the lease is about to run out"
                st.last_error = f"backups stopped: {why}"
                self._persist_soon(workspace_id)
                return True
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

    async def run_deletes(self, workspace_id: str) -> None:
        """Run the queued deletes now (on open, before restore: a refused one must not
        keep its newer backup from being restored). Store errors leave them queued."""
        lock = self._locks.setdefault(workspace_id, asyncio.Lock())
        async with lock:
            st = self.state(workspace_id)
            with contextlib.suppress(_Outage, _Fenced):
                await self._deletes(workspace_id, st)
            self._persist_soon(workspace_id)

    async def _deletes(self, workspace_id: str, st: WorkspaceState) -> None:
        if not st.deletes:
            return
        # Once per round, from the lock itself: a lease that was taken over (or released
        # by an admin) must not delete anything, even before its time is up.
        try:
            current = await self.leases.verify(workspace_id)
        except StoreError as e:
            st.last_error = f"lease check before deleting: {e}"
            raise _Outage() from e
        if current is None:
            raise _Fenced()
        while st.deletes:
            item = st.deletes[0]
            try:
                if item.key.endswith("/"):
                    keys = [i.key for i in await self.store.list(item.key)]
                else:
                    keys = [item.key]
                for key in keys:
                    kept = await self._delete_one(
                        workspace_id, key, item.generation, item.server, item.seen
                    )
                    if kept is not None:
                        self._delete_refused(workspace_id, st, key, item.generation, kept)
            except StoreError as e:
                st.last_error = f"delete {item.key}: {e}"
                raise _Outage() from e
            st.deletes.pop(0)
            self._dirty.add(workspace_id)

    async def _delete_one(
        self,
        workspace_id: str,
        key: str,
        allowed: int,
        decided_by: str,
        seen: dict[str, str] | None = None,
    ) -> dict[str, str] | None:
        """Delete ``key`` unless its backup is newer than the delete: written under a
        generation above ``allowed`` (after a takeover), or under the same one by a server
        other than ``decided_by`` (a collaborator's). The delete is conditional on the ETag
        just read, so a write landing in between is never removed. Returns the kept
        object's metadata.

        ``seen``: key → the ETag this server agreed on when the delete was decided. A
        backup with another one was written since by an older lease (a server that had
        not yet learned it was taken over): its content was never seen here, so it is
        kept as a conflict copy before the key goes, as ``_put`` keeps it before
        replacing it."""
        for _ in range(4):
            try:
                info = await self.store.head(key)
            except ObjectNotFound:
                return None
            theirs = int(info.metadata.get("generation") or 0)
            server = info.metadata.get("server")
            if theirs > allowed or (theirs == allowed and server != decided_by):
                return info.metadata
            if self.leases.generation(workspace_id, margin=FENCE_MARGIN_SECONDS) is None:
                raise _Fenced()
            unseen = seen is not None and seen.get(key) != info.etag
            if unseen and not (theirs == allowed and server == decided_by):
                try:
                    blob = await self.store.get(key)
                except ObjectNotFound:
                    return None
                if blob.etag != info.etag:
                    continue  # rewritten meanwhile: look again
                rel = key.removeprefix(f"{workspace_id}/")
                st = self.state(workspace_id)
                await self._keep_theirs(
                    workspace_id, st, rel, blob.data, blob.metadata, then="this server deleted it"
                )
            try:
                await self.store.delete(key, if_match=info.etag)
                return None
            except PreconditionFailed:
                continue  # rewritten or deleted meanwhile: look again
        raise StoreUnavailable(f"{key}: the backup kept changing under us; will retry")

    async def delete_fenced(self, workspace_id: str, key: str, generation: int) -> bool:
        """One fenced delete outside the queue (checkpoints); False when it was kept.
        A lease about to run out raises StoreUnavailable: the caller queues it."""
        try:
            kept = await self._delete_one(workspace_id, key, generation, self.leases.server_id)
        except _Fenced:
            raise StoreUnavailable(
                f"{key}: the lease of {workspace_id} on this server is ending"
            ) from None
        if kept is not None:
            self._delete_refused(workspace_id, self.state(workspace_id), key, generation, kept)
            self._persist_soon(workspace_id)
        return kept is None

    def _delete_refused(
        self, workspace_id: str, st: WorkspaceState, key: str, ours: int, theirs: dict[str, str]
    ) -> None:
        rel = key.removeprefix(f"{workspace_id}/")
        st.conflicts.append(
            {
                "path": rel,
                "conflict_path": rel,
                "kind": "delete-refused",
                "message": f"{rel} was deleted here under lease generation {ours}, but its "
                f"backup was written since by {theirs.get('writer', '?')} (generation "
                f"{theirs.get('generation', '?')}, server {theirs.get('server', '?')}); the "
                "backup was kept and comes back on the next open",
                "at": now_iso(),
            }
        )
        del st.conflicts[:-100]
        log.warning("delete of %s refused: its backup is newer than the delete", key)

    async def _one(
        self,
        workspace_id: str,
        st: WorkspaceState,
        rel: str,
        generation: int,
        user: str,
        outage: asyncio.Event,
        fenced: asyncio.Event,
    ) -> None:
        if self._sem is None:  # a flush before the loop started (early shutdown)
            self._sem = asyncio.Semaphore(self.concurrency)
        async with self._sem:
            if outage.is_set() or fenced.is_set():
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
            except _Fenced:
                fenced.set()
                return
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
        """Write conditionally on the ETag last seen. When someone else wrote since:
        - under a newer generation (they took the lease over) or under ours from another
          server (we hold it together): ours becomes a conflict copy, theirs stays;
        - under an older generation from another server: theirs is kept as a conflict
          copy, then ours replaces it (the newest lease owns the name);
        - by this server (a write whose ETag a crash lost): ours replaces it."""
        key = f"{workspace_id}/{rel}"
        me = self.leases.server_id
        meta = {"md5": md5, "generation": str(generation), "writer": user, "server": me}
        known = st.manifest.get(rel)
        etag = known.etag if known else ""
        for _ in range(4):
            if self.leases.generation(workspace_id, margin=FENCE_MARGIN_SECONDS) is None:
                raise _Fenced()
            try:
                if etag:
                    r = await self.store.put(key, data, if_match=etag, metadata=meta)
                else:
                    await self._check_before_create(workspace_id)
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
            # no server named: written by EMR Studio, a person, or an older version of this
            another = blob.metadata.get("server") != me
            if theirs > generation or (theirs == generation and another):
                await self._conflict(workspace_id, st, rel, data, meta, theirs, blob.metadata)
                # keep the old ETag: the next write by this (stale) writer is fenced again
                return Entry(md5, known.etag if known else "", generation)
            if another:
                await self._keep_theirs(workspace_id, st, rel, blob.data, blob.metadata)
            etag = blob.etag
        raise StoreUnavailable(f"{key}: the backup kept changing under us; will retry")

    async def _check_before_create(self, workspace_id: str) -> None:
        """A create leaves nothing to be fenced by: a key the next holder deleted (or
        never had) would come back under our older generation. So before creating, read
        the lock (at most once a second per Workspace, shared by concurrent uploads): a
        lease that was taken over is dropped here and the create is fenced."""
        at, lock = self._create_checks.setdefault(workspace_id, (0.0, asyncio.Lock()))
        async with lock:
            at = self._create_checks[workspace_id][0]
            if time.monotonic() - at < CREATE_CHECK_SECONDS:
                if self.leases.generation(workspace_id) is None:
                    raise _Fenced()
                return
            try:
                current = await self.leases.verify(workspace_id)
            except StoreError as e:
                raise StoreUnavailable(f"lease check before a new backup: {e}") from e
            self._create_checks[workspace_id] = (time.monotonic(), lock)
            if current is None:
                raise _Fenced()

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
        if theirs > int(meta["generation"]):
            why = f"under a newer lease (generation {theirs} > {meta['generation']})"
            self._outrun.add(workspace_id)
        else:
            why = f"by server {their_meta.get('server')}, which holds the lease with this one"
        st.conflicts.append(
            {
                "path": rel,
                "conflict_path": copy,
                "kind": "fenced",
                "message": f"The backup of {rel} was written by {their_meta.get('writer', '?')} "
                f"{why}; this server's version was kept as {copy}",
                "at": now_iso(),
            }
        )
        del st.conflicts[:-100]
        log.warning("backup of %s/%s fenced; kept as %s", workspace_id, rel, copy)

    async def _keep_theirs(
        self,
        workspace_id: str,
        st: WorkspaceState,
        rel: str,
        data: bytes,
        their_meta: dict[str, str],
        *,
        then: str = "this server's version replaced it",
    ) -> None:
        """An older lease's write landed after we last agreed: keep it beside ours."""
        copy = conflict_name(rel, their_meta.get("writer") or "unknown")
        await self.store.put(
            f"{workspace_id}/{copy}", data, if_none_match=True, metadata=dict(their_meta)
        )
        st.conflicts.append(
            {
                "path": rel,
                "conflict_path": copy,
                "kind": "superseded",
                "message": f"The backup of {rel} was written by {their_meta.get('writer', '?')} "
                f"on server {their_meta.get('server')} under an older lease (generation "
                f"{their_meta.get('generation', '?')}); it was kept as {copy} before {then}",
                "at": now_iso(),
            }
        )
        del st.conflicts[:-100]

    # -- status, persistence ------------------------------------------------------------
    def status(self, workspace_id: str) -> dict[str, Any]:
        st = self.states.get(workspace_id) or WorkspaceState()
        active = self.leases.generation(workspace_id) is not None
        lost = None if active else self.leases.lost.get(workspace_id)
        return {
            "workspace_id": workspace_id,
            "backup_uri": f"{self.store.uri}/{workspace_id}/",
            "active": active,
            "lease_lost": lost,
            "autosave_interval": self.interval,
            "last_backup_at": st.last_backup_at,
            "pending": sorted(st.pending),
            "pending_deletes": len(st.deletes),
            "failed": [
                {"path": p, "error": f.get("error"), "attempts": f.get("attempts", 0)}
                for p, f in sorted(st.failed.items())
            ],
            "conflicts": st.conflicts[-20:],
            "last_error": f"backups stopped: {lost}" if lost else st.last_error,
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
