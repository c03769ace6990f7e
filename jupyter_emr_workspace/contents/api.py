"""REST: ``GET /workspaces/{id}/backup`` (status) and ``POST`` (back up now)."""

from __future__ import annotations

from tornado import web

from ..handlers import WS_ID, BaseHandler


class BackupHandler(BaseHandler):
    @web.authenticated
    async def get(self, workspace_id: str) -> None:
        storage = self.services.extra["storage"]
        self.send(await storage.status(self.identity(), workspace_id))

    @web.authenticated
    async def post(self, workspace_id: str) -> None:
        self.empty_body()
        storage = self.services.extra["storage"]
        self.send(await storage.backup_now(self.identity(), workspace_id))


ROUTES = [(f"workspaces/{WS_ID}/backup", BackupHandler)]
