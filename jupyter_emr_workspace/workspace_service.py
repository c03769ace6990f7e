"""The Workspace service: every REST operation on Studios and Workspaces.

It authorizes (with EMR Studio's action names), calls the registry and the lease
manager, and records audit events. It knows nothing of tornado: handlers parse
requests and call it; it raises ApiError subclasses that handlers map to HTTP.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from . import __version__, actions
from .assignments import AccessControl, Arns
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    LeaseLost,
    UpstreamError,
    check_fields,
)
from .events import AuditLog
from .folders import WorkspaceFolders
from .hooks import HookChain
from .leases import Lease, LeaseManager
from .permission_checks import ANY_WORKSPACE, Guard
from .store import StoreError
from .studio import Identity, Studio
from .workspace_registry import (
    CREATOR_TAG,
    Workspace,
    WorkspaceRegistry,
    validate_collaboration,
    validate_description,
    validate_tags,
)

log = logging.getLogger(__name__)


def _token(body: dict[str, Any]) -> str:
    check_fields(body, {"token"}, {"token"})
    token = body["token"]
    if not isinstance(token, str) or not 1 <= len(token) <= 256:
        raise BadRequest("token must be the string returned by /open")
    return token


class WorkspaceService:
    def __init__(
        self,
        studio: Studio,
        registry: WorkspaceRegistry,
        leases: LeaseManager,
        access: AccessControl,
        guard: Guard,
        audit: AuditLog,
        arns: Arns,
        folders: WorkspaceFolders,
        hooks: HookChain,
    ) -> None:
        self.studio, self.registry, self.leases = studio, registry, leases
        self.access, self.guard, self.audit, self.arns = access, guard, audit, arns
        self.folders, self.hooks = folders, hooks
        #: Whether Workspace backups work with the server's contents manager (set by the
        #: storage part at start: ``contents.choice.backups_status``).
        self.backups: dict[str, Any] = {
            "enabled": False,
            "reason": "storage has not started",
            "contents_manager": "",
        }

    # -- views ------------------------------------------------------------------------
    async def view(
        self, identity: Identity, ws: Workspace, lock: dict[str, Any] | bool | None = False
    ) -> dict[str, Any]:
        """A Workspace as the API shows it: with its folder, lock and the caller's rights."""
        if lock is False:
            lock = await self.leases.state(ws.id)
        data = ws.to_json()
        data["path"] = self.folders.api_path(ws.id)
        data["lock"] = lock
        data["permissions"] = await self.guard.permissions_on_workspace(
            identity, actions.WORKSPACE_ACTIONS, ws
        )
        return data

    async def studio_info(self, identity: Identity) -> dict[str, Any]:
        await self.guard.require_member(identity)
        return {
            "id": self.studio.id,
            "name": self.studio.name,
            "description": self.studio.description,
            "arn": self.arns.studio(),
            "auth_mode": self.studio.auth_mode,
            "version": __version__,
            "user": {"name": identity.name, "groups": list(identity.groups)},
            "permissions": await self.guard.permissions_on_workspace(
                identity, actions.STUDIO_ACTIONS, ANY_WORKSPACE
            ),
            "backup_uri": self.studio.resolved_backup_uri,
            "workspaces_dir": self.folders.workspaces_dir,
            "subnet_ids": list(self.studio.subnet_ids),
            "lease_seconds": self.studio.lease_seconds,
            "heartbeat_seconds": self.studio.heartbeat_seconds,
            "autosave_interval": self.studio.autosave_interval,
            "server_id": self.leases.server_id,
            "backups": dict(self.backups),
        }

    # -- Workspaces -------------------------------------------------------------------
    async def list_workspaces(
        self, identity: Identity, *, fresh: bool = False
    ) -> list[dict[str, Any]]:
        """``fresh``: list the store now; else reuse what was listed within
        ``c.Studio.listing_max_age`` (this server's own changes show at once)."""
        await self.guard.on_studio(identity, actions.LIST_EDITORS)
        age = 0.0 if fresh else None
        workspaces, locks = await asyncio.gather(
            self.registry.list(max_age=age), self.leases.states(max_age=age)
        )
        out = []
        for ws in workspaces:
            view = await self.view(identity, ws, locks.get(ws.id))
            if view["permissions"].get(actions.DESCRIBE_EDITOR):
                out.append(view)
        return out

    async def get_workspace(self, identity: Identity, workspace_id: str) -> dict[str, Any]:
        ws = await self.registry.get(workspace_id)
        await self.guard.on_workspace(identity, actions.DESCRIBE_EDITOR, ws)
        return await self.view(identity, ws)

    async def create_workspace(self, identity: Identity, body: dict[str, Any]) -> dict[str, Any]:
        check_fields(body, {"name", "description", "tags", "collaboration"}, {"name"})
        tags = validate_tags(body.get("tags", {}))
        if CREATOR_TAG in tags:
            raise BadRequest(f"tag {CREATOR_TAG!r} is set by the server")
        async with self.guard.on_workspace(
            identity,
            actions.CREATE_EDITOR,
            ANY_WORKSPACE,
            request_tags={**tags, CREATOR_TAG: identity.name},
            details={"name": str(body.get("name"))[:64]},
        ) as facts:
            ws = await self.registry.create(
                body["name"],
                identity.name,
                description=validate_description(body.get("description", "")),
                tags=tags,
                collaboration=body.get("collaboration"),
            )
            facts["workspace_id"] = ws.id
        await asyncio.to_thread(self.folders.ensure, ws.id)
        return await self.view(identity, ws, None)

    async def update_workspace(
        self, identity: Identity, workspace_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        check_fields(body, {"description", "tags", "collaboration"})
        if not body:
            raise BadRequest("nothing to change: send description, tags or collaboration")
        ws = await self.registry.get(workspace_id)
        description = validate_description(body["description"]) if "description" in body else None
        tags = validate_tags(body["tags"]) if "tags" in body else None
        if tags is not None and tags.get(CREATOR_TAG, ws.created_by) != ws.created_by:
            raise BadRequest(f"tag {CREATOR_TAG!r} cannot be changed")
        collaboration = (
            validate_collaboration(body["collaboration"]) if "collaboration" in body else None
        )
        if collaboration is not None:
            before = set(ws.collaboration.get("collaborators", []))
            after = set(collaboration["collaborators"])
            if after - before or (collaboration["enabled"] and not ws.collaboration["enabled"]):
                await self.guard.on_workspace(identity, actions.PUT_WORKSPACE_ACCESS, ws)
            if before - after or (not collaboration["enabled"] and ws.collaboration["enabled"]):
                await self.guard.on_workspace(identity, actions.DELETE_WORKSPACE_ACCESS, ws)
        async with self.guard.on_workspace(
            identity,
            actions.UPDATE_EDITOR,
            ws,
            request_tags=tags,
            details={"fields": sorted(body)},
        ):
            previous: list[Workspace] = []

            def change(current: Workspace) -> None:
                previous[:] = [copy.deepcopy(current)]  # what hooks compare against
                if description is not None:
                    current.description = description
                if tags is not None:
                    current.tags = {**tags, CREATOR_TAG: current.created_by}
                if collaboration is not None:
                    current.collaboration = collaboration

            ws = await self.registry.update(ws.id, change)
        await self.hooks.on_update(identity, previous[0], ws)
        return await self.view(identity, ws)

    async def delete_workspace(
        self, identity: Identity, workspace_id: str, delete_notebooks: bool
    ) -> dict[str, Any]:
        ws = await self.registry.get(workspace_id)
        async with self.guard.on_workspace(
            identity,
            actions.DELETE_EDITOR,
            ws,
            details={"name": ws.name, "delete_notebooks": delete_notebooks},
        ) as facts:
            lock = await self.leases.state(ws.id)
            others = [h for h in (lock or {}).get("holders", []) if h["user"] != identity.name]
            if others:
                raise Conflict(
                    f"Workspace {ws.name!r} is open by {others[0]['user']} since "
                    f"{others[0]['since']}; it can be deleted once they close it",
                    code="WorkspaceInUse",
                    holder=others[0],
                )
            # kernels running in its folder would lose it mid-run (other clients than the
            # panel exist): refuse, naming them, before anything is deleted
            await self.hooks.before_delete(ws)
            result = {"id": ws.id, "name": ws.name, "delete_notebooks": delete_notebooks}
            result.update(await self.hooks.on_delete(ws, delete_notebooks))
            await self.registry.delete(ws)
            await self.leases.delete(ws.id)
            await asyncio.to_thread(self.folders.remove, ws.id)
            facts.update(result)
        return result

    # -- leases -----------------------------------------------------------------------
    async def open(self, identity: Identity, workspace_id: str) -> dict[str, Any]:
        ws = await self.registry.get(workspace_id)
        await self.guard.on_workspace(identity, actions.START_EDITOR, ws)
        async with self.guard.on_workspace(identity, actions.OPEN_EDITOR_CONSOLE, ws) as facts:
            before = self.leases.lease_for(ws.id, identity.name)
            lease = await self.leases.acquire(
                ws.id,
                identity.name,
                shared=bool(ws.collaboration.get("enabled")),
                may_share=ws.is_collaborator(identity.principals),
            )
            facts["generation"] = lease.generation
            try:
                await asyncio.to_thread(self.folders.ensure, ws.id)
                extra = await self.hooks.on_open(ws, lease)
                view = await self.view(identity, ws, self.leases.last_known_state(ws.id))
            except BaseException as e:
                # nobody got the token: the lease must not outlive this request (unless
                # it is the one an earlier open of this user here already handed out)
                if before is None or before.token != lease.token:
                    await self._release_after_failed_open(ws.id, lease)
                if isinstance(e, ApiError | StoreError) or not isinstance(e, Exception):
                    raise
                raise UpstreamError(
                    f"Opening Workspace {ws.id} failed after its lease was taken ({e}); the "
                    "lease was released, nothing was changed; try again or ask your admin",
                    code="OpenFailed",
                ) from e
            facts.update({k: v for k, v in extra.items() if isinstance(v, int | str | bool)})
        return {
            "workspace": view,
            "lease": lease.to_json(),
            "path": self.folders.api_path(ws.id),
            **extra,
        }

    async def _release_after_failed_open(self, workspace_id: str, lease: Lease) -> None:
        try:
            await asyncio.shield(self.leases.release(workspace_id, lease.token))
        except Exception as e:  # the store went away too: the lease runs out by itself
            log.warning("lease on %s not released after a failed open: %s", workspace_id, e)

    def _own_lease(self, identity: Identity, workspace_id: str, token: str) -> None:
        lease = self.leases.held.get(workspace_id, {}).get(identity.name)
        if lease is not None and lease.token != token:
            raise LeaseLost(
                f"This lease token is not yours on Workspace {workspace_id}; reopen it",
            )

    async def heartbeat(
        self, identity: Identity, workspace_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        token = _token(body)
        # The copy read at open is enough to authorize a renewal: a heartbeat is one PUT.
        ws = self.registry.cached(workspace_id) or await self.registry.get(workspace_id)
        # renewing continues an open: unassigned or no longer allowed users are refused
        renewal = self.guard.on_workspace(identity, actions.OPEN_EDITOR_CONSOLE, ws)
        await renewal
        self._own_lease(identity, ws.id, token)
        try:
            lease = await self.leases.renew(ws.id, token)
        except LeaseLost as e:
            renewal.record("failure", error_code=e.code, details={"operation": "heartbeat"})
            raise
        if lease.user != identity.name:
            raise Forbidden("This lease belongs to another user")
        return {"lease": lease.to_json()}

    async def close(self, identity: Identity, workspace_id: str, body: dict[str, Any]) -> None:
        token = _token(body)
        ws = await self.registry.get(workspace_id)
        self._own_lease(identity, ws.id, token)
        async with self.guard.on_workspace(identity, actions.STOP_EDITOR, ws):
            if self.leases.holds(ws.id, identity.name):
                await self.hooks.on_close(ws)
            if not await self.leases.release(ws.id, token):
                raise LeaseLost(
                    f"This token holds no lease on Workspace {ws.id}: it was closed already, "
                    "released by an admin, taken over, or never issued",
                )

    async def force_release(self, identity: Identity, workspace_id: str) -> None:
        ws = await self.registry.get(workspace_id)
        async with self.guard.on_workspace(identity, actions.FORCE_RELEASE_LOCK, ws) as facts:
            facts["generation"] = await self.leases.force_release(ws.id)

    # -- audit and mappings -------------------------------------------------------------
    async def events(self, identity: Identity, limit: int) -> list[dict[str, Any]]:
        await self.guard.on_studio(identity, actions.READ_AUDIT_LOG)
        return self.audit.recent(limit)

    async def session_mappings(self, identity: Identity) -> dict[str, list[str]]:
        await self.guard.on_studio(identity, actions.GET_STUDIO_SESSION_MAPPING)
        return await self.access.mappings.effective()

    async def put_session_mapping(
        self, identity: Identity, body: dict[str, Any]
    ) -> dict[str, list[str]]:
        check_fields(body, {"principal", "policies"}, {"principal", "policies"})
        principal, names = body["principal"], body["policies"]
        if not isinstance(principal, str) or not (
            names is None or (isinstance(names, list) and all(isinstance(n, str) for n in names))
        ):
            raise BadRequest("principal must be 'user:NAME' or 'group:NAME'; policies a list")
        async with self.guard.on_studio(
            identity,
            actions.UPDATE_STUDIO_SESSION_MAPPING,
            details={"principal": principal, "policies": names},
        ):
            return await self.access.mappings.put(principal, names)
