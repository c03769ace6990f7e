"""Lease enforcement for jupyter-collaboration's document rooms.

Edits made through a collaboration websocket (``/api/collaboration/room/...``) reach the
file through the room, not through the contents API, so the Workspace authorizer never
sees them. This layer wraps the server's authorizer: when a room of a document inside a
Workspace folder is joined, the connection stays open for reading (a read-only viewer
still sees live changes), but document updates and save requests from a user who does
not hold the Workspace's lease on this server are dropped, message by message, so a
lease taken or lost while connected counts at once. Merging a fork back into such a
document (``DELETE /api/collaboration/fork/<id>?merge=true``) needs the lease too.
"""

from __future__ import annotations

import logging
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.utils import ensure_async
from tornado import web

from ..studio import identity_from_user

log = logging.getLogger(__name__)

#: y-protocol message types (jupyter_server_ydoc.utils.MessageType) and sync steps.
SYNC, RAW = 0, 2
SYNC_STEP2, SYNC_UPDATE = 1, 2


def is_write(message: Any) -> bool:
    """A message that changes the shared document or asks the server to save it."""
    if not isinstance(message, bytes | bytearray) or not message:
        return False
    if message[0] == SYNC:
        return len(message) > 1 and message[1] in (SYNC_STEP2, SYNC_UPDATE)
    return message[0] == RAW


def _request_path(handler: Any) -> str:
    return str(getattr(getattr(handler, "request", None), "path", ""))


def _fork_root(fork_id: str) -> str | None:
    """The room a fork was made from (jupyter-collaboration keeps them in FORK_ROOMS)."""
    try:
        from jupyter_server_ydoc.handlers import FORK_ROOMS
    except ImportError:
        return None
    info = FORK_ROOMS.get(fork_id)
    return str(info["root_roomid"]) if info else None


class RoomGuardAuthorizer(Authorizer):
    """Composes with ``inner`` (both must allow) and guards room connections."""

    def __init__(self, inner: Authorizer, services: Any, **kwargs: Any) -> None:
        super().__init__(identity_provider=inner.identity_provider, **kwargs)
        self.inner, self.services = inner, services

    async def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if not await ensure_async(self.inner.is_authorized(handler, user, action, resource)):
            return False
        if resource != "contents":
            return True
        path = _request_path(handler)
        if "/api/collaboration/room/" in path:
            self.guard(handler, user)
        elif "/api/collaboration/fork/" in path and handler.request.method == "DELETE":
            fork_id = path.rsplit("/api/collaboration/fork/", 1)[1]
            if handler.get_query_argument("merge", "") == "true":
                self.check_merge(handler, user, _fork_root(fork_id))
        return True

    def check_merge(self, handler: Any, user: Any, root_room: str | None) -> None:
        workspace_id = self.workspace_of_room(handler, root_room or "")
        name = identity_from_user(user, self.services.studio).name
        if workspace_id and not self.services.leases.holds(workspace_id, name):
            raise web.HTTPError(
                423,
                f"Workspace {workspace_id} is read-only for you: open it in the EMR Workspaces "
                "panel before merging changes into its documents",
            )

    def workspace_of_room(self, handler: Any, room_id: str | None = None) -> str | None:
        """The Workspace whose folder holds the document of a room, if any."""
        if room_id is None:
            room_id = str(getattr(handler, "_room_id", "") or "")
        parts = room_id.split(":", 2)
        if len(parts) != 3:
            return None
        fim = handler.settings.get("file_id_manager")
        path = fim.get_path(parts[2]) if fim is not None else None
        if not isinstance(path, str):
            return None
        workspace_id, _ = self.services.folders.workspace_of(path)
        return workspace_id or None

    def guard(self, handler: Any, user: Any) -> None:
        """Filter this connection's incoming messages by the lease (no I/O per message)."""
        workspace_id = self.workspace_of_room(handler)
        if workspace_id is None:
            return
        name = identity_from_user(user, self.services.studio).name
        leases = self.services.leases
        original = handler.on_message
        warned = False

        def on_message(message: Any) -> Any:
            nonlocal warned
            if is_write(message) and not leases.holds(workspace_id, name):
                if not warned:
                    warned = True
                    handler.log.warning(
                        "dropping edits from %s to Workspace %s: they do not hold its lease "
                        "on this server (read-only)",
                        name,
                        workspace_id,
                    )
                return None
            return original(message)

        handler.on_message = on_message
