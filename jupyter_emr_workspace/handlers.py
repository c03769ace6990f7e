"""REST handlers: thin. Parse, call a service, map errors.

Every error leaves as ``{"error": {"code", "message"}}`` with the right status, never
as an HTML page or a traceback.
"""

from __future__ import annotations

import functools
import json
from http import HTTPStatus
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import yaml
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    StoreUnavailable,
    UpstreamError,
)
from .store import ObjectNotFound, PreconditionFailed, StoreError
from .studio import Identity, identity_from_user

if TYPE_CHECKING:
    from .services import Services

NAMESPACE = "emr-workspace"
API = f"/{NAMESPACE}/api"
WS_ID = r"(?P<workspace_id>[^/]+)"
UNAUTHENTICATED = "No credentials: send 'Authorization: token <token>' or log in"
#: Request methods a handler may implement; the rest answer 405 with an ``Allow`` header.
METHODS = ("get", "post", "put", "patch", "delete")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def as_api_error(exc: BaseException, store_uri: str) -> ApiError | None:
    """The ApiError a client sees for ``exc``, or None for an unexpected error (500).

    This is the one place where the store's failures become HTTP: an unreachable or
    refusing store (and an UpstreamError a service raised because of one) is a 503
    ``StoreUnavailable`` that names the store, on every route, so a client can tell an
    outage from a bug and retry later.
    """
    if isinstance(exc, UpstreamError) and isinstance(exc.__cause__, StoreError):
        message = exc.message if store_uri in exc.message else f"{exc.message} (store {store_uri})"
        return StoreUnavailable(message, **exc.extra)
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, PreconditionFailed | ObjectNotFound):
        # a race with another server that the service did not retry: the client may
        return Conflict(
            "The Workspace changed on another server while this request ran; try again",
            code="ConcurrentModification",
        )
    if isinstance(exc, StoreError):
        return StoreUnavailable(
            f"The Studio's store {store_uri} is unavailable: {str(exc)[:300]}. "
            "Nothing was changed; try again when it is reachable."
        )
    return None


