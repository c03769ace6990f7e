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
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FINAL_SESSION_STATES = frozenset({"dead", "error", "killed", "success"})
FINAL_STATEMENT_STATES = frozenset({"available", "error", "cancelled"})
LOG_MAX_LINES = 5000
SESSION_JSON_LOG_LINES = 20
MESSAGE_LIMIT = 512 * 1024 * 1024
FAST_JVM_FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
KIND_ALIASES = {"pyspark": "pyspark", "python": "pyspark", "pyspark3": "pyspark", "sql": "sql"}
REMOTE_ONLY_KINDS = frozenset({"spark", "scala", "sparkr", "r"})
# Livy request fields that map onto Spark settings.
_CONF_FIELDS = {
    "driverMemory": "spark.driver.memory",
    "driverCores": "spark.driver.cores",
    "executorMemory": "spark.executor.memory",
    "executorCores": "spark.executor.cores",
    "numExecutors": "spark.executor.instances",
    "queue": "spark.yarn.queue",
}
_LIST_FIELDS = {
    "jars": "spark.jars",
    "pyFiles": "spark.submit.pyFiles",
    "files": "spark.files",
    "archives": "spark.archives",
}
DEFAULT_SPARK_CONF = {
    "spark.ui.showConsoleProgress": "false",  # carriage-return bars only clutter the log
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


class LivyError(Exception):
    """A request the engine refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, code: str = "BadRequest") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def now_ms() -> int:
    return int(time.time() * 1000)


def normalize_kind(kind: Any, where: str) -> str:
    """Map a Livy kind to what the local engine runs, or explain why it cannot."""
    value = str(kind).lower()
    if value in KIND_ALIASES:
        return KIND_ALIASES[value]
    if value in REMOTE_ONLY_KINDS:
        raise LivyError(
            400,
            f"{where} kind '{kind}' is not supported by the local engine: it runs Python "
            "(pyspark) and SQL only. Use the PySpark kernel, or attach the Workspace to an "
            "EMR cluster for Scala (spark) and R (sparkr).",
            "UnsupportedKind",
        )
    raise LivyError(400, f"Unknown {where.lower()} kind '{kind}': use pyspark or sql.", "BadKind")


def module_command(module: str, *args: str, python: str | None = None) -> list[str]:
    """`python -m module args` that also works from a source tree that is not installed."""
    root = str(Path(__file__).resolve().parents[2])
    bootstrap = (
        "import runpy, sys\n"
        f"if {root!r} not in sys.path: sys.path.append({root!r})\n"
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    return [python or sys.executable, "-c", bootstrap, *args]


def spark_conf_for(body: dict[str, Any], session_id: int,
                   defaults: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """Spark settings for a POST /sessions body; returns (conf, notes for the session log)."""
    conf = {**DEFAULT_SPARK_CONF, **(defaults or {})}
    notes: list[str] = []
    conf["spark.app.name"] = str(body.get("name") or f"livy-session-{session_id}")
    for key, spark_key in _CONF_FIELDS.items():
        if body.get(key) is not None:
            conf[spark_key] = str(body[key])
    for key, spark_key in _LIST_FIELDS.items():
        value = body.get(key)
        if value:
            if not isinstance(value, list):
                raise LivyError(400, f"'{key}' must be a list of paths.")
            conf[spark_key] = ",".join(str(v) for v in value)
    user_conf = body.get("conf") or {}
    if not isinstance(user_conf, dict):
        raise LivyError(400, "'conf' must be an object of Spark settings.")
    conf.update({str(k): str(v) for k, v in user_conf.items()})
    cpus = os.cpu_count() or 1
    if "spark.master" not in user_conf:
        cores = body.get("executorCores")
        if cores:
            wanted = int(cores) * int(body.get("numExecutors") or 1)
            threads = max(1, min(wanted, cpus))
            if threads < wanted:
                notes.append(f"executorCores x numExecutors = {wanted}, capped at the {cpus} "
                             "CPUs of this machine")
            conf["spark.master"] = f"local[{threads}]"
        else:
            conf["spark.master"] = "local[*]"
    java_opts = conf.get("spark.driver.extraJavaOptions", "")
    conf["spark.driver.extraJavaOptions"] = f"{FAST_JVM_FLAGS} {java_opts}".strip()
    return conf, notes


def worker_env(python: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a session process: loopback only, this Python for executors too."""
    env = dict(os.environ if base is None else base)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env["PYSPARK_PYTHON"] = env.get("PYSPARK_PYTHON") or python
    env["PYTHONUNBUFFERED"] = "1"
    for leak in ("PYSPARK_DRIVER_PYTHON", "PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET",
                 "SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE"):
        env.pop(leak, None)
    return env


@dataclass
class Statement:
    id: int
    code: str
    kind: str
    state: str = "waiting"
    output: dict[str, Any] | None = None
    progress: float = 0.0
    started: int = 0
    completed: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "code": self.code, "kind": self.kind, "state": self.state,
                "output": self.output, "progress": self.progress, "started": self.started,
                "completed": self.completed}

    def finish(self, state: str, output: dict[str, Any] | None) -> None:
        self.state, self.output = state, output
        self.progress = 1.0 if state == "available" else self.progress
        self.completed = now_ms()
        self.done.set()


