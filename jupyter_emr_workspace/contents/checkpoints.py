"""Checkpoints of Workspace files, kept in the backup location beside the backups.

Layout: ``.emr-workspace/checkpoints/<workspace-id>/<relative path>/<checkpoint-id>``.
Keeping them under the Studio's backup location (not in ``.ipynb_checkpoints`` on the
server's disk) means they follow the Workspace to any server, like its backups; keeping
them apart from ``<workspace-id>/`` means they are never restored as files and never
mistaken for notebooks by EMR Studio. Ids are UTC timestamps, so listing order is age.
Outside Workspaces this *is* jupyter_server's stock ``AsyncFileCheckpoints`` (a subclass
whose every method falls through to it), so its config (``c.FileCheckpoints.*``), its
attributes (``checkpoint_dir``, ``checkpoint_path``) and its results are the stock ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from tornado import web

from ..store import ObjectNotFound, StoreError

PREFIX = ".emr-workspace/checkpoints"

#: Set while the contents manager saves: jupyter_server's notebook save asks
#: ``list_checkpoints`` so that "one checkpoint always exists"; for Workspace files that
#: question must not cost a request (or fail when S3 is down) in the save path.
IN_SAVE: contextvars.ContextVar[bool] = contextvars.ContextVar("emr_ws_in_save", default=False)


def checkpoint_prefix(workspace_id: str) -> str:
    return f"{PREFIX}/{workspace_id}/"


def new_checkpoint_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _id_time(checkpoint_id: str, fallback: datetime | None) -> datetime:
    try:
        return datetime.strptime(checkpoint_id, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return fallback or datetime.now(UTC)


@contextlib.contextmanager
def _store_errors(what: str) -> Iterator[None]:
    try:
        yield
    except ObjectNotFound:
        raise web.HTTPError(404, f"{what}: checkpoint not found") from None
    except StoreError as e:
        raise web.HTTPError(
            503, f"{what}: the backup location is unreachable ({e}); try again shortly"
        ) from e


class WorkspaceCheckpoints(AsyncFileCheckpoints):
    """Workspace files go to the backup location; every other path is stock (``super()``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Workspace paths known to have at least one checkpoint (no request to ask again).
        self._known: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def storage(self) -> Any:
        return getattr(self.parent, "storage", None)

    def _target(self, path: str) -> tuple[Any, str] | None:
        """(storage, key prefix of the file's checkpoints), or None outside Workspaces."""
        storage = self.storage
        if storage is None:
            return None
        workspace_id, rel = storage.folders.workspace_of(path)
        if not workspace_id or not rel:
            return None
        return storage, f"{checkpoint_prefix(workspace_id)}{rel}/"

    # -- the checkpoints API ------------------------------------------------------------
    async def create_checkpoint(
        self, contents_mgr: Any, path: str, *, prune: bool = True
    ) -> dict[str, Any]:
        target = self._target(path)
        if target is None:
            return await super().create_checkpoint(contents_mgr, path)
        storage, prefix = target
        os_path = contents_mgr._get_os_path(path.strip("/"))
        try:
            data = await asyncio.to_thread(_read_bytes, os_path)
        except FileNotFoundError:
            raise web.HTTPError(404, f"No such file: {path}") from None
        except IsADirectoryError:
            raise web.HTTPError(400, f"Folders have no checkpoints: {path}") from None
        return await self._put(storage, prefix, data, prune=prune)

    async def _put(
        self, storage: Any, prefix: str, data: bytes, *, prune: bool = True
    ) -> dict[str, Any]:
        checkpoint_id = new_checkpoint_id()
        with _store_errors("create checkpoint"):
            result = await storage.put_object(prefix + checkpoint_id, data)
            self._known.add(prefix)
            if prune:
                await self._prune(storage, prefix)
        return {"id": checkpoint_id, "last_modified": result.store_time}

    def _ensure_one_later(self, contents_mgr: Any, path: str, prefix: str) -> None:
        """Stock behaviour (a first checkpoint for every notebook), off the save path."""

        async def ensure() -> None:
            IN_SAVE.set(False)  # this task inherited the save's context: ask for real
            try:
                if not await self.list_checkpoints(path):
                    await self.create_checkpoint(contents_mgr, path, prune=False)
            except Exception as e:  # S3 down or file gone: the next save tries again
                self.log.debug("first checkpoint of %s not created: %s", path, e)

        task = asyncio.ensure_future(ensure())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _prune(self, storage: Any, prefix: str) -> None:
        keep = max(1, storage.checkpoints_per_file)
        infos = await storage.store.list(prefix)
        for info in infos[:-keep]:
            await storage.delete_object(info.key)

    async def restore_checkpoint(self, contents_mgr: Any, checkpoint_id: str, path: str) -> None:
        target = self._target(path)
        if target is None:
            await super().restore_checkpoint(contents_mgr, checkpoint_id, path)
            return
        storage, prefix = target
        with _store_errors("restore checkpoint"):
            blob = await storage.store.get(prefix + _check_id(checkpoint_id))
        await contents_mgr.save(_model(path, blob.data), path)

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        target = self._target(path)
        if target is None:
            return await super().list_checkpoints(path)
        storage, prefix = target
        if IN_SAVE.get():
            if prefix not in self._known:
                self._known.add(prefix)  # one check per file and server run
                self._ensure_one_later(self.parent, path, prefix)
            return [{"id": "pending", "last_modified": datetime.now(UTC)}]
        with _store_errors("list checkpoints"):
            infos = await storage.store.list(prefix)
        if infos:
            self._known.add(prefix)
        out = []
        for info in infos:
            checkpoint_id = info.key[len(prefix) :]
            if "/" not in checkpoint_id:  # deeper keys belong to files in a folder named so
                when = _id_time(checkpoint_id, info.last_modified)
                out.append({"id": checkpoint_id, "last_modified": when})
        return out

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        target = self._target(path)
        if target is None:
            await super().delete_checkpoint(checkpoint_id, path)
            return
        storage, prefix = target
        self._known.discard(prefix)
        with _store_errors("delete checkpoint"):
            await storage.delete_object(prefix + _check_id(checkpoint_id))

    async def rename_checkpoint(self, checkpoint_id: str, old_path: str, new_path: str) -> None:
        old, new = self._target(old_path), self._target(new_path)
        if old is None and new is None:
            await super().rename_checkpoint(checkpoint_id, old_path, new_path)
            return
        if old is None or new is None:
            return  # moved into or out of a Workspace: checkpoints stay where they were
        storage = old[0]
        with _store_errors("rename checkpoint"):
            blob = await storage.store.get(old[1] + _check_id(checkpoint_id))
            await storage.put_object(new[1] + checkpoint_id, blob.data)
            await storage.delete_object(old[1] + checkpoint_id)

    async def rename_all_checkpoints(self, old_path: str, new_path: str) -> None:
        """A file or a whole folder: every checkpoint under the old prefix moves."""
        old, new = self._target(old_path), self._target(new_path)
        if old is None and new is None:
            await super().rename_all_checkpoints(old_path, new_path)
            return
        if old is None or new is None:
            return
        storage = old[0]
        self._known = {p for p in self._known if not p.startswith(old[1])}
        try:
            for info in await storage.store.list(old[1]):
                blob = await storage.store.get(info.key)
                await storage.put_object(new[1] + info.key[len(old[1]) :], blob.data)
                await storage.delete_object(info.key)
        except StoreError as e:  # the rename itself succeeded; do not fail it
            self.log.warning("checkpoints of %s not moved to %s: %s", old_path, new_path, e)

    async def delete_all_checkpoints(self, path: str) -> None:
        """A file or a whole folder; if the store is down, the delete is queued."""
        target = self._target(path)
        if target is None:
            await super().delete_all_checkpoints(path)
            return
        storage, prefix = target
        self._known = {p for p in self._known if not p.startswith(prefix)}
        try:
            await storage.delete_prefix(prefix)
        except StoreError as e:
            self.log.warning("checkpoints of %s: delete queued (%s)", path, e)
            storage.queue_delete(path, prefix)


def _check_id(checkpoint_id: str) -> str:
    if not checkpoint_id or "/" in checkpoint_id or checkpoint_id in {".", ".."}:
        raise web.HTTPError(400, f"invalid checkpoint id {checkpoint_id!r}")
    return checkpoint_id


def _read_bytes(os_path: str) -> bytes:
    with open(os_path, "rb") as fh:
        return fh.read()


def _model(path: str, data: bytes) -> dict[str, Any]:
    """A contents model that saves ``data`` back to ``path`` byte for byte where it can."""
    if path.endswith(".ipynb"):
        return {"type": "notebook", "content": json.loads(data)}
    try:
        return {"type": "file", "format": "text", "content": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"type": "file", "format": "base64", "content": base64.b64encode(data).decode()}
