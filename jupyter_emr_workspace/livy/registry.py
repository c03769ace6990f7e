"""All sessions of one engine, and the reaper for idle, heartbeat and retention timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

from .credentials import Principal
from .errors import LivyError
from .launch import normalize_kind, spark_conf_for, worker_env
from .output import DEFAULT_MAX_OUTPUT_CHARS
from .sessions import Session

DEFAULT_MAX_SESSIONS_PER_OWNER = 4
MAX_SESSIONS_SETTING = "c.Studio.local_engine_max_sessions"


class SessionRegistry:
    """Creates, finds and deletes sessions; `reap()` enforces the timeouts.

    Every lookup is on behalf of a Principal: a session another owner created is answered
    as not found, exactly as one that does not exist, so its id says nothing either.
    """

    def __init__(
        self,
        *,
        python: str | None = None,
        idle_timeout: float = 3600.0,
        retain_final: float = 600.0,
        spark_defaults: dict[str, str] | None = None,
        unavailable_reason: Any = None,
        max_sessions_per_owner: int = DEFAULT_MAX_SESSIONS_PER_OWNER,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> None:
        self.python = python or sys.executable
        self.idle_timeout = idle_timeout
        self.retain_final = retain_final
        self.max_sessions_per_owner = max_sessions_per_owner
        self.max_output_chars = max_output_chars
        self.spark_defaults = dict(spark_defaults or {})
        self._unavailable_reason = unavailable_reason
        self._sessions: dict[int, Session] = {}
        self._next_id = 0
        self._reaper: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()

    def sessions(self) -> list[Session]:
        return list(self._sessions.values())

    def start(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.ensure_future(self._reap_forever())

    def get(self, session_id: int, caller: Principal) -> Session:
        session = self._sessions.get(session_id)
        if session is None or not caller.may_use(session.owner):
            raise LivyError(404, f"Session '{session_id}' not found.", "SessionNotFound")
        return session

    def visible(self, caller: Principal) -> list[Session]:
        return sorted(
            (s for s in self._sessions.values() if caller.may_use(s.owner)), key=lambda s: s.id
        )

    def list_json(self, caller: Principal, start: int = 0, size: int = 100) -> dict[str, Any]:
        sessions = self.visible(caller)
        return {
            "from": start,
            "total": len(sessions),
            "sessions": [s.to_json() for s in sessions[start : start + size]],
        }

    def active_of(self, owner: str | None) -> list[Session]:
        """Sessions of `owner` that hold (or will hold) a Spark driver."""
        return [
            s
            for s in self._sessions.values()
            if s.owner == owner and not s.is_final and s.state != "shutting_down"
        ]

    def _check_cap(self, owner: str | None) -> None:
        active = self.active_of(owner)
        cap = self.max_sessions_per_owner
        if cap > 0 and len(active) >= cap:
            who = f"'{owner}'" if owner else "this engine's single user"
            ids = ", ".join(str(s.id) for s in sorted(active, key=lambda s: s.id))
            raise LivyError(
                429,
                f"Session limit reached: {who} already has {len(active)} active Spark "
                f"sessions ({ids}) and the local engine allows {cap} per Workspace "
                f"({MAX_SESSIONS_SETTING}). Stop a kernel of this Workspace (or delete a "
                "session) and try again.",
                "SessionLimitExceeded",
            )

    async def create(self, body: dict[str, Any], owner: str | None = None) -> Session:
        """Validate a POST /sessions body and launch its worker."""
        if self._unavailable_reason is not None:
            reason = await asyncio.to_thread(self._unavailable_reason)
            if reason:
                raise LivyError(
                    503,
                    f"The local Spark engine cannot start sessions: {reason}",
                    "EngineUnavailable",
                )
        kind = normalize_kind(body.get("kind") or "pyspark", "Session")
        session_id = self._next_id
        conf, notes = spark_conf_for(body, session_id, self.spark_defaults)
        try:
            heartbeat = float(body.get("heartbeatTimeoutInSecond") or 0)
        except (TypeError, ValueError):
            raise LivyError(400, "'heartbeatTimeoutInSecond' must be a number.") from None
        self._check_cap(owner)  # no await from here to the insert: concurrent posts count
        self._next_id += 1
        session = Session(
            session_id,
            kind=kind,
            name=body.get("name"),
            owner=owner,
            proxy_user=body.get("proxyUser"),
            spark_conf=conf,
            heartbeat_timeout=heartbeat,
            max_output_chars=self.max_output_chars,
        )
        for note in notes:
            session.note(note)
        self._sessions[session_id] = session
        try:
            await session.start(self.python, worker_env(self.python))
        except BaseException:
            await session.stop("dead", "the session process could not be started")
            raise
        return session

    async def delete(self, session_id: int, caller: Principal) -> None:
        session = self.get(session_id, caller)
        await session.stop("killed", f"session {session_id} deleted by the client")
        self._sessions.pop(session_id, None)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        await asyncio.gather(
            *(s.stop("killed", "the engine is shutting down") for s in self._sessions.values()),
            *self._stopping,
            return_exceptions=True,
        )

    def _check_interval(self) -> float:
        if self.idle_timeout > 0:
            return max(0.5, min(10.0, self.idle_timeout / 4))
        return 10.0

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval())
            self.reap()

    def reap(self) -> None:
        """Stop idle or abandoned sessions; forget final ones after `retain_final` seconds."""
        now = time.monotonic()
        for session in list(self._sessions.values()):
            if session.is_final:
                if session.ended_at is not None and now - session.ended_at > self.retain_final:
                    self._sessions.pop(session.id, None)
                continue
            reason = None
            if (
                self.idle_timeout > 0
                and session.state == "idle"
                and now - session.last_activity > self.idle_timeout
            ):
                reason = (
                    f"session {session.id} was idle for more than "
                    f"{self.idle_timeout:g} s and was stopped to free its memory "
                    "(idle timeout); run a cell again after restarting the kernel"
                )
            elif (
                session.heartbeat_timeout > 0
                and now - session.last_heartbeat > session.heartbeat_timeout
            ):
                reason = (
                    f"no client heartbeat for {session.heartbeat_timeout:g} s "
                    f"(heartbeatTimeoutInSecond); session {session.id} stopped"
                )
            if reason:
                task = asyncio.ensure_future(session.stop("killed", reason))
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)
