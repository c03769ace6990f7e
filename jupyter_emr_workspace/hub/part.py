"""The JupyterHub part: share a Workspace's server with its collaborators.

The part's entry module (see ``parts.py``). Outside JupyterHub it still guards
collaboration rooms (the lease applies to every editor) and answers the share endpoints
with 409 ``NotUnderJupyterHub``.

API (relative to ``/emr-workspace/api``):

- ``GET    workspaces/{id}/share``: who this server is shared with
- ``POST   workspaces/{id}/share``: share with the listed collaborators (PutWorkspaceAccess)
- ``DELETE workspaces/{id}/share``: revoke those shares (DeleteWorkspaceAccess)
"""

from __future__ import annotations

import logging

from tornado import web

from ..handlers import WS_ID, BaseHandler
from ..hooks import WorkspaceHooks
from ..parts import Host, Part, Route
from ..services import Services, running
from ..studio import Identity
from ..workspace_registry import Workspace
from .hubapi import HubClient, HubEnv
from .rooms import RoomGuardAuthorizer
from .sharing import HubSharing

log = logging.getLogger(__name__)


class SharingHooks(WorkspaceHooks):
    """Workspace hooks: only updates matter here (collaboration turned off → revoke)."""

    def __init__(self, sharing: HubSharing) -> None:
        self.sharing = sharing

    async def on_update(self, identity: Identity, before: Workspace, after: Workspace) -> None:
        await self.sharing.on_update(identity, before.collaboration, after)


class HubPart(Part):
    name = "hub"

    def start(self, host: Host, services: Services) -> None:
        env = HubEnv.from_environ()
        sharing = HubSharing(services, HubClient(env) if env else None)
        services.hub = sharing
        services.hooks.add(SharingHooks(sharing))
        server = host.server
        inner = server.web_app.settings["authorizer"]
        authorizer = RoomGuardAuthorizer(inner, services, parent=server)
        server.authorizer = authorizer
        server.web_app.settings["authorizer"] = authorizer
        if env:
            log.info(
                "jupyter-emr-workspace: JupyterHub server %s/%s; collaborators can be shared in",
                env.user,
                env.server_name,
            )

    async def stop(self, host: Host, services: Services) -> None:
        """Shares outlive the server on purpose: collaborators come back when it restarts."""
        services.hub = None

    def handlers(self) -> list[Route]:
        return [(f"workspaces/{WS_ID}/share", ShareHandler)]


class ShareHandler(BaseHandler):
    @property
    def sharing(self) -> HubSharing:
        return running(self.services.hub, "hub")

    @web.authenticated
    async def get(self, workspace_id: str) -> None:
        self.send(await self.sharing.status(self.identity(), workspace_id))

    @web.authenticated
    async def post(self, workspace_id: str) -> None:
        self.empty_body()
        self.send(await self.sharing.share(self.identity(), workspace_id))

    @web.authenticated
    async def delete(self, workspace_id: str) -> None:
        self.send(await self.sharing.revoke(self.identity(), workspace_id))


PART = HubPart()
