"""Errors that cross the REST API.

Services raise these; the base handler maps them to ``{"error": {"code", "message"}}``
with the status below, so no service needs to know about HTTP.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error a client can act on: a stable ``code``, an HTTP ``status`` and a message."""

    status = 500
    code = "InternalError"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class BadRequest(ApiError):
    status = 400
    code = "ValidationException"


class Forbidden(ApiError):
    status = 403
    code = "AccessDenied"


class NotFound(ApiError):
    status = 404
    code = "ResourceNotFound"


class Conflict(ApiError):
    status = 409
    code = "Conflict"


class WorkspaceInUse(Conflict):
    code = "WorkspaceInUse"


class LeaseLost(Conflict):
    code = "LeaseLost"


class Locked(ApiError):
    """A write to a Workspace whose lease the caller does not hold."""

    status = 423
    code = "WorkspaceLocked"


class PayloadTooLarge(ApiError):
    status = 413
    code = "PayloadTooLarge"


class UpstreamError(ApiError):
    """A dependency (S3, EMR, Livy) failed or could not be reached."""

    status = 502
    code = "UpstreamError"


class StoreUnavailable(ApiError):
    """The Studio's store (S3 or a folder) cannot be reached or refuses the request.

    503, not 500: nothing is wrong with the request, and the client may retry once the
    store named in the message is back. ``handlers.py`` maps every ``store.StoreError``
    that reaches a handler to this, so no service has to.
    """

    status = 503
    code = "StoreUnavailable"


class PartNotRunning(ApiError):
    """A route of an optional part (storage, compute, hub) was called while that part is
    not running (stopped, or never started): the server is fine, this part of it is not."""

    status = 503
    code = "PartNotRunning"


class ConfigError(ValueError):
    """Invalid Studio configuration: stops the server at start, naming the setting."""


def check_fields(
    body: dict[str, Any], allowed: set[str], required: frozenset[str] | set[str] = frozenset()
) -> None:
    """A JSON body (or query) names only ``allowed`` fields and every ``required`` one:
    a 400 naming them, so a typo is never silently ignored."""
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = required - set(body)
    if missing:
        raise BadRequest(f"missing required fields {sorted(missing)}")
