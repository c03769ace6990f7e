"""`EngineProcess`: the engine in a child process, as the server extension runs it.

A child process keeps Spark's JVMs and user code out of the Jupyter server. The child binds
a free port itself (no race for a port picked here), requires Basic auth, and stops when
our end of its stdin closes, so a killed Jupyter server leaves no engine behind. The random
admin token stays in this object (`auth_header()`); Workspaces get their own credentials
(`sparkmagic_auth(owner)`), which reach only their own sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import time
from collections import deque
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .credentials import basic_header, owner_password
from .launch import module_command
from .output import DEFAULT_MAX_OUTPUT_CHARS
from .registry import DEFAULT_MAX_SESSIONS_PER_OWNER
from .server import READY_PREFIX, TOKEN_ENV

log = logging.getLogger("jupyter_emr_workspace.livy")
USERNAME = "emr-workspace"


class EngineStartError(RuntimeError):
    """The engine process did not come up; the message carries its last output lines."""


class EngineProcess:
    """Start, reach and stop the engine subprocess.

    >>> engine = EngineProcess()
    >>> url = await engine.start()      # e.g. http://127.0.0.1:40123
    >>> write_sparkmagic_config(conf_dir, url, **engine.sparkmagic_auth("e-123"))
    >>> await engine.stop()
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout: float = 3600.0,
        retain: float = 600.0,
        auth: bool = True,
        python: str | None = None,
        env: dict[str, str] | None = None,
        max_sessions_per_owner: int = DEFAULT_MAX_SESSIONS_PER_OWNER,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> None:
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.retain = retain
        self.max_sessions_per_owner = max_sessions_per_owner
        self.max_output_chars = max_output_chars
        self.python = python
        self.extra_env = dict(env or {})
        self.username = USERNAME
        self.password: str | None = secrets.token_urlsafe(32) if auth else None
        self.url: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._drains: list[asyncio.Task[None]] = []
        self._stderr_tail: deque[str] = deque(maxlen=40)
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def auth_header(self) -> dict[str, str]:
        """The admin's header (every session): for this server, never for a kernel."""
        if self.password is None:
            return {}
        return basic_header(self.username, self.password)

    def owner_password(self, owner: str) -> str | None:
        return None if self.password is None else owner_password(self.password, owner)

    def sparkmagic_auth(self, owner: str) -> dict[str, Any]:
        """`write_sparkmagic_config` keywords for `owner`'s own credential (a Workspace id):
        its kernels see and reach only the sessions they create."""
        password = self.owner_password(owner)
        if password is None:
            return {"auth": "None"}
        return {"auth": "Basic_Access", "username": owner, "password": password}

    async def start(self, wait_seconds: float = 60.0) -> str:
        """Start (once; later calls return the same URL) and wait until `GET /sessions` answers."""
        async with self._lock:
            if self.running and self.url:
                return self.url
            env = {**os.environ, **self.extra_env}
            if self.password is not None:
                env[TOKEN_ENV] = self.password
            else:
                env.pop(TOKEN_ENV, None)
            args = [
                "--port",
                str(self.port),
                "--host",
                self.host,
                "--idle-timeout",
                str(self.idle_timeout),
                "--retain",
                str(self.retain),
                "--max-sessions-per-owner",
                str(self.max_sessions_per_owner),
                "--max-output-chars",
                str(self.max_output_chars),
                "--exit-on-stdin-eof",
            ]
            self._stderr_tail.clear()
            self._proc = await asyncio.create_subprocess_exec(
                *module_command("jupyter_emr_workspace.livy", *args, python=self.python),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
            assert self._proc.stdout is not None and self._proc.stderr is not None
            self._drains = [asyncio.ensure_future(self._drain(self._proc.stderr, logging.INFO))]
            deadline = time.monotonic() + wait_seconds
            try:
                self.url = await asyncio.wait_for(self._read_ready_line(), wait_seconds)
                await self._wait_http(deadline)
            except (TimeoutError, EngineStartError) as exc:
                await self._terminate(5.0)
                tail = "\n".join(self._stderr_tail)
                raise EngineStartError(
                    f"The local Livy engine did not start: {exc}\n{tail}"
                ) from None
            self._drains.append(
                asyncio.ensure_future(self._drain(self._proc.stdout, logging.DEBUG))
            )
            log.info("local Livy engine (pid %s) ready at %s", self._proc.pid, self.url)
            return self.url

    async def stop(self, grace: float = 20.0) -> None:
        """Stop the engine; it stops its sessions first. Kills it after `grace` seconds."""
        async with self._lock:
            await self._terminate(grace)
            self.url = None

    async def __aenter__(self) -> EngineProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _read_ready_line(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            line = await self._proc.stdout.readline()
            if not line:
                code = await self._proc.wait()
                raise EngineStartError(f"the engine process exited with code {code}")
            text = line.decode(errors="replace").strip()
            if text.startswith(READY_PREFIX):
                return text[len(READY_PREFIX) :]
            log.debug("livy engine: %s", text)

    async def _wait_http(self, deadline: float) -> None:
        client = AsyncHTTPClient()
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                raise EngineStartError("the engine process exited")
            try:
                await client.fetch(
                    HTTPRequest(
                        f"{self.url}/sessions", headers=self.auth_header(), request_timeout=5
                    )
                )
                return
            except (HTTPClientError, OSError) as exc:
                last = exc
            await asyncio.sleep(0.1)
        raise EngineStartError(f"GET /sessions did not answer: {last}")

    async def _drain(self, stream: asyncio.StreamReader, level: int) -> None:
        while True:
            try:
                line = await stream.readline()
            except ValueError:
                continue
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            self._stderr_tail.append(text)
            log.log(level, "livy engine: %s", text)

    async def _terminate(self, grace: float) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                log.warning("local Livy engine did not stop in %.0f s; killing it", grace)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        for task in self._drains:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 2)
        self._drains = []
        self._proc = None
