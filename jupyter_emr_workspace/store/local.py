"""BlobStore on a local folder: the embedded default, and a store for one machine.

Writes go to a temporary file and are renamed into place, so readers never see a
half-written object. Conditional writes take an exclusive ``flock`` on a lock file
in the folder, so several server processes on one machine share it safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .base import (
    Blob,
    BlobStore,
    Listing,
    ObjectInfo,
    ObjectNotFound,
    PreconditionFailed,
    WriteResult,
    check_key,
)

_META_DIR = ".emr-store-meta"
_LOCK_FILE = ".emr-store.lock"
_TMP_PREFIX = ".emr-tmp-"
#: Objects up to this size without metadata (lock documents, Workspace metadata, the
#: listing index) get S3's ETag, the MD5 of their bytes: rewriting identical bytes keeps
#: the ETag and moves only the modification time, which is how a lease renewal stays
#: invisible to listings (``leases.py``). Larger objects keep the version ETag, so a
#: listing of backups never reads their contents.
CONTENT_ETAG_MAX = 64 * 1024


def _etag(st: os.stat_result) -> str:
    # Every write renames a new file into place, so (inode, mtime, size) names a version.
    return f'"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"'


def _content_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def _now() -> datetime:
    return datetime.now(UTC)


class LocalStore(BlobStore):
    def __init__(self, root: str | os.PathLike[str], executor: ThreadPoolExecutor | None = None):
        super().__init__()
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.uri = str(self.root)
        self._executor = executor

    # -- helpers -----------------------------------------------------------------
    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:
            raise ValueError(f"invalid store key {key!r}: escapes the store folder")
        return path

    def _meta_path(self, key: str) -> Path:
        return self.root / _META_DIR / (check_key(key) + ".json")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / _LOCK_FILE, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- blocking implementations (run in the executor) ----------------------------
    def _get(self, key: str) -> Blob:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                data = fh.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        meta: dict[str, str] = {}
        has_meta = False
        with contextlib.suppress(FileNotFoundError, ValueError):
            meta = json.loads(self._meta_path(key).read_text())
            has_meta = True
        return Blob(
            data=data,
            etag=_content_etag(data) if self._by_content(st, has_meta) else _etag(st),
            store_time=_now(),
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
            metadata=meta,
        )

    def _head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        meta: dict[str, str] = {}
        with contextlib.suppress(FileNotFoundError, ValueError):
            meta = json.loads(self._meta_path(key).read_text())
        version = self._version(key, path)
        if version is None:
            raise ObjectNotFound(key)
        etag, st = version
        modified = datetime.fromtimestamp(st.st_mtime, UTC)
        return ObjectInfo(key, etag, st.st_size, modified, meta)

    @staticmethod
    def _by_content(st: os.stat_result, has_meta: bool) -> bool:
        return st.st_size <= CONTENT_ETAG_MAX and not has_meta

    def _version(self, key: str, path: Path) -> tuple[str, os.stat_result] | None:
        """The object's ETag and stat, read from one open file (a concurrent replace
        cannot pair one version's size with another's bytes); None when missing."""
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    return None
                if self._by_content(st, self._meta_path(key).exists()):
                    return _content_etag(fh.read()), st
                return _etag(st), st
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def _current_etag(self, key: str, path: Path) -> str | None:
        version = self._version(key, path)
        return version[0] if version else None

    def _put(
        self,
        key: str,
        data: bytes,
        if_match: str | None,
        if_none_match: bool,
        metadata: dict[str, str] | None,
    ) -> WriteResult:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            with self._locked():
                current = self._current_etag(key, path)
                if if_none_match and current is not None:
                    raise PreconditionFailed(f"{key} already exists")
                if if_match is not None and current != if_match:
                    raise PreconditionFailed(f"{key} changed since it was read")
                self._write_meta(key, metadata)
                os.replace(tmp, path)
                st = path.stat()
                etag = _content_etag(data) if self._by_content(st, bool(metadata)) else _etag(st)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return WriteResult(etag=etag, store_time=_now())

    def _write_meta(self, key: str, metadata: dict[str, str] | None) -> None:
        meta_path = self._meta_path(key)
        if metadata:
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = meta_path.with_name(_TMP_PREFIX + meta_path.name)
            tmp.write_text(json.dumps(metadata))
            os.replace(tmp, meta_path)
        else:
            with contextlib.suppress(FileNotFoundError):
                meta_path.unlink()

    def _delete(self, key: str, if_match: str | None) -> None:
        path = self._path(key)
        with self._locked():
            current = self._current_etag(key, path)
            if if_match is not None and current != if_match:
                raise PreconditionFailed(f"{key} changed since it was read")
            if current is None:
                return
            path.unlink()
            with contextlib.suppress(FileNotFoundError):
                self._meta_path(key).unlink()
        self._prune_empty_dirs(path.parent)

    def _prune_empty_dirs(self, folder: Path) -> None:
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def _list(self, prefix: str) -> list[ObjectInfo]:
        out: list[ObjectInfo] = []
        # Walk only the deepest folder the prefix names, not the whole store.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / base if base else self.root
        if not start.is_dir():
            return out
        for dirpath, dirnames, filenames in os.walk(start):
            rel_dir = os.path.relpath(dirpath, self.root)
            if rel_dir == ".":
                rel_dir = ""
                dirnames[:] = [d for d in dirnames if d != _META_DIR]
            for name in filenames:
                if name.startswith(_TMP_PREFIX) or (not rel_dir and name == _LOCK_FILE):
                    continue
                key = f"{rel_dir}/{name}" if rel_dir else name
                if not key.startswith(prefix):
                    continue
                version = self._version(key, Path(dirpath) / name)
                if version is None:
                    continue
                etag, st = version
                out.append(
                    ObjectInfo(key, etag, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))
                )
        out.sort(key=lambda info: info.key)
        return out

    # -- async API -------------------------------------------------------------------
    async def get(self, key: str) -> Blob:
        self.requests["get"] += 1
        blob: Blob = await self._run(self._get, key)
        return blob

    async def head(self, key: str) -> ObjectInfo:
        self.requests["head"] += 1
        info: ObjectInfo = await self._run(self._head, key)
        return info

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_none_match: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        self.requests["put"] += 1
        result: WriteResult = await self._run(
            self._put, key, data, if_match, if_none_match, metadata
        )
        return result

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        self.requests["delete"] += 1
        await self._run(self._delete, key, if_match)

    async def list(self, prefix: str) -> list[ObjectInfo]:
        self.requests["list"] += 1
        infos: list[ObjectInfo] = await self._run(self._list, prefix)
        return infos

    async def list_at(self, prefix: str) -> Listing:
        # the folder's clock is this machine's: the time of the answer is now
        return await self.list(prefix), _now()


# -- the registry's entry points (store/__init__.py: BACKENDS) ------------------------------
URI_FORM = "a folder (or file:///folder)"


def folder_of(uri: str) -> str:
    """The folder a plain path or a ``file://`` URI names."""
    if not uri.lower().startswith("file://"):
        return uri
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost") or not parts.path:
        raise ValueError(f"{uri!r}: use file:///absolute/folder (no host)")
    return unquote(parts.path)


def check_uri(uri: str) -> None:
    if not folder_of(uri):
        raise ValueError("an empty folder path")


def open_uri(uri: str, clients: Any) -> LocalStore:
    return LocalStore(folder_of(uri))
