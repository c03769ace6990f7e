"""What other parts (storage, compute) do when a Workspace opens, closes or goes away.

The Workspace service calls these without knowing who implements them, so storage and
compute stay out of the lease and registry code.
"""

from __future__ import annotations

from typing import Any, Protocol

from .leases import Lease
from .studio import Identity
from .workspace_registry import Workspace


class WorkspaceHooks(Protocol):
    async def on_open(self, ws: Workspace, lease: Lease) -> dict[str, Any]:
        """After the lease is taken: e.g. restore files. Returns facts for the response."""
        ...

    async def on_close(self, ws: Workspace) -> None:
        """Before the lease is released: e.g. flush pending backups."""
        ...

    async def on_delete(self, ws: Workspace, delete_notebooks: bool) -> dict[str, Any]:
        """When the Workspace is deleted: keep or delete its backups."""
        ...


class HookChain:
    """Calls several hooks in order; results are merged."""

    def __init__(self) -> None:
        self.hooks: list[WorkspaceHooks] = []

    def add(self, hook: WorkspaceHooks) -> None:
        self.hooks.append(hook)

    async def on_open(self, ws: Workspace, lease: Lease) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for hook in self.hooks:
            out.update(await hook.on_open(ws, lease) or {})
        return out

    async def on_close(self, ws: Workspace) -> None:
        for hook in self.hooks:
            await hook.on_close(ws)

    async def on_delete(self, ws: Workspace, delete_notebooks: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for hook in self.hooks:
            out.update(await hook.on_delete(ws, delete_notebooks) or {})
        return out

    async def before_delete(self, ws: Workspace) -> None:
        """Before anything is deleted: a hook refuses (raises) while the Workspace is in use
        here (e.g. kernels running in its folder); optional."""
        for hook in self.hooks:
            check = getattr(hook, "before_delete", None)
            if check is not None:
                await check(ws)

    async def on_update(self, identity: Identity, before: Workspace, after: Workspace) -> None:
        """After PATCH is saved (e.g. collaboration off → revoke hub shares); optional."""
        for hook in self.hooks:
            handler = getattr(hook, "on_update", None)
            if handler is not None:
                await handler(identity, before, after)
