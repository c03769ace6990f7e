"""Bring a Workspace's files back from its backups when it is opened.

Rules, per backup key (compared with this server's manifest, i.e. the last point where
the local file and its backup agreed):
- missing locally: download it;
- backup unchanged since it last agreed: nothing to do (local edits are backed up later);
- backup changed, local file unchanged: download it;
- both changed (or no common point and different content): keep both; the local file
  stays, the backup's version is written beside it as ``name.conflict-<writer>-<time>.ext``;
- keys that would escape the Workspace folder are refused and reported, never written;
- keys that cannot be written here are refused and reported too, and the rest goes on:
  ``d`` beside ``d/f`` (a file named like a folder of the backup: the folder wins), or a
  key whose place on disk is taken by a folder, or whose folder is taken by a file.
Downloads run in parallel (``restore_concurrency``); disk work runs in threads.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..store import BlobStore, ObjectInfo, StoreError
from .backup import BackupScheduler, conflict_name, md5_hex, now_iso
from .paths import is_skipped, safe_target, unsafe_reason, walk_files
from .state import Entry, WorkspaceState

_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')


def _write_atomic(target: Path, data: bytes) -> os.stat_result:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".emr-restore-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target.stat()


def _md5_file(path: Path) -> str:
    return md5_hex(path.read_bytes())


async def _limited(factories: list[Callable[[], Awaitable[None]]], limit: int) -> None:
    sem = asyncio.Semaphore(max(1, limit))

    async def run(factory: Callable[[], Awaitable[None]]) -> None:
        async with sem:
            await factory()

    await asyncio.gather(*(run(f) for f in factories))


def _refusing(
    key: str, refused: list[dict[str, str]], factory: Callable[[], Awaitable[None]]
) -> Callable[[], Awaitable[None]]:
    """Run a download; a key the disk cannot take (a folder in a file's place, a file in
    a folder's) is reported as refused instead of failing the whole open."""

    async def run() -> None:
        try:
            await factory()
        except OSError as e:
            refused.append({"key": key, "reason": f"cannot be written here: {e.strerror or e}"})

    return run


class Restorer:
    def __init__(self, store: BlobStore, scheduler: BackupScheduler, concurrency: int):
        self.store, self.scheduler, self.concurrency = store, scheduler, concurrency

    async def restore(self, workspace_id: str, folder: Path) -> dict[str, Any]:
        prefix = f"{workspace_id}/"
        st = self.scheduler.state(workspace_id)
        infos, local = await asyncio.gather(
            self.store.list(prefix), asyncio.to_thread(walk_files, folder)
        )
        restored: list[str] = []
        conflicts: list[dict[str, Any]] = []
        refused: list[dict[str, str]] = []
        work: list[Callable[[], Awaitable[None]]] = []
        # queued deletes (a file, or a folder as "dir/"): never bring those back
        deleting = [d.key[len(prefix) :] for d in st.deletes if d.key.startswith(prefix)]
        deleting = [d if d.endswith("/") else d + "/" for d in deleting] + deleting
        rels = {info.key[len(prefix) :] for info in infos}
        folders = {r.rsplit("/", i)[0] for r in rels for i in range(1, r.count("/") + 1)}
        for info in infos:
            rel = info.key[len(prefix) :]
            if rel.endswith("/") and info.size == 0:
                continue  # a "folder" marker some S3 tools create
            reason = unsafe_reason(rel)
            target = None if reason else safe_target(folder, rel)
            if target is None:
                refused.append({"key": info.key, "reason": reason or "escapes the folder"})
                continue
            if rel in folders:
                refused.append(
                    {
                        "key": info.key,
                        "reason": f"the backup also has files under {rel}/: a file and a "
                        "folder cannot share a name on disk; the folder was restored",
                    }
                )
                continue
            if is_skipped(rel) or any(rel == d.rstrip("/") or rel.startswith(d) for d in deleting):
                continue
            action = await self._decide(st, rel, info, target, local.get(rel))
            if action == "download":
                work.append(
                    _refusing(
                        info.key,
                        refused,
                        functools.partial(self._download, st, rel, info, target, restored),
                    )
                )
            elif action == "conflict":
                work.append(
                    _refusing(
                        info.key,
                        refused,
                        functools.partial(self._keep_both, st, rel, info, target, conflicts),
                    )
                )
        try:
            await _limited(work, self.concurrency)
        finally:
            self.scheduler._persist_soon(workspace_id)
        return {"restored": len(restored), "conflicts": conflicts, "refused": refused}

    async def _decide(
        self,
        st: WorkspaceState,
        rel: str,
        info: ObjectInfo,
        target: Path,
        local: os.stat_result | None,
    ) -> str:
        entry = st.manifest.get(rel)
        if local is None:
            return "download"
        if entry is not None and entry.etag == info.etag:
            return "none"  # backup unchanged since we agreed; local edits go up later
        local_changed = entry is None or not entry.same_stat(local)
        if local_changed and entry is not None:
            local_changed = await asyncio.to_thread(_md5_file, target) != entry.md5
        if entry is not None and not local_changed:
            return "download"
        # No common point (or both changed): equal content is agreement, not a conflict.
        remote_md5 = _MD5_ETAG.match(info.etag)
        local_md5 = await asyncio.to_thread(_md5_file, target)
        if remote_md5 and remote_md5.group(1) == local_md5:
            st.manifest[rel] = Entry(local_md5, info.etag, 0, local.st_mtime_ns, local.st_size)
            st.pending.pop(rel, None)
            return "none"
        return "conflict"

    async def _download(
        self, st: WorkspaceState, rel: str, info: ObjectInfo, target: Path, restored: list[str]
    ) -> None:
        try:
            blob = await self.store.get(info.key)
        except StoreError:
            return  # gone meanwhile, or unreachable: the next open tries again
        stat = await asyncio.to_thread(_write_atomic, target, blob.data)
        md5 = await asyncio.to_thread(md5_hex, blob.data)
        generation = int(blob.metadata.get("generation") or 0)
        st.manifest[rel] = Entry(md5, blob.etag, generation, stat.st_mtime_ns, stat.st_size)
        st.pending.pop(rel, None)
        restored.append(rel)

    async def _keep_both(
        self,
        st: WorkspaceState,
        rel: str,
        info: ObjectInfo,
        target: Path,
        conflicts: list[dict[str, Any]],
    ) -> None:
        try:
            blob = await self.store.get(info.key)
        except StoreError:
            return
        writer = blob.metadata.get("writer") or "backup"
        copy = conflict_name(rel, writer)
        copy_target = target.parent / Path(copy).name
        await asyncio.to_thread(_write_atomic, copy_target, blob.data)
        md5 = await asyncio.to_thread(md5_hex, blob.data)
        # From now on the local file is the one to back up, over the version we kept.
        known = st.manifest.get(rel)
        generation = int(blob.metadata.get("generation") or 0)
        mtime, size = (known.mtime_ns, known.size) if known else (0, -1)
        st.manifest[rel] = Entry(md5, blob.etag, generation, mtime, size)
        st.pending[rel] = time.time()
        fact = {
            "path": rel,
            "conflict_path": copy,
            "kind": "both-changed",
            "message": f"{rel} changed here and in its backup since they last agreed; the "
            f"backup's version was kept as {copy}",
            "at": now_iso(),
        }
        st.conflicts.append(fact)
        conflicts.append(fact)
