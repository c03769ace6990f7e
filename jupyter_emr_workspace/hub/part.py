"""The JupyterHub part: share a Workspace's server with its collaborators.

Plugs in through ``parts.PARTS``. Outside JupyterHub it still guards collaboration rooms
(the lease applies to every editor) and answers the share endpoints with 409
``NotUnderJupyterHub``.

API (relative to ``/emr-workspace/api``):

- ``GET    workspaces/{id}/share``: who this server is shared with
- ``POST   workspaces/{id}/share``: share with the listed collaborators (PutWorkspaceAccess)
- ``DELETE workspaces/{id}/share``: revoke those shares (DeleteWorkspaceAccess)
"""

from __future__ import annotations

import logging
from typing import Any

from tornado import web

from ..handlers import WS_ID, BaseHandler
from ..leases import Lease
from ..studio import Identity
from ..workspace_registry import Workspace
from .hubapi import HubClient, HubEnv
from .rooms import RoomGuardAuthorizer
from .sharing import HubSharing

log = logging.getLogger(__name__)
KEY = "hub"


class SharingHooks:
    """Workspace hooks: only updates matter here (collaboration turned off → revoke)."""

    def __init__(self, sharing: HubSharing) -> None:
        self.sharing = sharing

    async def on_open(self, ws: Workspace, lease: Lease) -> dict[str, Any]:
        return {}

    async def on_close(self, ws: Workspace) -> None:
        return None

    async def on_delete(self, ws: Workspace, delete_notebooks: bool) -> dict[str, Any]:
        return {}

    async def on_update(self, identity: Identity, before: Workspace, after: Workspace) -> None:
        await self.sharing.on_update(identity, before.collaboration, after)


def start(app: Any, services: Any) -> None:
    env = HubEnv.from_environ()
    sharing = HubSharing(services, HubClient(env) if env else None)
    services.extra[KEY] = sharing
    services.hooks.add(SharingHooks(sharing))
    server = app.server
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


async def stop(app: Any, services: Any) -> None:
    """Shares outlive the server on purpose: collaborators come back when it restarts."""
    services.extra.pop(KEY, None)


class ShareHandler(BaseHandler):
    @property
    def sharing(self) -> HubSharing:
        return self.services.extra[KEY]

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


def handlers() -> list[tuple[str, type[BaseHandler]]]:
    return [(f"workspaces/{WS_ID}/share", ShareHandler)]
