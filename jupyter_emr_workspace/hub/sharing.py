"""Collaboration through JupyterHub's sharing API: "share with collaborators" and revoke.

A Workspace in collaboration mode is edited on one server, the one where its owner
opened it; the listed collaborators reach that server through the hub. Sharing grants
each of them ``access:servers`` on this server (groups are expanded to their users,
because a group share grants nothing in JupyterHub 6.1.1). Turning collaboration off or
dropping a collaborator revokes what is no longer needed. The hub only lets people in;
the extension still decides who may open and edit (leases, policies), so a user the hub
admits but the Workspace does not list gets 409/423 from the extension.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .. import actions
from ..errors import Conflict, Forbidden
from ..studio import Identity
from ..workspace_registry import Workspace
from .hubapi import HubApiError, HubClient, HubEnv

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger(__name__)


class NotUnderHub(Conflict):
    code = "NotUnderJupyterHub"


class HubSharing:
    """Shares this server with a Workspace's collaborators and takes it back."""

    def __init__(self, services: Services, hub: HubClient | None) -> None:
        self.services, self.hub = services, hub
        #: Workspace id → users this server granted for it (to revoke only what is ours).
        self.granted: dict[str, set[str]] = {}
        self._lock = asyncio.Lock()

    @property
    def env(self) -> HubEnv | None:
        return self.hub.env if self.hub else None

    def _require_hub(self) -> HubClient:
        if self.hub is None:
            raise NotUnderHub(
                "This server does not run under JupyterHub, so it cannot be shared; "
                "collaborators need a JupyterHub deployment (docs/jupyterhub.md)"
            )
        return self.hub

    def server_info(self) -> dict[str, Any] | None:
        env = self.env
        if env is None:
            return None
        return {"owner": env.user, "name": env.server_name, "url": env.service_prefix}

    async def expand(self, principals: list[str]) -> tuple[set[str], list[dict[str, str]]]:
        """Hub users behind ``user:``/``group:`` principals, and what could not be expanded."""
        hub = self._require_hub()
        users: set[str] = set()
        problems: list[dict[str, str]] = []
        groups = [p.split(":", 1)[1] for p in principals if p.startswith("group:")]
        users |= {p.split(":", 1)[1] for p in principals if p.startswith("user:")}
        results = await asyncio.gather(
            *(hub.group_members(g) for g in groups), return_exceptions=True
        )
        for group, result in zip(groups, results, strict=True):
            if isinstance(result, BaseException):
                problems.append({"principal": f"group:{group}", "reason": str(result)})
            else:
                users |= set(result)
        return users, problems

    # -- the API ------------------------------------------------------------------------
    async def status(self, identity: Identity, workspace_id: str) -> dict[str, Any]:
        s = self.services
        ws = await s.registry.get(workspace_id)
        await s.guard.on_workspace(identity, actions.LIST_WORKSPACE_ACCESS_IDENTITIES, ws)
        shared = sorted(await self.hub.shared_with()) if self.hub else []
        return {
            "server": self.server_info(),
            "shared_with": shared,
            "granted_for_workspace": sorted(self.granted.get(ws.id, set())),
            "collaboration": ws.collaboration,
        }

    async def share(self, identity: Identity, workspace_id: str) -> dict[str, Any]:
        """Grant every listed collaborator access to this server (the owner's action)."""
        s = self.services
        ws = await s.registry.get(workspace_id)
        async with s.guard.on_workspace(
            identity,
            actions.PUT_WORKSPACE_ACCESS,
            ws,
            details={"operation": "share"},
        ) as facts:
            hub = self._require_hub()
            if identity.name != hub.env.user:
                raise Forbidden(
                    f"Only {hub.env.user}, who owns this server, can share it; open the "
                    "Workspace on your own server and share from there"
                )
            if not ws.collaboration.get("enabled"):
                raise Conflict(
                    f"Collaboration is off for Workspace {ws.name!r}; turn it on and list the "
                    "collaborators first",
                    code="CollaborationDisabled",
                )
            if not s.leases.holds(ws.id, identity.name):
                raise Conflict(
                    f"Open Workspace {ws.name!r} on this server before sharing it: "
                    "collaborators join the server where it is open",
                    code="WorkspaceNotOpen",
                )
            users, problems = await self.expand(list(ws.collaboration.get("collaborators", [])))
            users.discard(hub.env.user)
            shared: list[str] = []
            async with self._lock:
                for user in sorted(users):
                    try:
                        await hub.share(user)
                    except HubApiError as e:
                        if e.hub_status in {0, 403} or e.hub_status >= 500:
                            raise
                        problems.append({"principal": f"user:{user}", "reason": e.message})
                        continue
                    shared.append(user)
                self.granted.setdefault(ws.id, set()).update(shared)
            facts.update({"shared": len(shared), "skipped": len(problems)})
        return {"server": self.server_info(), "shared_with": shared, "skipped": problems}

    async def revoke(self, identity: Identity, workspace_id: str) -> dict[str, Any]:
        """Take back what sharing this Workspace granted (keeping users other shared
        Workspaces on this server still need)."""
        s = self.services
        ws = await s.registry.get(workspace_id)
        async with s.guard.on_workspace(
            identity,
            actions.DELETE_WORKSPACE_ACCESS,
            ws,
            details={"operation": "revoke"},
        ) as facts:
            self._require_hub()
            revoked = await self._revoke(ws, ws.collaboration, keep=set(), forget=True)
            facts["revoked"] = len(revoked)
        return {"server": self.server_info(), "revoked": revoked}

    async def on_update(self, identity: Identity, before: dict[str, Any], ws: Workspace) -> None:
        """After PATCH: revoke users no longer listed, or everyone when collaboration is off."""
        if self.hub is None or not before.get("enabled"):
            return
        after = ws.collaboration
        keep: set[str] = set()
        if after.get("enabled"):
            keep, _ = await self.expand(list(after.get("collaborators", [])))
        revoking = self.services.guard.on_workspace(identity, actions.DELETE_WORKSPACE_ACCESS, ws)
        try:
            revoked = await self._revoke(ws, before, keep, forget=not after.get("enabled"))
        except HubApiError as e:
            # The change itself is saved; say loudly that the hub still lets them in.
            log.error("could not revoke shares after changing %s: %s", ws.id, e)
            revoking.record("failure", error_code=e.code, details={"operation": "revoke"})
            return
        if revoked:
            revoking.record("success", details={"operation": "revoke", "revoked": len(revoked)})

    async def _revoke(
        self, ws: Workspace, collaboration: dict[str, Any], keep: set[str], forget: bool
    ) -> list[str]:
        hub = self._require_hub()
        async with self._lock:
            listed, _ = await self.expand(list(collaboration.get("collaborators", [])))
            candidates = (listed | self.granted.get(ws.id, set())) - keep - {hub.env.user}
            for other, users in self.granted.items():
                if other != ws.id:
                    candidates -= users
            current = await hub.shared_with()
            revoked = sorted(candidates & current)
            for user in revoked:
                await hub.revoke(user)
            if forget:
                self.granted.pop(ws.id, None)
            elif ws.id in self.granted:
                self.granted[ws.id] -= candidates
            return revoked