class Session:
    """One Livy session: its worker process, statement queue and log."""

    def __init__(self, session_id: int, *, kind: str, name: str | None, owner: str | None,
                 proxy_user: str | None, spark_conf: dict[str, str],
                 heartbeat_timeout: float = 0.0) -> None:
        self.id = session_id
        self.kind = kind
        self.name = name
        self.owner = owner
        self.proxy_user = proxy_user
        self.spark_conf = spark_conf
        self.heartbeat_timeout = heartbeat_timeout
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
        return {"id": self.id, "name": self.name, "appId": self.app_id, "owner": self.owner,
                "proxyUser": self.proxy_user, "state": self.state, "kind": self.kind,
                "appInfo": {"driverLogUrl": None, "sparkUiUrl": self.spark_ui_url},
                "log": tail}

    def log_slice(self, start: int | None, size: int | None) -> dict[str, Any]:
        """Livy's paging: default size 100, default start = the last `size` lines."""
        lines = list(self.log)
        size = 100 if size is None else size
        size = len(lines) if size < 0 else size
        start = max(0, len(lines) - size) if start is None or start < 0 else start
        return {"id": self.id, "from": start, "total": len(lines),
                "log": lines[start:start + size]}

    def touch(self) -> None:
        """A client looked at the session: that is Livy's heartbeat."""
        self.last_heartbeat = time.monotonic()

    def note(self, message: str) -> None:
        self.log.append(f"[livy-engine] {message}")

    def get_statement(self, statement_id: int) -> Statement:
        if 0 <= statement_id < len(self.statements):
            return self.statements[statement_id]
        raise LivyError(404, f"Statement '{statement_id}' not found in session {self.id}.",
                        "StatementNotFound")

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, python: str, env: dict[str, str]) -> None:
        """Launch the worker; returns once it runs (Spark starts in the background)."""
        self._phase = "starting"
        parent_sock, child_sock = socket.socketpair()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *module_command("jupyter_emr_workspace.livy.worker", "--fd",
                                str(child_sock.fileno()), python=python),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, pass_fds=(child_sock.fileno(),), env=env,
                start_new_session=True)
        except OSError as exc:
            parent_sock.close()
            self._end("dead", f"Could not start the session process: {exc}")
            return
        finally:
            child_sock.close()
        reader, self._writer = await asyncio.open_connection(sock=parent_sock,
                                                             limit=MESSAGE_LIMIT)
        self.note(f"session process {self._proc.pid} started; starting Spark "
                  f"({self.spark_conf.get('spark.master')})")
        assert self._proc.stdout is not None
        self._tasks = [asyncio.ensure_future(self._pump_log(self._proc.stdout)),
                       asyncio.ensure_future(self._pump_events(reader)),
                       asyncio.ensure_future(self._run_statements())]
        await self._send({"op": "init", "conf": self.spark_conf})

    async def stop(self, final_state: str = "killed", reason: str | None = None,
                   grace: float = 10.0) -> None:
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

    # -- statements ---------------------------------------------------------------------------

    def submit(self, code: str, kind: str) -> Statement:
        if self.is_final or self._phase == "shutting_down":
            raise LivyError(400, f"Session {self.id} is {self.state}: start a new session.",
                            "SessionNotActive")
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
            await self._send({"op": "exec", "id": statement.id, "code": statement.code,
                              "kind": statement.kind})
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
            self.log.append(line.decode(errors="replace").rstrip("\r\n"))

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
            elif kind == "result":
                statement.finish(str(event.get("state")), event.get("output"))

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
            reason = (f"The session process {how} while running statement "
                      f"{self._running.id}; the session is dead. Start a new session "
                      "(restart the kernel).")
        else:
            reason = f"The session process {how}; the session is dead."
        self.note(reason)
        self._abandon_statements("error", {
            "status": "error", "execution_count": None, "ename": "SessionDead",
            "evalue": reason, "traceback": []})
        self._end("dead", None)
        for task in self._tasks[2:]:
            task.cancel()

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

    def _end(self, state: str, reason: str | None) -> None:
        if reason:
            self.note(reason)
        self._phase = state
        self.ended_at = time.monotonic()


