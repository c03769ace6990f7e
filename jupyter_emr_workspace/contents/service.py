"""The storage part's services: backup scheduler, restore, checkpoints' store, and the
Workspace hooks (restore on open, flush on close, keep or delete backups on delete)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_core.paths import jupyter_data_dir

from .. import actions
from ..errors import Conflict, UpstreamError
from ..hooks import WorkspaceHooks
from ..leases import Lease
from ..store import StoreError, WriteResult
from ..studio import Identity
from ..workspace_registry import Workspace
from .backup import BackupScheduler
from .checkpoints import PREFIX, checkpoint_prefix
from .restore import Restorer
from .state import QueuedDelete, StateFiles
from .unleased import UnleasedWrites

if TYPE_CHECKING:
    from ..services import Services


class Backups(WorkspaceHooks):
    def __init__(self, services: Services) -> None:
        studio = services.studio
        self.services = services
        self.store, self.folders, self.leases = services.store, services.folders, services.leases
        self.checkpoints_per_file: int = studio.checkpoints_per_file
        self.flush_timeout: float = studio.flush_timeout
        base = Path(
            studio.storage_state_dir or os.path.join(jupyter_data_dir(), "emr-workspace", "storage")
        ).expanduser()
        self.files = StateFiles(base, studio.id, self.folders.root)
        self.scheduler = BackupScheduler(
            self.store,
            self.folders,
            self.leases,
            self.files,
            interval=studio.autosave_interval,
            concurrency=studio.backup_concurrency,
            max_backoff=studio.backup_max_backoff,
        )
        self.restorer = Restorer(self.store, self.scheduler, studio.restore_concurrency)
        self.unleased = UnleasedWrites(self.scheduler, self.leases)
        #: One open of a Workspace sorts and restores its folder at a time: a second open
        #: meanwhile would take the files the first restores for writes made without it.
        self._opening: dict[str, asyncio.Lock] = {}

    # -- called by the contents manager (no I/O) ------------------------------------------
    def tracks(self, path: str) -> bool:
        """Whether ``path`` is a file or folder inside a Workspace (backed up)."""
        workspace_id, rel = self.folders.workspace_of(path)
        return bool(workspace_id and rel)

    def saved(self, path: str, chunk: int | None, *, before: bool = False) -> None:
        """A save of ``path`` (``before``: a chunk is about to be written)."""
        workspace_id, rel = self.folders.workspace_of(path)
        if not workspace_id or not rel:
            return
        if before or (chunk is not None and chunk != -1):
            self.scheduler.chunk_received(workspace_id, rel)
        else:
            self.scheduler.changed(workspace_id, rel)

    def deleted(self, path: str, is_dir: bool) -> None:
        workspace_id, rel = self.folders.workspace_of(path)
        if workspace_id and rel:
            self.scheduler.removed(workspace_id, rel, is_dir)

    def renamed(self, old_path: str, new_path: str, is_dir: bool) -> None:
        self.scheduler.moved(
            self.folders.workspace_of(old_path), self.folders.workspace_of(new_path), is_dir
        )

    def queue_delete(self, path: str, prefix: str) -> None:
        """A store prefix (checkpoints) that could not be deleted now: retried with backups,
        fenced by the generation it was decided under."""
        workspace_id, _ = self.folders.workspace_of(path)
        if workspace_id:
            generation = self.leases.generation(workspace_id) or 0
            item = QueuedDelete(prefix, generation, self.leases.server_id)
            self.scheduler.state(workspace_id).deletes.append(item)
            self.scheduler._persist_soon(workspace_id)

    # -- checkpoints' store operations, fenced like backups -------------------------------
    def _fence_of(self, key: str) -> tuple[str | None, int]:
        """The Workspace a checkpoint key belongs to, and this server's live generation
        on it (0 when it holds no lease)."""
        rest = key[len(PREFIX) + 1 :] if key.startswith(PREFIX + "/") else ""
        workspace_id = rest.partition("/")[0] or None
        generation = self.leases.generation(workspace_id) if workspace_id else None
        return workspace_id, generation or 0

    async def put_object(self, key: str, data: bytes) -> WriteResult:
        """A new checkpoint object: it carries the generation and server, so a stale
        server's deletes can tell it is newer than they are."""
        _, generation = self._fence_of(key)
        meta = {"generation": str(generation), "server": self.leases.server_id}
        return await self.store.put(key, data, metadata=meta)

    async def delete_object(self, key: str) -> bool:
        """Delete a checkpoint object unless it is newer than this server's lease (or this
        server holds no lease); False when it was kept."""
        workspace_id, generation = self._fence_of(key)
        if workspace_id is None or not generation:
            return False
        return await self.scheduler.delete_fenced(workspace_id, key, generation)

    async def delete_prefix(self, prefix: str) -> int:
        """Every checkpoint object under ``prefix``, fenced one by one; how many went."""
        deleted = 0
        for info in await self.store.list(prefix):
            deleted += bool(await self.delete_object(info.key))
        return deleted

    # -- Workspace hooks ------------------------------------------------------------------
    async def on_open(self, ws: Workspace, lease: Lease) -> dict[str, Any]:
        folder = await asyncio.to_thread(self.folders.ensure, ws.id)
        async with self._opening.setdefault(ws.id, asyncio.Lock()):
            aside = await self.unleased.set_aside(ws.id, folder)
            # deletes queued here earlier (an outage, a crash) are checked against the
            # backups first: one refused as older than the backup lets that backup restore
            await self.scheduler.run_deletes(ws.id)
            try:
                facts = await self.restorer.restore(ws.id, folder)
            except StoreError as e:
                # Opening must not depend on S3: say so; local files stay as they are.
                facts = {"restored": 0, "conflicts": [], "refused": [], "restore_error": str(e)}
            facts["conflicts"] = aside + facts["conflicts"]
            self.unleased.held(ws.id)
        self.scheduler.kick()
        return facts

    async def on_close(self, ws: Workspace) -> None:
        await self.scheduler.flush(ws.id, self.flush_timeout)
        self.unleased.check()  # still held: the gap, if this is the last holder, starts now

    async def on_delete(self, ws: Workspace, delete_notebooks: bool) -> dict[str, Any]:
        prefix = f"{ws.id}/"
        uri = f"{self.store.uri}/{prefix}"
        try:
            if delete_notebooks:
                deleted = await self.store.delete_prefix(prefix)
                await self.store.delete_prefix(checkpoint_prefix(ws.id))
                self.scheduler.forget(ws.id)
                return {"backups_kept": False, "backup_uri": uri, "backups_deleted": deleted}
            if self.leases.generation(ws.id) is not None:
                await self.scheduler.flush(ws.id, self.flush_timeout)
            infos = await self.store.list(prefix)
        except StoreError as e:
            raise UpstreamError(
                f"The backup location {uri} is unreachable ({e}); the Workspace was not "
                "deleted. Try again when it is reachable."
            ) from e
        self.scheduler.forget(ws.id)
        return {
            "backups_kept": True,
            "backup_uri": uri,
            "backup_objects": len(infos),
            "backup_bytes": sum(i.size for i in infos),
            "message": f"The notebooks' backups remain in {uri} and keep costing storage "
            "until you delete them there (or delete the Workspace with delete_notebooks=true).",
        }

    # -- REST -------------------------------------------------------------------------------
    async def _workspace(self, workspace_id: str) -> Workspace:
        """The Workspace, from this server's cache when the store is unreachable (the
        backup status matters most during an outage)."""
        try:
            ws: Workspace = await self.services.registry.get(workspace_id)
            return ws
        except StoreError as e:
            cached: Workspace | None = self.services.registry.cached(workspace_id)
            if cached is None:
                raise UpstreamError(f"The Studio's store is unreachable: {e}") from e
            return cached

    async def status(self, identity: Identity, workspace_id: str) -> dict[str, Any]:
        s = self.services
        ws = await self._workspace(workspace_id)
        await s.guard.on_workspace(identity, actions.DESCRIBE_EDITOR, ws)
        return self.scheduler.status(ws.id)

    async def backup_now(self, identity: Identity, workspace_id: str) -> dict[str, Any]:
        s = self.services
        ws = await self._workspace(workspace_id)
        async with s.guard.on_workspace(
            identity,
            actions.UPDATE_EDITOR,
            ws,
            details={"operation": "backup"},
        ) as facts:
            if self.leases.generation(ws.id) is None:
                raise Conflict(
                    f"Workspace {ws.name!r} is not open on this server; open it to back it up",
                    code="WorkspaceNotOpen",
                )
            await self.scheduler.flush(ws.id, self.flush_timeout)
            status = self.scheduler.status(ws.id)
            facts["pending"] = len(status["pending"])
        return status
