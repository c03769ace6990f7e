"""Storage as a part of the server: builds the Backups service, its hooks and its route
(``GET``/``POST workspaces/{id}/backup``), and connects the contents manager to it."""

from __future__ import annotations

from tornado import web
from tornado.ioloop import IOLoop

from ..handlers import WS_ID, BaseHandler
from ..parts import Host, Part, Route
from ..services import Services, running
from .service import Backups


class StoragePart(Part):
    name = "storage"

    def start(self, host: Host, services: Services) -> None:
        from .choice import backups_status
        from .manager import WorkspaceContentsManager

        storage = Backups(services)
        services.storage = storage
        services.hooks.add(storage)
        manager = host.server.contents_manager
        status = backups_status(manager, services.store.uri)
        services.workspaces.backups = status
        if isinstance(manager, WorkspaceContentsManager):
            manager.storage = storage
            host.log.info(
                "jupyter-emr-workspace: Workspace backups and checkpoints go to %s (contents "
                "manager %s)",
                services.store.uri,
                status["contents_manager"],
            )
        else:
            host.log.warning("jupyter-emr-workspace: backups are OFF. %s", status["reason"])
        IOLoop.current().add_callback(storage.scheduler.start)
        IOLoop.current().add_callback(storage.unleased.start)

    async def stop(self, host: Host, services: Services) -> None:
        from .manager import WorkspaceContentsManager

        storage = services.storage
        if storage is None:
            return
        manager = host.server.contents_manager
        if isinstance(manager, WorkspaceContentsManager) and manager.storage is storage:
            manager.storage = None
        await storage.scheduler.stop(storage.flush_timeout)
        await storage.unleased.stop()

    def handlers(self) -> list[Route]:
        return [(f"workspaces/{WS_ID}/backup", BackupHandler)]


class BackupHandler(BaseHandler):
    """``GET``: the Workspace's backup status; ``POST``: back it up now."""

    @property
    def storage(self) -> Backups:
        return running(self.services.storage, "storage")

    @web.authenticated
    async def get(self, workspace_id: str) -> None:
        self.send(await self.storage.status(self.identity(), workspace_id))

    @web.authenticated
    async def post(self, workspace_id: str) -> None:
        self.empty_body()
        self.send(await self.storage.backup_now(self.identity(), workspace_id))


PART = StoragePart()
