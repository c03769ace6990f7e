"""WorkspaceContentsManager: the stock large-file manager, plus backup bookkeeping.

Every save, rename and delete runs exactly as in ``AsyncLargeFileManager`` (local disk
first, same cost). Afterwards, for paths inside a Workspace, the manager only tells the
storage part what changed: no request to the backup store happens in the save path.
Saves that do not come through HTTP (jupyter-collaboration's document rooms call
``save`` on this manager directly) are marked the same way; anything written behind the
manager's back (kernels, terminals) is found by the scheduler's local scan.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from traitlets import default

from .checkpoints import IN_SAVE, WorkspaceCheckpoints

if TYPE_CHECKING:
    from .service import Backups


class WorkspaceContentsManager(AsyncLargeFileManager):
    """Until the extension connects ``storage``, this is the stock manager."""

    #: Set by the storage part at start (``contents/part.py``).
    storage: Backups | None = None

    @default("checkpoints_class")
    def _default_checkpoints_class(self) -> type:
        return WorkspaceCheckpoints

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        chunk = model.get("chunk")
        tracked = self.storage if model.get("type") != "directory" else None
        if tracked is not None:
            # before the bytes land: the scheduler's scan must not send a partial file
            # (jupyter's atomic writing truncates the file in place)
            tracked.saved(path, chunk, before=True)
        token = IN_SAVE.set(True)
        try:
            result: dict[str, Any] = await super().save(model, path)
        except BaseException:
            if tracked is not None:
                tracked.saved(path, None)  # whatever is on disk now is backed up
            raise
        finally:
            IN_SAVE.reset(token)
        if tracked is not None:
            tracked.saved(path, chunk)
        return result

    async def delete_file(self, path: str) -> None:
        storage = self.storage
        if storage is None or not storage.tracks(path):
            await super().delete_file(path)
            return
        is_dir = await asyncio.to_thread(os.path.isdir, self._get_os_path(path.strip("/")))
        await super().delete_file(path)
        storage.deleted(path, is_dir)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        await super().rename_file(old_path, new_path)
        storage = self.storage
        if storage is None or old_path.strip("/") == new_path.strip("/"):
            return
        if storage.tracks(old_path) or storage.tracks(new_path):
            is_dir = await asyncio.to_thread(os.path.isdir, self._get_os_path(new_path.strip("/")))
            storage.renamed(old_path, new_path, is_dir)