class SessionRegistry:
    """All sessions of one engine, plus the reaper for idle, heartbeat and retention timeouts."""

    def __init__(self, *, python: str | None = None, idle_timeout: float = 3600.0,
                 retain_final: float = 600.0, spark_defaults: dict[str, str] | None = None,
                 unavailable_reason: Any = None) -> None:
        self.python = python or sys.executable
        self.idle_timeout = idle_timeout
        self.retain_final = retain_final
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

    def get(self, session_id: int) -> Session:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise LivyError(404, f"Session '{session_id}' not found.", "SessionNotFound") from None

    def list_json(self, start: int = 0, size: int = 100) -> dict[str, Any]:
        sessions = sorted(self._sessions.values(), key=lambda s: s.id)
        return {"from": start, "total": len(sessions),
                "sessions": [s.to_json() for s in sessions[start:start + size]]}

    async def create(self, body: dict[str, Any], owner: str | None = None) -> Session:
        """Validate a POST /sessions body and launch its worker."""
        if self._unavailable_reason is not None:
            reason = await asyncio.to_thread(self._unavailable_reason)
            if reason:
                raise LivyError(503, f"The local Spark engine cannot start sessions: {reason}",
                                "EngineUnavailable")
        kind = normalize_kind(body.get("kind") or "pyspark", "Session")
        session_id = self._next_id
        conf, notes = spark_conf_for(body, session_id, self.spark_defaults)
        try:
            heartbeat = float(body.get("heartbeatTimeoutInSecond") or 0)
        except (TypeError, ValueError):
            raise LivyError(400, "'heartbeatTimeoutInSecond' must be a number.") from None
        self._next_id += 1
        session = Session(session_id, kind=kind, name=body.get("name"), owner=owner,
                          proxy_user=body.get("proxyUser"), spark_conf=conf,
                          heartbeat_timeout=heartbeat)
        for note in notes:
            session.note(note)
        self._sessions[session_id] = session
        await session.start(self.python, worker_env(self.python))
        return session

    async def delete(self, session_id: int) -> None:
        session = self.get(session_id)
        await session.stop("killed", f"session {session_id} deleted by the client")
        self._sessions.pop(session_id, None)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        await asyncio.gather(*(s.stop("killed", "the engine is shutting down")
                               for s in self._sessions.values()), *self._stopping,
                             return_exceptions=True)

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
            if (self.idle_timeout > 0 and session.state == "idle"
                    and now - session.last_activity > self.idle_timeout):
                reason = (f"session {session.id} was idle for more than "
                          f"{self.idle_timeout:g} s and was stopped to free its memory "
                          "(idle timeout); run a cell again after restarting the kernel")
            elif (session.heartbeat_timeout > 0
                  and now - session.last_heartbeat > session.heartbeat_timeout):
                reason = (f"no client heartbeat for {session.heartbeat_timeout:g} s "
                          f"(heartbeatTimeoutInSecond); session {session.id} stopped")
            if reason:
                task = asyncio.ensure_future(session.stop("killed", reason))
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)
