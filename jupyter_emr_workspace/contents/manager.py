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

from ..kernel_folders import requester
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

    async def get(self, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Stock, except that without jupyter-collaboration a file in a Workspace whose
        lease the caller does not hold here says ``writable: false``: JupyterLab then
        opens it read-only instead of failing on the open-time checkpoint the lock
        refuses (423). With collaboration JupyterLab creates no checkpoint, and a
        non-writable file would not even start the save whose refusal the panel shows."""
        model: dict[str, Any] = await super().get(path, *args, **kwargs)
        storage = self.storage
        if (
            storage is not None
            and model.get("writable")
            and model.get("type") != "directory"
            and not self.collaborative()
        ):
            user = requester.get()
            if user is not None:  # a request (not a collaboration room reading the file)
                model["writable"] = self._lock_allows_save(storage, path, user)
        return model

    @staticmethod
    def _lock_allows_save(storage: Backups, path: str, user: str) -> bool:
        """What the lock answers to a save of ``path`` by ``user`` (as spelt and as
        resolved: a symlink into a Workspace counts), without a request to the store."""
        return all(
            workspace_id is None
            or (workspace_id != "" and storage.leases.holds(workspace_id, user))
            for workspace_id, _ in storage.folders.places(path)
        )

    def collaborative(self) -> bool:
        """Whether jupyter-collaboration serves documents on this server (its server
        extension loaded, real-time collaboration not turned off)."""
        web_app = getattr(self.parent, "web_app", None)
        ydoc = getattr(web_app, "settings", {}).get("jupyter_server_ydoc")
        return ydoc is not None and not getattr(ydoc, "disable_rtc", False)

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
