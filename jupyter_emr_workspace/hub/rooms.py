"""Lease enforcement for jupyter-collaboration's document rooms.

Edits made through a collaboration websocket (``/api/collaboration/room/...``) reach the
file through the room, not through the contents API, so the Workspace authorizer never
sees them. This layer wraps the server's authorizer and decides with what the
collaboration handlers themselves use:

- A document room's connection stays open for everyone who may read (a read-only viewer
  still sees live changes), but every message that could change the document or save it
  is judged when it arrives, from where the document is *now* (the file id manager
  follows renames) and from the leases held *now*: a document moved into a Workspace, a
  lease taken or lost while connected, all count at once. Only reading messages (sync
  step 1, awareness) pass without the lease; anything else is dropped unless the sender
  holds the Workspace's lease on this server, or the document is outside every Workspace.
- Merging a fork back (``DELETE /api/collaboration/fork/<id>?merge=...``) needs the lease
  on the document the fork was made from. The fork id is the one tornado decodes for the
  handler; a merge whose document cannot be resolved is refused (it could be in a
  Workspace), so a future change in jupyter-collaboration's internals fails closed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.utils import ensure_async
from tornado import web

from ..folders import WorkspaceFolders
from ..studio import identity_from_user

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger(__name__)

#: y-protocol message types (jupyter_server_ydoc.utils.MessageType) and sync steps.
SYNC, AWARENESS, RAW, QUERY_AWARENESS = 0, 1, 2, 3
SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE = 0, 1, 2

#: What a document is, for the lease: outside every Workspace, unknown (refused), or
#: inside the Workspaces folder (``""`` is the folder itself, managed by the server).
OUTSIDE = None
UNKNOWN = "?"

#: A fork of a fork of ... is followed this deep before the merge is refused.
MAX_FORK_DEPTH = 16


def is_write(message: Any) -> bool:
    """A message that changes the shared document or asks the server to save it."""
    if not isinstance(message, bytes | bytearray) or not message:
        return False
    if message[0] == SYNC:
        return len(message) > 1 and message[1] in (SYNC_STEP2, SYNC_UPDATE)
    return message[0] == RAW


def is_read(message: Any) -> bool:
    """The only messages a reader needs: ask for the document (sync step 1) and share
    cursors (awareness). Everything else, known or not, counts as a write."""
    if not isinstance(message, bytes | bytearray) or not message:
        return not message  # an empty frame changes nothing
    if message[0] == SYNC:
        return len(message) > 1 and message[1] == SYNC_STEP1
    return message[0] in (AWARENESS, QUERY_AWARENESS)


def document_file_id(room_id: str) -> str | None:
    """The file id of a document room (``format:type:file_id``, as jupyter-collaboration
    splits it), or None for rooms that are not saved to a file (awareness, forks)."""
    if room_id.count(":") < 2:
        return None
    return room_id.split(":", 2)[2]


def workspace_of_document(folders: WorkspaceFolders, api_path: str | None) -> str | None:
    """The Workspace a document path lands in (its real path: a symlink outside the
    Workspaces folder that points into one counts as inside), OUTSIDE, or UNKNOWN."""
    if not isinstance(api_path, str):
        return UNKNOWN
    workspace_id, _ = folders.workspace_of(api_path)
    if workspace_id is not None:
        return workspace_id
    real = Path(os.path.realpath(folders.root / api_path.strip("/")))
    try:
        rel = real.relative_to(folders.root)
    except ValueError:
        return OUTSIDE  # resolves outside the server root: no Workspace is there
    workspace_id, _ = folders.workspace_of(rel.as_posix())
    return workspace_id


def _ydoc_handlers() -> tuple[type[Any], type[Any]] | None:
    try:
        from jupyter_server_ydoc.handlers import DocForkHandler, YDocWebSocketHandler
    except ImportError:
        return None
    return YDocWebSocketHandler, DocForkHandler


def _fork_rooms() -> dict[str, Any] | None:
    try:
        from jupyter_server_ydoc.handlers import FORK_ROOMS
    except ImportError:
        return None
    return FORK_ROOMS if isinstance(FORK_ROOMS, dict) else None


def _merge_requested(handler: Any) -> bool:
    """Default-deny reading of ``?merge=``: the handler merges on ``true``; we treat
    every value that is not clearly "no" as a merge."""
    value = handler.get_query_argument("merge", None)
    if value is None:
        return False
    return value.strip().lower() not in {"", "false", "0", "no", "off"}


class RoomGuardAuthorizer(Authorizer):
    """Composes with ``inner`` (both must allow) and guards room connections."""

    def __init__(self, inner: Authorizer, services: Services, **kwargs: Any) -> None:
        super().__init__(identity_provider=inner.identity_provider, **kwargs)
        self.inner, self.services = inner, services
        self.folders: WorkspaceFolders = services.folders

    async def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if not await ensure_async(self.inner.is_authorized(handler, user, action, resource)):
            return False
        classes = _ydoc_handlers()
        if classes is None:
            return True
        room_class, fork_class = classes
        if isinstance(handler, room_class):
            self.guard(handler, user)
        elif isinstance(handler, fork_class):
            if str(handler.request.method).upper() == "DELETE" and _merge_requested(handler):
                self.check_merge(handler, user)
        return True

    # -- where a document is --------------------------------------------------------------
    def workspace_of_room(self, handler: Any, room_id: str, depth: int = 0) -> str | None:
        """The Workspace of the document a room is saved to: OUTSIDE for rooms with no
        file, UNKNOWN when it cannot be told (refused by the callers)."""
        file_id = document_file_id(room_id)
        if file_id is None:
            forks = _fork_rooms()
            info = forks.get(room_id) if forks is not None else None
            if info is None:
                return OUTSIDE  # a transient room (awareness): never saved to a file
            if depth >= MAX_FORK_DEPTH or not isinstance(info.get("root_roomid"), str):
                return UNKNOWN
            return self.workspace_of_room(handler, info["root_roomid"], depth + 1)
        fim = handler.settings.get("file_id_manager")
        if fim is None:
            return UNKNOWN
        return workspace_of_document(self.folders, fim.get_path(file_id))

    def refusal(self, workspace_id: str | None, name: str) -> str | None:
        """Why ``name`` may not change a document in ``workspace_id`` now, or None."""
        if workspace_id is OUTSIDE:
            return None
        if workspace_id == UNKNOWN:
            return "it cannot be told where the document is saved, so it could be in a Workspace"
        if workspace_id == "":
            return (
                f"the {self.folders.workspaces_dir!r} folder is managed by EMR Workspaces; "
                "documents there cannot be edited"
            )
        if self.services.leases.holds(workspace_id, name):
            return None
        return (
            f"Workspace {workspace_id} is read-only for you: open it in the EMR Workspaces "
            "panel to edit it"
        )

    # -- forks ----------------------------------------------------------------------------
    def check_merge(self, handler: Any, user: Any) -> None:
        """A merge changes the fork's root document: it needs the lease there."""
        fork_id = str((getattr(handler, "path_args", None) or [""])[0])  # tornado-decoded
        forks = _fork_rooms()
        info = forks.get(fork_id) if forks is not None else None
        workspace_id: str | None = UNKNOWN  # an unknown fork could merge anywhere
        if info is not None:
            workspace_id = self.workspace_of_room(handler, str(info.get("root_roomid", "")))
        name = identity_from_user(user, self.services.studio).name
        why = self.refusal(workspace_id, name)
        if why is None:
            return
        status = 423 if workspace_id not in (UNKNOWN, "") else 403
        raise web.HTTPError(status, f"Merging fork {fork_id!r} is refused: {why}")

    # -- document rooms -------------------------------------------------------------------
    def guard(self, handler: Any, user: Any) -> None:
        """Judge each incoming message that could write by the document's path and the
        leases at the time it arrives (one file-id lookup per such message)."""
        room_id = str(getattr(handler, "_room_id", "") or "")
        if document_file_id(room_id) is None:
            return  # awareness and fork rooms are not saved to files; merges are checked
        name = identity_from_user(user, self.services.studio).name
        original = handler.on_message
        warned: set[str | None] = set()

        def on_message(message: Any) -> Any:
            if is_read(message):
                return original(message)
            workspace_id = self.workspace_of_room(handler, room_id)
            why = self.refusal(workspace_id, name)
            if why is None:
                return original(message)
            if workspace_id not in warned:
                warned.add(workspace_id)
                handler.log.warning("dropping edits from %s to room %s: %s", name, room_id, why)
            return None

        handler.on_message = on_message
