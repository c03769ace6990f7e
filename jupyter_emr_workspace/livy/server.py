"""The Livy REST subset over tornado, and `LivyEngine`, which serves it in the current loop.

Errors answer `{"msg": ...}` as Livy does (sparkmagic shows that payload to the user), plus
the project's `{"error": {"code", "message"}}`. With a token set, every request needs HTTP
Basic auth (the port is on loopback, but other local users and web pages in the user's
browser can reach loopback too): the token itself is the admin's password, and each owner
(a Workspace) has its own derived one (`credentials.py`). Owners see and touch only the
sessions they created; another owner's session answers 404, as a missing one does.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from .availability import engine_unavailable_reason
from .credentials import Principal, authenticate
from .errors import LivyError
from .launch import normalize_kind
from .output import DEFAULT_MAX_OUTPUT_CHARS
from .registry import DEFAULT_MAX_SESSIONS_PER_OWNER, SessionRegistry
from .sessions import Session

log = logging.getLogger("jupyter_emr_workspace.livy")
LIVY_VERSION = "0.8.0-local"
TOKEN_ENV = "EMR_WORKSPACE_LIVY_TOKEN"  # the engine's Basic-auth token, passed by environment
READY_PREFIX = "Livy-compatible engine ready at "  # the line `python -m ...livy` prints


#: Ids are counters: more digits than this name nothing (and `int()` refuses 4,300+ digits).
MAX_ID_DIGITS = 18


def parse_id(text: str, what: str = "Session") -> int:
    """A session or statement id from the URL (digits only, by the routes): an absurdly
    long one names nothing, so it is not found (not a server error)."""
    if len(text) > MAX_ID_DIGITS:
        raise LivyError(404, f"{what} '{text[:MAX_ID_DIGITS]}...' not found.", f"{what}NotFound")
    return int(text)


class LivyHandler(tornado.web.RequestHandler):
    registry: SessionRegistry
    token: str | None
    caller: Principal

    def initialize(self, registry: SessionRegistry, token: str | None) -> None:
        self.registry = registry
        self.token = token

    def prepare(self) -> None:
        caller = authenticate(self.token, self.request.headers.get("Authorization", ""))
        if caller is None:
            raise LivyError(
                401,
                "Authentication required: use the credentials from the "
                "Workspace's sparkmagic config.",
                "Unauthorized",
            )
        self.caller = caller

    def send_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except ValueError:
            raise LivyError(400, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise LivyError(400, "The request body must be a JSON object.")
        return data

    def session(self, session_id: str) -> Session:
        session = self.registry.get(parse_id(session_id), self.caller)
        session.touch()
        return session

    def int_arg(self, name: str) -> int | None:
        value = self.get_query_argument(name, None)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise LivyError(400, f"Query parameter '{name}' must be an integer.") from None
        return number

    def paging_arg(self, name: str) -> int | None:
        """`from`/`size` of a listing: a negative one would page from the end."""
        number = self.int_arg(name)
        if number is not None and number < 0:
            raise LivyError(400, f"Query parameter '{name}' must not be negative.")
        return number

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, LivyError):
            message, code = exc.message, exc.code
        else:
            message, code = self._reason, "InternalError" if status_code >= 500 else "Error"
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Basic realm="livy"')
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"msg": message, "error": {"code": code, "message": message}}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if not isinstance(value, LivyError):
            super().log_exception(typ, value, tb)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, LivyError):
            status_code = exc.status
        super().send_error(status_code, **kwargs)


class SessionsHandler(LivyHandler):
    def get(self) -> None:
        self.send_json(
            self.registry.list_json(
                self.caller, self.paging_arg("from") or 0, self.paging_arg("size") or 100
            )
        )

    async def post(self) -> None:
        session = await self.registry.create(self.body(), owner=self.caller.name)
        self.set_header("Location", f"/sessions/{session.id}")
        self.send_json(session.to_json(), 201)


class SessionHandler(LivyHandler):
    def get(self, session_id: str) -> None:
        self.send_json(self.session(session_id).to_json())

    async def delete(self, session_id: str) -> None:
        await self.registry.delete(parse_id(session_id), self.caller)
        self.send_json({"msg": "deleted"})


class StateHandler(LivyHandler):
    def get(self, session_id: str) -> None:
        session = self.session(session_id)
        self.send_json({"id": session.id, "state": session.state})


class LogHandler(LivyHandler):
    def get(self, session_id: str) -> None:
        session = self.session(session_id)
        self.send_json(session.log_slice(self.int_arg("from"), self.int_arg("size")))


class StatementsHandler(LivyHandler):
    def get(self, session_id: str) -> None:
        session = self.session(session_id)
        start, size = self.paging_arg("from") or 0, self.paging_arg("size")
        statements = session.statements[start : None if size is None else start + size]
        self.send_json(
            {
                "total_statements": len(session.statements),
                "statements": [s.to_json() for s in statements],
            }
        )

    def post(self, session_id: str) -> None:
        session = self.session(session_id)
        body = self.body()
        code = body.get("code")
        if not isinstance(code, str):
            raise LivyError(400, "'code' must be a string.")
        kind = normalize_kind(body.get("kind") or session.kind, "Statement")
        statement = session.submit(code, kind)
        self.set_header("Location", f"/sessions/{session.id}/statements/{statement.id}")
        self.send_json(statement.to_json(), 201)


class StatementHandler(LivyHandler):
    def get(self, session_id: str, statement_id: str) -> None:
        statement = self.session(session_id).get_statement(parse_id(statement_id, "Statement"))
        self.send_json(statement.to_json())


class CancelHandler(LivyHandler):
    async def post(self, session_id: str, statement_id: str) -> None:
        await self.session(session_id).cancel(parse_id(statement_id, "Statement"))
        self.send_json({"msg": "canceled"})


class VersionHandler(LivyHandler):
    def get(self) -> None:
        self.send_json({"version": LIVY_VERSION})


class NotFoundHandler(LivyHandler):
    def prepare(self) -> None:
        raise LivyError(
            404, f"No such Livy endpoint: {self.request.method} {self.request.path}", "NotFound"
        )


def make_app(registry: SessionRegistry, token: str | None = None) -> tornado.web.Application:
    kw = {"registry": registry, "token": token}
    sid, stid = r"(\d+)", r"(\d+)"
    return tornado.web.Application(
        [
            (r"/sessions/?", SessionsHandler, kw),
            (rf"/sessions/{sid}/?", SessionHandler, kw),
            (rf"/sessions/{sid}/state/?", StateHandler, kw),
            (rf"/sessions/{sid}/log/?", LogHandler, kw),
            (rf"/sessions/{sid}/statements/?", StatementsHandler, kw),
            (rf"/sessions/{sid}/statements/{stid}/?", StatementHandler, kw),
            (rf"/sessions/{sid}/statements/{stid}/cancel/?", CancelHandler, kw),
            (r"/version/?", VersionHandler, kw),
        ],
        default_handler_class=NotFoundHandler,
        default_handler_args=kw,
    )


class LivyEngine:
    """The engine in this process: `url = await engine.start(port)`, then `await engine.stop()`.

    `idle_timeout` (seconds, 0 = never) stops sessions with no statement activity;
    `retain_final` keeps dead/killed sessions visible for that long, as Livy does, so clients
    can read why they ended. `token` turns on Basic auth: the token as password is the admin
    (any user name; sees every session), `owner_password(token, owner)` is `owner`'s own.
    `max_sessions_per_owner` (0 = no cap) bounds the Spark drivers one owner may run;
    `max_output_chars` bounds what one statement's output keeps.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        idle_timeout: float = 3600.0,
        retain_final: float = 600.0,
        token: str | None = None,
        python: str | None = None,
        spark_defaults: dict[str, str] | None = None,
        max_sessions_per_owner: int = DEFAULT_MAX_SESSIONS_PER_OWNER,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> None:
        self.host = host
        self.token = token
        self.registry = SessionRegistry(
            python=python,
            idle_timeout=idle_timeout,
            retain_final=retain_final,
            spark_defaults=spark_defaults,
            unavailable_reason=engine_unavailable_reason,
            max_sessions_per_owner=max_sessions_per_owner,
            max_output_chars=max_output_chars,
        )
        self._server: tornado.httpserver.HTTPServer | None = None
        self.url: str | None = None

    async def start(self, port: int = 0) -> str:
        """Listen (port 0 = any free port) and return the base URL."""
        if self.url is not None:
            return self.url
        sockets = tornado.netutil.bind_sockets(port, self.host)
        self._server = tornado.httpserver.HTTPServer(
            make_app(self.registry, self.token), max_body_size=512 * 1024 * 1024
        )
        self._server.add_sockets(sockets)
        self.registry.start()
        bound = sockets[0].getsockname()[1]
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        self.url = f"http://{host}:{bound}"
        log.info("Livy-compatible engine listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Stop listening and stop every session (Spark shut down, processes gone)."""
        if self._server is not None:
            self._server.stop()
        await self.registry.close()
        if self._server is not None:
            await self._server.close_all_connections()
            self._server = None
        self.url = None
