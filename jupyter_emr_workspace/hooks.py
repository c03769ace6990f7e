"""What other parts (storage, compute, hub) do when a Workspace opens, closes, changes or
goes away.

The Workspace service calls these without knowing who implements them, so storage and
compute stay out of the lease and registry code. A part subclasses ``WorkspaceHooks``
and overrides only the moments it cares about: every method does nothing by default.
"""

from __future__ import annotations

from .leases import Lease
from .studio import Identity
from .workspace_registry import Workspace

#: Facts a hook adds to the answer of ``POST /open`` (and to its audit event when they
#: are numbers, strings or booleans).
Facts = dict[str, object]


class WorkspaceHooks:
    """One part's reactions to a Workspace's life; the defaults do nothing."""

    async def on_open(self, ws: Workspace, lease: Lease) -> Facts:
        """After the lease is taken: e.g. restore files. Returns facts for the response."""
        return {}

    async def on_close(self, ws: Workspace) -> None:
        """Before the lease is released: e.g. flush pending backups."""

    async def before_delete(self, ws: Workspace) -> None:
        """Before anything is deleted: raise to refuse while the Workspace is in use here
        (e.g. kernels running in its folder)."""

    async def on_delete(self, ws: Workspace, delete_notebooks: bool) -> Facts:
        """When the Workspace is deleted: keep or delete its backups."""
        return {}

    async def on_update(self, identity: Identity, before: Workspace, after: Workspace) -> None:
        """After PATCH is saved (e.g. collaboration off → revoke hub shares)."""


class HookChain(WorkspaceHooks):
    """Calls each part's hooks in the order they were added; results are merged."""

    def __init__(self) -> None:
        self.hooks: list[WorkspaceHooks] = []

    def add(self, hook: WorkspaceHooks) -> None:
        self.hooks.append(hook)

    async def on_open(self, ws: Workspace, lease: Lease) -> Facts:
        out: Facts = {}
        for hook in self.hooks:
            out.update(await hook.on_open(ws, lease) or {})
        return out

    async def on_close(self, ws: Workspace) -> None:
        for hook in self.hooks:
            await hook.on_close(ws)

    async def before_delete(self, ws: Workspace) -> None:
        for hook in self.hooks:
            await hook.before_delete(ws)

    async def on_delete(self, ws: Workspace, delete_notebooks: bool) -> Facts:
        out: Facts = {}
        for hook in self.hooks:
            out.update(await hook.on_delete(ws, delete_notebooks) or {})
        return out

    async def on_update(self, identity: Identity, before: Workspace, after: Workspace) -> None:
        for hook in self.hooks:
            await hook.on_update(identity, before, after)
