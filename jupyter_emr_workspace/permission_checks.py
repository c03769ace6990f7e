"""Authorize an action and record it: one audit event per action and per denial.

Call sites say what is asked on what, and nothing else: ``guard.on_workspace(identity,
actions.DESCRIBE_EDITOR, ws)`` builds the Workspace's ARN, passes its tags to the policy
evaluation and writes the audit event, so no caller can pair the wrong ARN and tags or
forget the record. Studio membership is checked here, in ``require_member``, for the
REST API's every request (``handlers.BaseHandler.prepare``) and every decision.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any

from . import actions
from .assignments import AccessControl, Arns
from .errors import ApiError, Forbidden
from .events import AuditLog
from .studio import Identity
from .workspace_registry import Workspace

#: ``on_workspace``'s resource for actions on no Workspace in particular (create, list).
ANY_WORKSPACE = "*"


class Check:
    """One action on one resource by one caller, not yet decided.

    ``await check`` authorizes (raises Forbidden and records the denial);
    ``async with check as facts`` authorizes, runs the body and records its success or
    failure (the body may add non-secret facts for the event); ``check.record(outcome)``
    records an event for something decided elsewhere (a lost lease, a failed revoke).
    """

    def __init__(
        self,
        guard: Guard,
        identity: Identity,
        action: str,
        resource: str,
        *,
        resource_tags: Mapping[str, str] | None = None,
        request_tags: Mapping[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.guard, self.identity, self.action, self.resource = guard, identity, action, resource
        self.resource_tags, self.request_tags, self.details = resource_tags, request_tags, details
        self._body: contextlib.AbstractAsyncContextManager[dict[str, Any]] | None = None

    def __await__(self) -> Generator[Any, None, None]:
        return self.guard.require(
            self.identity,
            self.action,
            self.resource,
            resource_tags=self.resource_tags,
            request_tags=self.request_tags,
            details=self.details,
        ).__await__()

    async def __aenter__(self) -> dict[str, Any]:
        self._body = self.guard.action(
            self.identity,
            self.action,
            self.resource,
            resource_tags=self.resource_tags,
            request_tags=self.request_tags,
            details=self.details,
        )
        return await self._body.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._body is not None, "__aexit__ without __aenter__"
        return await self._body.__aexit__(exc_type, exc, tb)

    def record(
        self, outcome: str, *, error_code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        merged = {**(self.details or {}), **(details or {})}
        self.guard.audit.record(
            self.identity,
            self.action,
            self.resource,
            outcome,
            error_code=error_code,
            details=merged or None,
        )


class Guard:
    def __init__(self, access: AccessControl, audit: AuditLog):
        self.access, self.audit = access, audit

    @property
    def arns(self) -> Arns:
        return self.access.arns

    # -- the one way call sites ask ------------------------------------------------------
    def on_workspace(
        self,
        identity: Identity,
        action: str,
        workspace: Workspace | str,
        *,
        request_tags: Mapping[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> Check:
        """``action`` on a Workspace: its ARN, and its tags for ABAC conditions.

        ``workspace`` is the Workspace, or an id when only that is known (a folder whose
        Workspace is gone: judged without tags), or ``ANY_WORKSPACE``.
        """
        resource, tags = self._workspace(workspace)
        return Check(
            self,
            identity,
            action,
            resource,
            resource_tags=tags,
            request_tags=request_tags,
            details=details,
        )

    def _workspace(self, workspace: Workspace | str) -> tuple[str, Mapping[str, str]]:
        """The ARN and the tags a Workspace is judged by (an id alone: no tags)."""
        if isinstance(workspace, Workspace):
            return self.arns.workspace(workspace.id), workspace.tags
        return self.arns.workspace(workspace), {}

    def on_studio(
        self, identity: Identity, action: str, *, details: dict[str, Any] | None = None
    ) -> Check:
        """``action`` on the Studio itself (list Workspaces, audit log, session mappings)."""
        return Check(self, identity, action, self.arns.studio(), details=details)

    async def permissions_on_workspace(
        self, identity: Identity, names: Sequence[str], workspace: Workspace | str
    ) -> dict[str, bool]:
        """Which of ``names`` the caller may do on ``workspace`` (for the UI; not recorded)."""
        resource, tags = self._workspace(workspace)
        return await self.access.permissions(identity, names, resource, tags)

    async def require_member(
        self,
        identity: Identity,
        action: str = actions.USE_STUDIO,
        resource: str | None = None,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Raise Forbidden (``NotAssignedToStudio``, recorded) unless ``identity`` is
        assigned to the Studio (always true in IAM mode)."""
        if await self.access.is_member(identity):
            return
        self.audit.record(
            identity,
            action,
            resource or self.arns.studio(),
            "denied",
            error_code="NotAssignedToStudio",
            details=details,
        )
        await self.access.require_member(identity)

    # -- the general forms (any resource) ------------------------------------------------
    async def require(
        self,
        identity: Identity,
        action: str,
        resource: str,
        *,
        resource_tags: Mapping[str, str] | None = None,
        request_tags: Mapping[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Raise Forbidden (and record the denial) unless ``identity`` may act."""
        await self.require_member(identity, action, resource, details=details)
        decision = await self.access.decide(
            identity, action, resource, resource_tags=resource_tags, request_tags=request_tags
        )
        if not decision.allowed:
            self.audit.record(
                identity, action, resource, "denied", error_code="AccessDenied", details=details
            )
            why = "an explicit deny" if decision.name == "EXPLICIT_DENY" else "no policy allows it"
            raise Forbidden(
                f"User {identity.name} is not authorized to perform {action} on {resource} "
                f"({why}); ask your Studio admin for a policy that allows it"
            )

    @contextlib.asynccontextmanager
    async def action(
        self,
        identity: Identity,
        action: str,
        resource: str,
        *,
        resource_tags: Mapping[str, str] | None = None,
        request_tags: Mapping[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Authorize, run the body, then record success or failure.

        The body may add non-secret facts to the yielded dict for the event.
        """
        facts: dict[str, Any] = dict(details or {})
        await self.require(
            identity,
            action,
            resource,
            resource_tags=resource_tags,
            request_tags=request_tags,
            details=facts,
        )
        try:
            yield facts
        except ApiError as e:
            outcome = "denied" if isinstance(e, Forbidden) else "failure"
            self.audit.record(identity, action, resource, outcome, error_code=e.code, details=facts)
            raise
        except Exception as e:
            self.audit.record(
                identity, action, resource, "failure", error_code=type(e).__name__, details=facts
            )
            raise
        self.audit.record(identity, action, resource, "success", details=facts)
