"""Sessions of the embedded engine: Livy's state machine, one worker process per session.

Each session is a `worker.py` subprocess owning a local-mode SparkSession, so user code that
crashes or calls `os._exit` kills only its session (state `dead`, reason in the log). Everything
here runs on the event loop and never blocks it: pipes and the socket are asyncio streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .errors import LivyError
from .launch import module_command
from .output import DEFAULT_MAX_OUTPUT_CHARS, bound_output
from .scala import CLASS_DIR_SETTING

FINAL_SESSION_STATES = frozenset({"dead", "error", "killed", "success"})
FINAL_STATEMENT_STATES = frozenset({"available", "error", "cancelled"})
LOG_MAX_LINES = 5000
LOG_LINE_MAX_CHARS = 8192  # with LOG_MAX_LINES: at most ~40 MB of log kept per session
SESSION_JSON_LOG_LINES = 20
MIN_MESSAGE_LIMIT = 64 * 1024 * 1024  # one line from the session process, JSON-escaped


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Statement:
    id: int
    code: str
    kind: str
    state: str = "waiting"
    output: dict[str, Any] | None = None
    progress: float = 0.0
    spark_progress: dict[str, int] | None = None  # jobs, stages, tasks (progress.py)
    started: int = 0
    completed: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "kind": self.kind,
            "state": self.state,
            "output": self.output,
            "progress": self.progress,
            "sparkProgress": self.spark_progress,
            "started": self.started,
            "completed": self.completed,
        }

    def finish(self, state: str, output: dict[str, Any] | None) -> None:
        self.state, self.output = state, output
        self.progress = 1.0 if state == "available" else self.progress
        self.completed = now_ms()
        self.done.set()


class Session:
    """One Livy session: its worker process, statement queue and log."""

    def __init__(
        self,
        session_id: int,
        *,
        kind: str,
        name: str | None,
        owner: str | None,
        proxy_user: str | None,
        spark_conf: dict[str, str],
        heartbeat_timeout: float = 0.0,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> None:
        self.id = session_id
        self.kind = kind
        self.name = name
        self.owner = owner
        self.proxy_user = proxy_user
        self.spark_conf = spark_conf
        self.heartbeat_timeout = heartbeat_timeout
        self.max_output_chars = max_output_chars
        self.app_id: str | None = None
        self.spark_ui_url: str | None = None
        self.log: deque[str] = deque(maxlen=LOG_MAX_LINES)
        self.statements: list[Statement] = []
        self.last_activity = self.last_heartbeat = time.monotonic()
        self.ended_at: float | None = None
        self._phase = "not_started"
        self._pending: deque[Statement] = deque()
        self._wakeup = asyncio.Event()
        self._running: Statement | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._failure: str | None = None
        self._scratch: str | None = None

    # -- views -------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        if self._phase == "ready":
            return "busy" if self._running or self._pending else "idle"
        return self._phase

    @property
    def is_final(self) -> bool:
        return self._phase in FINAL_SESSION_STATES

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def to_json(self) -> dict[str, Any]:
        tail = list(self.log)[-SESSION_JSON_LOG_LINES:]
        view: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "appId": self.app_id,
            "owner": self.owner,
            "proxyUser": self.proxy_user,
            "state": self.state,
            "kind": self.kind,
            "appInfo": {"driverLogUrl": None, "sparkUiUrl": self.spark_ui_url},
            "log": tail,
        }
        if self.proxy_user is None:
            # sparkmagic's %%info shows proxyUser when the key is there, even null ("None")
            del view["proxyUser"]
        return view

    def log_slice(self, start: int | None, size: int | None) -> dict[str, Any]:
        """Livy's paging: default size 100, default start = the last `size` lines."""
        lines = list(self.log)
        size = 100 if size is None else size
        size = len(lines) if size < 0 else size
        start = max(0, len(lines) - size) if start is None or start < 0 else start
        return {
            "id": self.id,
            "from": start,
            "total": len(lines),
            "log": lines[start : start + size],
        }

    def touch(self) -> None:
        """A client looked at the session: that is Livy's heartbeat."""
        self.last_heartbeat = time.monotonic()

    def note(self, message: str) -> None:
        self.log.append(f"[livy-engine] {message}")

    def get_statement(self, statement_id: int) -> Statement:
        if 0 <= statement_id < len(self.statements):
            return self.statements[statement_id]
        raise LivyError(
            404, f"Statement '{statement_id}' not found in session {self.id}.", "StatementNotFound"
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, python: str, env: dict[str, str]) -> None:
        """Launch the worker; returns once it runs (Spark starts in the background)."""
        self._phase = "starting"
        if "spark.sql.warehouse.dir" not in self.spark_conf:
            # Tables live as long as the session's in-memory catalog, and not in the folder
            # the user browses (Spark's default is ./spark-warehouse).
            self._scratch = await asyncio.to_thread(
                tempfile.mkdtemp, prefix=f"livy-session-{self.id}-"
            )
            self.spark_conf["spark.sql.warehouse.dir"] = os.path.join(
                self._scratch, "spark-warehouse"
            )
        if self.kind == "spark" and CLASS_DIR_SETTING not in self.spark_conf:
            # where the Scala REPL writes the classes of each cell, served to executors
            if self._scratch is None:
                self._scratch = await asyncio.to_thread(
                    tempfile.mkdtemp, prefix=f"livy-session-{self.id}-"
                )
            self.spark_conf[CLASS_DIR_SETTING] = os.path.join(self._scratch, "repl-classes")
            await asyncio.to_thread(os.makedirs, self.spark_conf[CLASS_DIR_SETTING], 0o700)
        parent_sock, child_sock = socket.socketpair()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *module_command(
                    "jupyter_emr_workspace.livy.worker",
                    "--fd",
                    str(child_sock.fileno()),
                    python=python,
                ),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                pass_fds=(child_sock.fileno(),),
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            parent_sock.close()
            self._end("dead", f"Could not start the session process: {exc}")
            return
        finally:
            child_sock.close()
        # the session bounds its outputs itself; the slack covers escapes and the log
        limit = max(MIN_MESSAGE_LIMIT, 8 * self.max_output_chars)
        reader, self._writer = await asyncio.open_connection(sock=parent_sock, limit=limit)
        self.note(
            f"session process {self._proc.pid} started; starting Spark "
            f"({self.spark_conf.get('spark.master')})"
        )
        assert self._proc.stdout is not None
        self._tasks = [
            asyncio.ensure_future(self._pump_log(self._proc.stdout)),
            asyncio.ensure_future(self._pump_events(reader)),
            asyncio.ensure_future(self._run_statements()),
        ]
        try:
            await self._send(
                {
                    "op": "init",
                    "conf": self.spark_conf,
                    "kind": self.kind,
                    "max_output_chars": self.max_output_chars,
                }
            )
        except ConnectionError:
            pass  # it died at once; _pump_events reports how

    async def stop(
        self, final_state: str = "killed", reason: str | None = None, grace: float = 10.0
    ) -> None:
        """Stop Spark cleanly, then make sure the process group (JVM included) is gone."""
        if self.is_final or self._phase == "shutting_down":
            return
        was_ready = self._phase == "ready"
        self._phase = "shutting_down"
        if reason:
            self.note(reason)
        self._abandon_statements("cancelled", None)
        proc = self._proc
        if was_ready and proc is not None and proc.returncode is None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send({"op": "shutdown"})
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                self.note(f"session process did not stop within {grace:g} s; killing it")
        self._kill_group()
        if proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)
        await self._cancel_tasks()
        self._end(final_state, None)
        await self._remove_scratch()

    # -- statements ---------------------------------------------------------------------------

    def submit(self, code: str, kind: str) -> Statement:
        if self.is_final or self._phase == "shutting_down":
            raise LivyError(
                400, f"Session {self.id} is {self.state}: start a new session.", "SessionNotActive"
            )
        statement = Statement(id=len(self.statements), code=code, kind=kind)
        self.statements.append(statement)
        self._pending.append(statement)
        self.last_activity = time.monotonic()
        self._wakeup.set()
        return statement

    async def cancel(self, statement_id: int) -> Statement:
        statement = self.get_statement(statement_id)
        if statement.state == "waiting":
            with contextlib.suppress(ValueError):
                self._pending.remove(statement)
            statement.finish("cancelled", None)
        elif statement.state == "running":
            statement.state = "cancelling"
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send({"op": "cancel", "id": statement.id})
        return statement

    async def _run_statements(self) -> None:
        """Feed statements to the worker one at a time, in order, as Livy does."""
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            if self._phase != "ready":
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            statement = self._pending.popleft()
            self._running = statement
            statement.state = "running"
            statement.started = now_ms()
            await self._send(
                {"op": "exec", "id": statement.id, "code": statement.code, "kind": statement.kind}
            )
            await statement.done.wait()
            self._running = None
            self.last_activity = time.monotonic()

    # -- worker I/O -----------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None or self._writer.is_closing():
            raise ConnectionError("session process is not connected")
        self._writer.write((json.dumps(message) + "\n").encode())
        await self._writer.drain()

    async def _pump_log(self, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # one over-long line: keep going
                continue
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\r\n")
            if len(text) > LOG_LINE_MAX_CHARS:
                cut = len(text) - LOG_LINE_MAX_CHARS
                text = f"{text[:LOG_LINE_MAX_CHARS]}... [{cut:,} characters cut]"
            self.log.append(text)

    async def _pump_events(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                self._on_event(json.loads(line))
        except (ValueError, ConnectionError) as exc:
            self.note(f"lost the session process connection: {exc}")
        finally:
            await self._on_worker_gone()

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "ready":
            self.app_id = event.get("app_id")
            self.spark_ui_url = event.get("spark_ui_url")
            self._phase = "ready"
            self.last_activity = time.monotonic()
            self.note(f"Spark is ready: application {self.app_id}")
            self._wakeup.set()
        elif kind == "failed":
            self._failure = str(event.get("message"))
        elif kind in ("started", "progress", "result") and self._running is not None:
            statement = self._running
            if int(event.get("id", -1)) != statement.id:
                return
            if kind == "progress":
                statement.progress = float(event.get("progress", 0.0))
                jobs = event.get("sparkProgress")
                if isinstance(jobs, dict):
                    statement.spark_progress = {
                        str(k): int(v) for k, v in list(jobs.items())[:16] if isinstance(v, int)
                    }
            elif kind == "result":  # bounded here too: user code can write to the socket
                output = event.get("output")
                statement.finish(
                    str(event.get("state")),
                    bound_output(
                        output if isinstance(output, dict) else None, self.max_output_chars
                    ),
                )

    async def _on_worker_gone(self) -> None:
        """The socket closed: a clean stop, or a crash that kills the session."""
        proc = self._proc
        if self._phase == "shutting_down" or proc is None:
            return
        try:
            code = await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:  # it closed the socket but lives on: it cannot serve us anymore
            self._kill_group()
            code = await proc.wait()
        self._kill_group()
        log_task = self._tasks[0] if self._tasks else None
        if log_task is not None:  # keep the worker's last words ahead of our verdict
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(log_task), 5)
        if self._phase == "shutting_down" or self.is_final:
            return
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            how = f"was killed by signal {name}"
            if -code == signal.SIGKILL:
                how += " (out of memory?)"
        else:
            how = f"exited with code {code}"
        if self._phase == "starting":
            detail = f": {self._failure}" if self._failure else ""
            reason = f"Spark did not start: the session process {how}{detail}."
        elif self._running is not None:
            reason = (
                f"The session process {how} while running statement "
                f"{self._running.id}; the session is dead. Start a new session "
                "(restart the kernel)."
            )
        else:
            reason = f"The session process {how}; the session is dead."
        self.note(reason)
        self._abandon_statements(
            "error",
            {
                "status": "error",
                "execution_count": None,
                "ename": "SessionDead",
                "evalue": reason,
                "traceback": [],
            },
        )
        self._end("dead", None)
        for task in self._tasks[2:]:
            task.cancel()
        await self._remove_scratch()

    # -- helpers ------------------------------------------------------------------------------

    def _abandon_statements(self, state: str, output: dict[str, Any] | None) -> None:
        for statement in [*([self._running] if self._running else []), *self._pending]:
            if statement.state not in FINAL_STATEMENT_STATES:
                statement.finish(state, output)
        self._pending.clear()
        self._running = None

    def _kill_group(self) -> None:
        """The worker leads its own process group, which holds its JVM and Python daemons."""
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    async def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()

    async def _remove_scratch(self) -> None:
        if self._scratch is not None:
            scratch, self._scratch = self._scratch, None
            await asyncio.to_thread(shutil.rmtree, scratch, True)

    def _end(self, state: str, reason: str | None) -> None:
        if reason:
            self.note(reason)
        self._phase = state
        self.ended_at = time.monotonic()
