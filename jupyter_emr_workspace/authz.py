"""Server-side lock enforcement as a jupyter_server Authorizer.

Wrapping the authorizer the server already has (JupyterHub's, for instance), it can
only narrow access: a write into a Workspace's folder (save, upload, rename, delete,
checkpoint) and a kernel or session started there is refused unless the caller holds
the Workspace's lease on this server. Reading stays open. The check uses only what this
server knows (the leases it holds), so it costs no request to the store.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.utils import ensure_async
from tornado import web

from .folders import WorkspaceFolders
from .leases import LeaseManager
from .studio import Studio, identity_from_user
from .workspaces import WorkspaceRegistry

_GUARDED = {"contents", "sessions", "kernels"}


def _body(handler: Any) -> dict[str, Any]:
    try:
        data = json.loads(handler.request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def target_paths(handler: Any, resource: str) -> list[tuple[str, bool]]:
    """The contents paths a write request touches, each with whether it removes or
    renames that path (as opposed to writing inside it)."""
    method = handler.request.method.upper()
    url_path = (getattr(handler, "path_kwargs", None) or {}).get("path") or ""
    if resource == "contents":
        if "/checkpoints" in handler.request.path and method in {"POST", "DELETE"}:
            return [(url_path, False)]
        if method == "DELETE":
            return [(url_path, True)]
        if method == "PATCH":
            new = _body(handler).get("path")
            return [(url_path, True)] + ([(str(new), False)] if new else [])
        if method == "POST":
            # new untitled file, upload or copy into the folder named by the URL
            return [(posixpath.join(url_path, "_"), False)]
        return [(url_path, False)]
    if resource in {"sessions", "kernels"} and method in {"POST", "PATCH"}:
        body = _body(handler)
        path = body.get("path")
        if isinstance(path, str) and path:
            # a kernel runs in the notebook's folder (or in the folder a kernel POST names)
            return [(path if resource == "kernels" else posixpath.join(path), False)]
    return []


class WorkspaceAuthorizer(Authorizer):
    """Composes with ``inner``: both must allow."""

    def __init__(
        self,
        inner: Authorizer,
        studio: Studio,
        folders: WorkspaceFolders,
        leases: LeaseManager,
        registry: WorkspaceRegistry,
        **kwargs: Any,
    ) -> None:
        super().__init__(identity_provider=inner.identity_provider, **kwargs)
        self.inner, self.studio, self.folders = inner, studio, folders
        self.leases, self.registry = leases, registry

    async def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if not await ensure_async(self.inner.is_authorized(handler, user, action, resource)):
            return False
        if action == "read" or resource not in _GUARDED:
            return True
        name = identity_from_user(user, self.studio).name
        for path, removes in target_paths(handler, resource):
            self.check(name, path, removes)
        return True

    def check(self, user: str, path: str, removes: bool) -> None:
        """Raise an HTTPError with a message that says what to do, or return."""
        workspace_id, inner = self.folders.workspace_of(path)
        if workspace_id is None:
            return
        if workspace_id == "":
            raise web.HTTPError(
                403,
                f"The {self.folders.workspaces_dir!r} folder is managed by EMR Workspaces: "
                "create, open and delete Workspaces from the EMR Workspaces panel",
            )
        ws = self.registry.cached(workspace_id)
        label = f"{ws.name!r} ({workspace_id})" if ws else workspace_id
        if removes and inner == "":
            raise web.HTTPError(
                403,
                f"Workspace {label} cannot be renamed or deleted as a folder; delete it from "
                "the EMR Workspaces panel",
            )
        if not self.leases.holds(workspace_id, user):
            holder = self.leases.last_known_holder(workspace_id)
            by = f" It is open by {holder['user']} since {holder['since']}." if holder else ""
            raise web.HTTPError(
                423,
                f"Workspace {label} is read-only for you: open it in the EMR Workspaces panel "
                f"to edit it.{by}",
            )
