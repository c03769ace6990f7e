"""Authorize an action and record it: one audit event per action and per denial."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from .assignments import AccessControl
from .errors import ApiError, Forbidden
from .events import AuditLog
from .studio import Identity


class Guard:
    def __init__(self, access: AccessControl, audit: AuditLog):
        self.access, self.audit = access, audit

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
        if not await self.access.is_member(identity):
            self.audit.record(
                identity,
                action,
                resource,
                "denied",
                error_code="NotAssignedToStudio",
                details=details,
            )
            await self.access.require_member(identity)
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