class BaseHandler(ExtensionHandlerMixin, APIHandler):
    """Maps ApiError (and anything unexpected) to JSON errors; gives handlers the caller."""

    @property
    def services(self) -> Services:
        services: Services = self.settings["emr_workspace"]
        return services

    async def prepare(self) -> None:  # type: ignore[override]
        """Studio membership first, for every route (core and parts): in IDENTITY_CENTER
        mode an unassigned user gets 403 before any validation or lookup.

        A request that carries no credentials at all gets 401 (RFC 9110), not the 403
        jupyter_server answers (its XSRF check or ``@web.authenticated``): 403 stays for
        credentials that are not enough.
        """
        try:
            await super().prepare()
        except web.HTTPError as e:
            if e.status_code == 403 and self._without_credentials():
                raise web.HTTPError(401, UNAUTHENTICATED) from None
            raise
        if self._finished:
            return
        if self.current_user is None:
            if self._without_credentials():
                raise web.HTTPError(401, UNAUTHENTICATED)
            return  # @web.authenticated answers
        await self.services.guard.require_member(
            self.identity(),
            details={"method": self.request.method, "path": self.request.path[:200]},
        )

    def _without_credentials(self) -> bool:
        """No user, and nothing that could have named one (header, cookie or token)."""
        if getattr(self, "_jupyter_current_user", None) is not None:
            return False
        request = self.request
        return not (
            request.headers.get("Authorization")
            or request.headers.get("Cookie")
            or "token" in request.query_arguments
        )

    def identity(self) -> Identity:
        return identity_from_user(
            self.current_user, self.services.studio, source_ip=self.request.remote_ip
        )

    def json_body(self) -> dict[str, Any]:
        limit = self.services.studio.max_body_bytes
        body = self.request.body or b""
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is {len(body)} bytes; the limit is {limit}")
        if not body.strip():
            return {}
        try:
            # NaN and Infinity are not JSON (RFC 8259) although Python reads them
            data = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"request body is not valid JSON: {e}") from None
        except RecursionError:
            raise BadRequest("request body is nested too deeply") from None
        if not isinstance(data, dict):
            raise BadRequest("request body must be a JSON object")
        return data

    def empty_body(self) -> None:
        """For operations that take no fields: refuse any (a typo must not pass silently)."""
        data = self.json_body()
        if data:
            fields = sorted(data)[:10]
            raise BadRequest(f"{self.request.method} {self.request.path} takes no fields: {fields}")

    def send(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        if status == 204:
            self.finish()
        else:
            self.finish(json.dumps(data))

    def allowed_methods(self) -> list[str]:
        """The methods this route implements (for 405's ``Allow`` header, RFC 9110)."""
        return [
            m.upper()
            for m in METHODS
            if getattr(type(self), m) is not getattr(web.RequestHandler, m)
        ]

    def _store_uri(self) -> str:
        try:
            return str(self.services.store.uri)
        except (KeyError, AttributeError):
            return "(not configured)"

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        error = as_api_error(exc, self._store_uri()) if exc is not None else None
        if error is not None:
            self.set_status(error.status)
            if error.status == 503:
                self.set_header("Retry-After", "10")
            self.finish(json.dumps(error.to_json()))
            return
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'token realm="jupyter_server"')
        if isinstance(exc, web.HTTPError):
            message = (
                exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
            )
            reason = exc.reason or HTTPStatus(status_code).phrase
            body = {"code": reason.replace(" ", ""), "message": message or reason}
        else:
            body = {
                "code": "InternalError",
                "message": "Unexpected server error; the server log has the details",
            }
        self.finish(json.dumps({"error": body}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        error = as_api_error(value, self._store_uri())
        if error is not None and error.status < 500:
            self.log.info("%s %s: %s %s", self.request.method, self.request.path, error.code, error)
            return
        if isinstance(error, StoreUnavailable):
            self.log.warning("%s %s: %s", self.request.method, self.request.path, error)
            return
        super().log_exception(typ, value, tb)


class StudioHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.send(await self.services.workspaces.studio_info(self.identity()))


class SessionMappingsHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        mappings = await self.services.workspaces.session_mappings(self.identity())
        self.send({"mappings": mappings})

    @web.authenticated
    async def put(self) -> None:
        mappings = await self.services.workspaces.put_session_mapping(
            self.identity(), self.json_body()
        )
        self.send({"mappings": mappings})


class WorkspacesHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        # fresh=true: list the store now, not what this server listed within
        # c.Studio.listing_max_age (the panel's refresh button)
        fresh = self.get_query_argument("fresh", "false")
        if fresh not in ("true", "false"):
            raise BadRequest("fresh must be true or false")
        items = await self.services.workspaces.list_workspaces(
            self.identity(), fresh=fresh == "true"
        )
        self.send({"workspaces": items})

    @web.authenticated
    async def post(self) -> None:
        ws = await self.services.workspaces.create_workspace(self.identity(), self.json_body())
        self.send(ws, 201)


class WorkspaceHandler(BaseHandler):
    @web.authenticated
    async def get(self, workspace_id: str) -> None:
        self.send(await self.services.workspaces.get_workspace(self.identity(), workspace_id))

    @web.authenticated
    async def patch(self, workspace_id: str) -> None:
        ws = await self.services.workspaces.update_workspace(
            self.identity(), workspace_id, self.json_body()
        )
        self.send(ws)

    @web.authenticated
    async def delete(self, workspace_id: str) -> None:
        raw = self.get_query_argument("delete_notebooks", "false").lower()
        if raw not in {"true", "false", "1", "0"}:
            raise BadRequest("delete_notebooks must be true or false")
        result = await self.services.workspaces.delete_workspace(
            self.identity(), workspace_id, raw in {"true", "1"}
        )
        # 200 with facts, not 204: the caller must learn that backups remain and cost storage.
        self.send(result)


class OpenHandler(BaseHandler):
    @web.authenticated
    async def post(self, workspace_id: str) -> None:
        self.empty_body()
        self.send(await self.services.workspaces.open(self.identity(), workspace_id))


class HeartbeatHandler(BaseHandler):
    @web.authenticated
    async def post(self, workspace_id: str) -> None:
        result = await self.services.workspaces.heartbeat(
            self.identity(), workspace_id, self.json_body()
        )
        self.send(result)


class CloseHandler(BaseHandler):
    @web.authenticated
    async def post(self, workspace_id: str) -> None:
        await self.services.workspaces.close(self.identity(), workspace_id, self.json_body())
        self.send(None, 204)


class LockHandler(BaseHandler):
    @web.authenticated
    async def delete(self, workspace_id: str) -> None:
        await self.services.workspaces.force_release(self.identity(), workspace_id)
        self.send(None, 204)


class EventsHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        raw = self.get_query_argument("limit", "100")
        # int() would also take " 5", "+5" and "1_0"
        if not raw.isascii() or not raw.isdigit():
            raise BadRequest("limit must be a whole number")
        limit = int(raw)
        if not 1 <= limit <= 1000:
            raise BadRequest("limit must be between 1 and 1000")
        events = await self.services.workspaces.events(self.identity(), limit)
        self.send({"events": events})


class OpenApiHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        compute = self.services.compute
        text = served_document(
            tuple(sorted(self.services.studio.policies)),
            tuple(sorted(getattr(compute, "sources", []))),
        )
        self.finish(text, set_content_type="application/yaml")


@functools.lru_cache(maxsize=8)
def served_document(policy_names: tuple[str, ...], cluster_types: tuple[str, ...]) -> str:
    """openapi.yaml with this Studio's policy names and cluster sources as the enums of
    ``PolicyName`` and ``ClusterType``: the document says which values this server
    accepts (with none configured, no value is valid)."""
    text = files(__package__).joinpath("openapi.yaml").read_text()
    doc = yaml.safe_load(text)
    schemas = doc["components"]["schemas"]
    for name, values in (("PolicyName", policy_names), ("ClusterType", cluster_types)):
        if values:
            schemas[name]["enum"] = sorted(values)
        else:
            schemas[name]["not"] = {}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


class NotFoundHandler(BaseHandler):
    """Unknown API paths answer in JSON too."""

    @web.authenticated
    async def get(self, *args: Any) -> None:
        raise NotFound(f"No API endpoint {self.request.method} {self.request.path}")

    post = put = patch = delete = get


def route_table() -> list[tuple[str, type[BaseHandler]]]:
    routes: list[tuple[str, type[BaseHandler]]] = [
        ("studio", StudioHandler),
        ("studio/session-mappings", SessionMappingsHandler),
        ("workspaces", WorkspacesHandler),
        (f"workspaces/{WS_ID}", WorkspaceHandler),
        (f"workspaces/{WS_ID}/open", OpenHandler),
        (f"workspaces/{WS_ID}/heartbeat", HeartbeatHandler),
        (f"workspaces/{WS_ID}/close", CloseHandler),
        (f"workspaces/{WS_ID}/lock", LockHandler),
        ("events", EventsHandler),
        ("openapi.yaml", OpenApiHandler),
    ]
    return routes


def api_handlers(
    extra: list[tuple[str, type[BaseHandler]]] = [],  # noqa: B006 (read only)
) -> list[tuple[str, type[BaseHandler]]]:
    """URL patterns (without the base URL, which ExtensionApp prepends) and handlers."""
    rules = [(url_path_join(API, path) + "/?", handler) for path, handler in route_table() + extra]
    rules.append((url_path_join(API, ".*"), NotFoundHandler))
    return rules
