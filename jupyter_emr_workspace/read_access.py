"""Who may read inside the Workspaces folder: the Studio's isolation for reads.

Reading a Workspace's files (contents, files, view, nbconvert, a document's room) needs
Studio membership and ``elasticmapreduce:DescribeEditor`` on that Workspace, the same
question the extension's API asks; listing the Workspaces folder itself needs
``elasticmapreduce:ListEditors`` on the Studio. The Guard decides and records each
denial. A decision is kept for ``TTL`` seconds per caller and Workspace, so a notebook
that loads many files asks once; in open mode (no policies, IAM) reads cost nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import actions
from .errors import Forbidden, NotFound
from .permission_checks import Guard
from .studio import Identity

if TYPE_CHECKING:
    from .services import Services


class ReadAccess:
    TTL = 5.0
    MAX_ENTRIES = 10_000

    def __init__(self, services: Services) -> None:
        self.services = services
        self.guard: Guard = services.guard
        self._decided: dict[tuple[Any, ...], tuple[float, Forbidden | None]] = {}

    async def require(self, identity: Identity, workspace_id: str) -> None:
        """Raise Forbidden unless ``identity`` may read in ``workspace_id`` (``""``: the
        Workspaces folder itself)."""
        if self.services.access.open_mode:
            return
        key = (identity.name, identity.groups, identity.source_ip, workspace_id)
        now = time.monotonic()
        hit = self._decided.get(key)
        if hit is not None and hit[0] > now:
            if hit[1] is not None:
                # re-raising one instance would chain every raise's frames (and the
                # requests they hold) onto its traceback for as long as it is cached
                raise hit[1].with_traceback(None)
            return
        try:
            await self._decide(identity, workspace_id)
            denial = None
        except Forbidden as e:
            denial = e
        if len(self._decided) >= self.MAX_ENTRIES:
            self._decided = {k: v for k, v in self._decided.items() if v[0] > now}
            if len(self._decided) >= self.MAX_ENTRIES // 2:
                # all fresh (many callers, or spoofed source IPs): start over rather than
                # copy the whole table again on every following request
                self._decided = {}
        self._decided[key] = (now + self.TTL, denial)
        if denial is not None:
            raise denial

    async def _decide(self, identity: Identity, workspace_id: str) -> None:
        s = self.services
        if workspace_id == "":
            await self.guard.on_studio(identity, actions.LIST_EDITORS, details={"via": "contents"})
            return
        ws = s.registry.cached(workspace_id)
        if ws is None:
            try:
                ws = await s.registry.get(workspace_id)
            except NotFound:
                ws = None  # a folder whose Workspace is gone: judged without tags
        await self.guard.on_workspace(
            identity,
            actions.DESCRIBE_EDITOR,
            ws if ws is not None else workspace_id,
            details={"via": "contents"},
        )
