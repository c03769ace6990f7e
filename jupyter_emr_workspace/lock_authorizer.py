"""The lock and the read isolation, enforced as a jupyter_server Authorizer.

Wrapping the authorizer the server already has (JupyterHub's, for instance), it can
only narrow access. For every request it asks ``request_targets`` what the request
reads or changes, places each path, kernel and session in a Workspace by its real
location (``folders.WorkspaceFolders.places``, ``kernel_folders.KernelFolders``), and:

- a change inside a Workspace (save, upload, rename, delete, checkpoint, trust), and
  any control of a kernel or session that runs there, needs the caller's lease on this
  server (423 otherwise; 403 for the Workspaces folder itself);
- running code (starting a kernel, using its channels) needs that too, and, because
  code runs with the server's rights and can reach every folder, the caller must also
  hold every Workspace that anyone holds on this server;
- a change through a handler this module does not know, naming a path inside the
  Workspaces folder, is refused (default-deny);
- a read inside a Workspace needs Studio membership and DescribeEditor on it
  (``read_access.ReadAccess``, cached briefly).

The lease checks use only what this server knows (no store request per request).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.utils import ensure_async
from tornado import web

from .errors import Forbidden
from .folders import Place
from .kernel_folders import KernelFolders, requester
from .read_access import ReadAccess
from .request_targets import Target, handler_name, is_delegated, kernel_folder, targets
from .store import StoreError
from .studio import Identity, identity_from_user

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)

#: /api/events/subscribe: every event the server emits, to every subscriber
EVENT_STREAM = "jupyter_server.services.events.handlers.SubscribeWebsocket"
#: GET /api/sessions and /api/sessions/{id}: each session names its notebook
SESSION_READS = (
    "jupyter_server.services.sessions.handlers.SessionRootHandler",
    "jupyter_server.services.sessions.handlers.SessionHandler",
)


class WorkspaceAuthorizer(Authorizer):
    """Composes with ``inner``: both must allow."""

    def __init__(
        self,
        inner: Authorizer,
        services: Services,
        kernels: KernelFolders | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(identity_provider=inner.identity_provider, **kwargs)
        self.inner, self.services, self.kernels = inner, services, kernels
        self.studio, self.folders = services.studio, services.folders
        self.leases, self.registry = services.leases, services.registry
        self.reads = ReadAccess(services)

    async def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if not await ensure_async(self.inner.is_authorized(handler, user, action, resource)):
            return False
        request = getattr(handler, "request", None)
        identity = identity_from_user(
            user, self.studio, source_ip=getattr(request, "remote_ip", None)
        )
        requester.set(identity.name)
        if request is None:
            return True
        if is_delegated(handler):
            # hub/rooms.py and the terminal guard decide on changes; reads are ours (and
            # free in open mode: no file-id lookup then)
            if self.services.access.open_mode:
                return True
            for path in self._delegated_paths(handler):
                await self.require(handler, identity, Target("read", path))
            return True
        for target in targets(handler, action, resource):
            await self.require(handler, identity, target)
        name = handler_name(handler)
        if self.services.access.open_mode:
            return True
        if name == EVENT_STREAM:
            self._filter_events(handler, identity)
        elif name in SESSION_READS and request.method == "GET":
            await self._hide_sessions(handler, identity)
        return True

    # -- one target ---------------------------------------------------------------------
    async def require(self, handler: Any, identity: Identity, target: Target) -> None:
        """Raise an HTTPError with a message that says what to do, or return."""
        name = identity.name
        if target.path is not None and "\x00" in target.path:
            # no file can have it; jupyter_server's /files route answers 500 for it
            raise web.HTTPError(400, "A path cannot contain a NUL character")
        if target.kind == "read":
            if self.services.access.open_mode:
                return  # everyone reads everything: no need to place the path
            for workspace_id, _ in self.folders.places(target.path or ""):
                if workspace_id is not None:
                    await self._require_read(identity, workspace_id)
            return
        if target.kind == "refuse":
            if any(p[0] is not None for p in self.folders.places(target.path or "")):
                raise web.HTTPError(
                    403,
                    f"{handler_name(handler)} is not known to respect EMR Workspace locks, so "
                    f"it may not change anything in the {self.folders.workspaces_dir!r} folder",
                )
            return
        if target.kind == "remove" and self.folders.contains_workspaces(target.path or ""):
            raise web.HTTPError(
                403,
                f"{target.path!r} holds the {self.folders.workspaces_dir!r} folder: moving or "
                "deleting it would move or delete every Workspace",
            )
        places = await self._places_of(handler, target)
        if places is None:
            return  # no such kernel or session: jupyter_server answers 404
        for place in places:
            self.check(name, place, removes=target.kind == "remove")
        if target.kind == "run":
            self.check_run(name)
            if hasattr(handler, "on_message"):  # kernel channels, a language server
                self._guard_channels(handler, name, places)

    async def _places_of(self, handler: Any, target: Target) -> list[Place] | None:
        if target.path is not None:
            return self.folders.places(target.path)
        if target.kernel_id is not None:
            return self._kernel_places(target.kernel_id)
        if target.session_id is not None:
            try:
                model = await self._session(handler, target.session_id)
            except web.HTTPError:
                return None
            path = model.get("path")
            places = self.folders.places(kernel_folder(path)) if isinstance(path, str) else []
            kernel_id = (model.get("kernel") or {}).get("id")
            if kernel_id:
                places += self._kernel_places(str(kernel_id)) or []
            return list(dict.fromkeys(places))
        return []

    def _kernel_places(self, kernel_id: str) -> list[Place] | None:
        if self.kernels is None:
            return []
        folders = self.kernels.folders_of(kernel_id)
        if folders is None:
            return None
        if not folders:
            raise web.HTTPError(
                403,
                f"Kernel {kernel_id} was not started through this server's kernel manager, so "
                "the EMR Workspaces lock cannot tell which folder it runs in",
            )
        return list(dict.fromkeys(self.folders.place_of_os_path(f) for f in folders))

    @staticmethod
    async def _session(handler: Any, session_id: str) -> dict[str, Any]:
        model = await ensure_async(handler.session_manager.get_session(session_id=session_id))
        return model if isinstance(model, dict) else {}

    def _delegated_paths(self, handler: Any) -> list[str]:
        """Paths a collaboration or terminal request reads: its path arguments, and the
        documents behind room ids (``format:type:file id``) as the file-id service maps them."""
        raw = [str(v) for v in (getattr(handler, "path_kwargs", None) or {}).values()]
        raw += [str(v) for v in getattr(handler, "path_args", None) or []]
        raw.append(str(getattr(handler, "_room_id", "") or ""))
        fim = handler.settings.get("file_id_manager")
        paths: list[str] = []
        for value in dict.fromkeys(v for v in raw if v):
            room = _fork_root(value) or value
            parts = room.split(":", 2)
            if len(parts) == 3 and fim is not None:
                path = fim.get_path(parts[2])
                if isinstance(path, str):
                    paths.append(path)
            else:
                paths.append(value)
        return paths

    async def _require_read(self, identity: Identity, workspace_id: str) -> None:
        try:
            await self.reads.require(identity, workspace_id)
        except Forbidden as e:
            raise web.HTTPError(403, e.message) from None
        except StoreError as e:
            raise web.HTTPError(
                503,
                f"The Studio's store {self.services.store.uri} is unavailable, so access to "
                f"Workspace {workspace_id} cannot be decided: {e}",
            ) from None

    # -- the lease ----------------------------------------------------------------------
    def _label(self, workspace_id: str) -> str:
        ws = self.registry.cached(workspace_id)
        return f"{ws.name!r} ({workspace_id})" if ws else workspace_id

    def check(self, user: str | None, place: Place, removes: bool = False) -> None:
        """Refuse a change at ``place`` unless ``user`` holds its Workspace's lease."""
        workspace_id, inner = place
        if workspace_id is None:
            return
        if workspace_id == "":
            raise web.HTTPError(
                403,
                f"The {self.folders.workspaces_dir!r} folder is managed by EMR Workspaces: "
                "create, open and delete Workspaces from the EMR Workspaces panel",
            )
        label = self._label(workspace_id)
        if removes and inner == "":
            raise web.HTTPError(
                403,
                f"Workspace {label} cannot be renamed or deleted as a folder; delete it from "
                "the EMR Workspaces panel",
            )
        if user is None or not self.leases.holds(workspace_id, user):
            holder = self.leases.last_known_holder(workspace_id)
            by = f" It is open by {holder['user']} since {holder['since']}." if holder else ""
            raise web.HTTPError(
                423,
                f"Workspace {label} is read-only for you: open it in the EMR Workspaces panel "
                f"to edit it.{by}",
            )

    def open_by_others(self, user: str) -> list[tuple[str, str]]:
        """(Workspace, a holder) for each Workspace held on this server but not by ``user``."""
        out = []
        for workspace_id, by_user in list(self.leases.held.items()):
            live = [u for u in by_user if self.leases.holds(workspace_id, u)]
            if live and user not in live:
                out.append((workspace_id, live[0]))
        return out

    def check_run(self, user: str) -> None:
        """Code runs with the server's rights and can write into any folder: refuse it
        while someone else holds a Workspace on this server that ``user`` does not."""
        others = self.open_by_others(user)
        if others:
            workspace_id, holder = others[0]
            raise web.HTTPError(
                423,
                f"Workspace {self._label(workspace_id)} is open on this server by {holder}, and "
                "code you run here could change it: run code on your own server, or ask "
                f"{holder} to add you as a collaborator of that Workspace",
            )

    def check_kernel_start(self, user: str | None, cwd: str) -> None:
        """The last check before any kernel starts (``KernelFolders.install``)."""
        self.check(user, self.folders.place_of_os_path(cwd))
        if user is not None:
            self.check_run(user)

    async def _hide_sessions(self, handler: Any, identity: Identity) -> None:
        """Sessions name their notebook: one in a Workspace the caller may not read is
        refused (GET /api/sessions/{id}) or left out of the list (GET /api/sessions)."""
        session_id = (getattr(handler, "path_kwargs", None) or {}).get("session_id")
        if session_id:
            path = (await self._session(handler, session_id)).get("path")
            if isinstance(path, str):
                await self.require(handler, identity, Target("read", path))
            return
        readable: set[str] = set()
        for model in await ensure_async(handler.session_manager.list_sessions()):
            path = model.get("path")
            try:
                if isinstance(path, str):
                    await self.require(handler, identity, Target("read", path))
            except web.HTTPError:
                continue
            readable.add(str(model.get("id")))
        original = handler.finish

        def finish(chunk: Any = None) -> Any:
            # only sessions judged above: one started since is left for the next poll
            try:
                listed = json.loads(chunk) if isinstance(chunk, (str, bytes)) else None
            except ValueError:
                listed = None
            if isinstance(listed, list):
                chunk = json.dumps(
                    [s for s in listed if isinstance(s, dict) and str(s.get("id")) in readable]
                )
            return original(chunk)

        handler.finish = finish

    def _filter_events(self, handler: Any, identity: Identity) -> None:
        """The event stream relays jupyter_server's contents events, which name the file
        read, saved or renamed: drop those naming a file the subscriber may not read."""
        original = handler.event_listener

        async def event_listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
            for key in ("path", "source_path"):
                value = data.get(key)
                if isinstance(value, str):
                    try:
                        await self.require(handler, identity, Target("read", value))
                    except web.HTTPError:
                        return
            await original(logger, schema_id, data)

        handler.event_listener = event_listener  # what open() subscribes, on_close removes

    def _guard_channels(self, handler: Any, user: str, places: list[Place]) -> None:
        """Re-check each message of a websocket that runs code (a kernel's channels, a
        language server; no I/O): a lease lost or given up, or a Workspace someone else
        opened, while connected stops the connection's code at once."""
        original = handler.on_message

        def on_message(message: Any) -> Any:
            try:
                for place in places:
                    self.check(user, place)
                self.check_run(user)
            except web.HTTPError as e:
                log.warning("closing kernel channels of %s: %s", user, e.log_message)
                handler.close(4423, "Workspace lease required")
                return None
            return original(message)

        handler.on_message = on_message


def _fork_root(value: str) -> str | None:
    """The room a collaboration fork was made from (jupyter-collaboration's FORK_ROOMS)."""
    try:
        from jupyter_server_ydoc.handlers import FORK_ROOMS
    except ImportError:
        return None
    info = FORK_ROOMS.get(value)
    return str(info["root_roomid"]) if info else None
