"""The one Livy session each notebook kernel owns: named so it is found again, started early.

sparkmagic creates a session when the first cell runs and forgets it when the kernel
process goes: a kernel that dies, a browser reload or a server restart leaves a session on
the cluster nobody can use again (sparkmagic #387, #430, #502) and costs the user their
variables. Here a kernel names its session for (Workspace, user, notebook, kind) and a
start time; a new kernel for the same notebook finds the live one and tracks it instead of
creating another. The session starts in a thread as soon as the kernel starts, so Spark's
start-up passes while the user reads; a cell run before it is ready waits for it.

An explicit restart or shutdown deletes the session (sparkmagic's `do_shutdown`); a kernel
that dies without one leaves it for the next kernel, and Livy's heartbeat timeout reaps it
when none comes (`sparkmagic_config.py`).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .cluster_hints import cluster_info

#: what every name this project gives a session starts with
NAME_PREFIX = "emrws"
NOTEBOOK_ENV = "JPY_SESSION_NAME"  # jupyter-server's: the notebook's absolute path
FOLDER_ENV = "EMR_WORKSPACE_FOLDER"  # the provisioner's: the Workspace folder
LIVE_STATES = frozenset({"not_started", "starting", "idle", "busy"})
#: a cell that waits less than this for the session says nothing about waiting
QUIET_WAIT_SECONDS = 1.0
#: written in each conf dir by a server that is stopping (`compute/service.py`): its kernels
#: then keep their sessions for the next server's kernels
KEEP_FILE = "keep-sessions"
KEEP_FRESH_SECONDS = 120.0
SETTLE_SECONDS = 10.0
SAFE = re.compile(r"[^A-Za-z0-9._@-]")
#: a first Spark job, run once a new session is up: the JVM's first job costs seconds
#: (class loading, code generation) that the user's first cell then does not pay
WARM_UP = {"pyspark": "spark.range(1).count()", "spark": "spark.range(1).count()"}


def kernel_user() -> str:
    """Who the kernel runs for: JupyterHub's user, else the OS account."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def notebook_key(notebook: str, folder: str | None) -> str:
    """A short, stable key for a notebook: its path inside the Workspace, hashed (a name
    must stay short and free of the path's characters; moving the folder keeps it)."""
    path = os.path.realpath(notebook)
    if folder:
        root = os.path.realpath(folder)
        if path == root or path.startswith(root + os.sep):
            path = os.path.relpath(path, root)
    return hashlib.sha256(path.encode()).hexdigest()[:16]


def name_prefix(workspace_id: str, user: str, key: str, kind: str) -> str:
    """The part of a session's name that says whose it is; a start time follows it."""
    parts = (NAME_PREFIX, workspace_id, user, key, kind)
    return ":".join(SAFE.sub("_", p) for p in parts) + ":"


def workspace_prefix(workspace_id: str) -> str:
    """The names of every session of a Workspace's kernels start with this."""
    return f"{NAME_PREFIX}:{SAFE.sub('_', workspace_id)}:"


def session_name(prefix: str, started: float | None = None) -> str:
    return f"{prefix}{int((started if started is not None else time.time()) * 1000)}"


def started_at(name: str) -> float | None:
    """The start time a session's name records (seconds since the epoch), if any."""
    tail = name.rsplit(":", 1)[-1]
    return int(tail) / 1000 if tail.isdigit() else None


def describe_start(started: float | None, now: float | None = None) -> str:
    """'started 12:03 UTC, 5 min ago', for the reattach message."""
    if started is None:
        return "started earlier"
    when = datetime.fromtimestamp(started, UTC)
    ago = max(0, int((now if now is not None else time.time()) - started))
    if ago < 60:
        since = f"{ago} s ago"
    elif ago < 3600:
        since = f"{ago // 60} min ago"
    else:
        since = f"{ago // 3600} h {ago % 3600 // 60} min ago"
    day = "" if ago < 20 * 3600 else f"{when:%Y-%m-%d} "
    return f"started {day}{when:%H:%M:%S} UTC, {since}"


def explain_slow_start(session_id: Any, timeout: float, state: str, log: list[str]) -> str:
    """Why a session did not start in time, read from what Livy logged, and what to do."""
    text = "\n".join(log[-200:]).lower()
    if any(m in text for m in ("ivy", "resolving dependencies", "downloading", ":: resolution")):
        why = (
            "Spark was still downloading packages (spark.jars.packages or jars of the "
            "session settings): that is slow the first time on a cluster"
        )
    elif any(
        m in text
        for m in (
            "insufficient",
            "not enough",
            "capacity",
            "pending",
            "waiting for am container",
            "accepted",
        )
    ):
        why = (
            "the cluster had no capacity for the Spark driver (YARN kept the application "
            "waiting): other applications hold its resources, or it is still scaling up"
        )
    elif state in ("not_started", "starting") and not text.strip():
        why = "the cluster is busy: Livy had not started the session's application yet"
    else:
        why = f"the session was still '{state}'"
    last = [line for line in log[-3:] if line.strip()]
    tail = ("\nLivy's last log lines:\n  " + "\n  ".join(last)) if last else ""
    return (
        f"Spark session {session_id} did not start within {timeout:g} s: {why}. It was "
        "stopped. Restart the kernel to try again, or raise the Workspace's session start "
        "timeout (attach setting kernels.session_start_timeout, or "
        f"c.Studio.spark_session_start_timeout).{tail}"
    )


def keep_sessions_for_next_server(conf_dir: str | None = None) -> bool:
    """Whether the server is stopping (it wrote `KEEP_FILE` moments ago)."""
    folder = conf_dir or os.environ.get("SPARKMAGIC_CONF_DIR")
    if not folder:
        return False
    try:
        written = os.stat(os.path.join(folder, KEEP_FILE)).st_mtime
    except OSError:
        return False
    return time.time() - written < KEEP_FRESH_SECONDS


def forget_sessions(controller: Any) -> None:
    """Let go of sparkmagic's sessions without deleting them (its exit hook would)."""
    manager = controller.session_manager
    for session in list(manager.sessions.values()):
        session._stop_heartbeat_thread()
    manager.sessions.clear()


class BufferedDisplay:
    """sparkmagic's IpythonDisplay while no cell runs: what it says waits for the next
    cell (a background thread has no cell to write to)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._lock = threading.Lock()

    def __getattr__(self, method: str) -> Callable[..., None]:
        if method.startswith("_"):
            raise AttributeError(method)

        def record(*args: Any, **kwargs: Any) -> None:
            with self._lock:
                self.calls.append((method, args))

        return record

    def replay(self, display: Any) -> None:
        with self._lock:
            calls, self.calls = self.calls, []
        for method, args in calls:
            getattr(display, method)(*args)


class NotebookSession:
    """Finds or starts the kernel's session in the background and hands it to sparkmagic.

    `magics` is sparkmagic's KernelMagics of this kernel; `display` its real IpythonDisplay.
    """

    def __init__(self, magics: Any, display: Any) -> None:
        self.magics = magics
        self.display = display
        self.buffer = BufferedDisplay()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.message = ""
        self.started = time.monotonic()
        self._thread: threading.Thread | None = None
        self._abandoned = False

    # -- identity ------------------------------------------------------------------------
    def prefix(self, kind: str) -> str | None:
        """This notebook's session-name prefix, or None for a kernel without a notebook."""
        notebook = os.environ.get(NOTEBOOK_ENV)
        if not notebook:
            return None
        info = cluster_info()
        workspace = info.get("workspace_id") or os.path.basename(
            os.environ.get("SPARKMAGIC_CONF_DIR", "").rstrip(os.sep)
        )
        if not workspace:
            return None
        key = notebook_key(notebook, os.environ.get(FOLDER_ENV))
        return name_prefix(str(workspace), kernel_user(), key, kind)

    # -- the background start ------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spark-session-start", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._find_or_create()
        except BaseException as exc:  # shown by the next cell, as sparkmagic would
            self.error = exc
        finally:
            self.ready.set()

    def _find_or_create(self) -> None:
        import sparkmagic.utils.configuration as conf
        from sparkmagic.livyclientlib.livysession import LivySession

        magics = self.magics
        controller = magics.spark_controller
        properties = conf.get_session_properties(magics.language)
        kind = properties["kind"]
        prefix = self.prefix(kind)
        http = controller._http_client(magics.endpoint)
        if prefix is not None:
            live = self._live_sessions(http, prefix)
            if live:
                newest, *older = sorted(live, key=lambda s: s["id"], reverse=True)
                for stale in older:  # two kernels raced: keep one
                    http.delete_session(stale["id"])
                session = LivySession(
                    http,
                    {"kind": kind},
                    magics.ipython_display,
                    newest["id"],
                    heartbeat_timeout=conf.livy_server_heartbeat_timeout_seconds(),
                )
                if newest.get("state") in ("not_started", "starting"):
                    session.wait_for_idle(conf.livy_session_startup_timeout_seconds())
                session.sql_context_variable_name = "spark"
                controller.session_manager.add_session(magics.session_name, session)
                magics.session_started = True
                self.message = (
                    f"Reattached to Spark session {newest['id']} "
                    f"({describe_start(started_at(str(newest.get('name'))))}): "
                    "variables and cached DataFrames are as this notebook left them."
                )
                return
            properties["name"] = session_name(prefix)
        session = LivySession(
            http,
            properties,
            self.buffer,
            heartbeat_timeout=conf.livy_server_heartbeat_timeout_seconds(),
        )
        try:
            self._start_new(session, conf.livy_session_startup_timeout_seconds())
            self._warm_up(session, kind)
        except BaseException:
            if session.is_posted():
                try:
                    session.delete()
                except Exception:
                    pass
            raise
        finally:
            session.ipython_display = magics.ipython_display
        if self._abandoned:  # the kernel shut down while it started: no one will use it
            session.delete()
            return
        controller.session_manager.add_session(magics.session_name, session)
        magics.session_started = True
        took = time.monotonic() - self.started
        self.message = f"Spark session {session.id} ready (started in {took:.1f} s)."

    @staticmethod
    def _start_new(session: Any, timeout: float) -> None:
        from sparkmagic.livyclientlib.exceptions import LivyClientTimeoutException

        try:
            session.start()
        except LivyClientTimeoutException:
            try:
                info = session.http_client.get_session(session.id)
                state, log = str(info.get("state")), list(info.get("log") or [])
            except Exception:
                state, log = session.status, []
            raise LivyClientTimeoutException(
                explain_slow_start(session.id, timeout, state, log)
            ) from None

    @staticmethod
    def _warm_up(session: Any, kind: str) -> None:
        """Run `WARM_UP`'s job quietly (its progress bar shown to no one)."""
        code = WARM_UP.get(kind)
        if code is None:
            return
        from sparkmagic.livyclientlib.command import Command

        display, session.ipython_display = session.ipython_display, BufferedDisplay()
        try:
            Command(code).execute(session)
        except Exception:
            pass
        finally:
            session.ipython_display = display

    @staticmethod
    def _live_sessions(http: Any, prefix: str) -> list[dict[str, Any]]:
        listing = http._http_client.get("/sessions?from=0&size=1000", [200]).json()
        return [
            s
            for s in listing.get("sessions") or []
            if str(s.get("name") or "").startswith(prefix) and s.get("state") in LIVE_STATES
        ]

    @property
    def consumed(self) -> bool:
        """Its start is over and a cell has said how it went."""
        return self._thread is None and self.ready.is_set()

    def settle(self) -> None:
        """At shutdown: let a start in flight finish (so sparkmagic deletes the session),
        or have it delete the session itself when it does."""
        if not self.ready.wait(SETTLE_SECONDS):
            self._abandoned = True

    # -- the cell that waits -------------------------------------------------------------
    def wait(self) -> None:
        """Called before a cell runs: wait for the start, say what happened once."""
        thread = self._thread
        if thread is None:
            return
        if not self.ready.wait(QUIET_WAIT_SECONDS):
            self.display.writeln("Spark session starting… (this cell runs when it is ready)")
            self.ready.wait()
        self._thread = None
        thread.join()
        if self.error is None:
            self.display.writeln(self.message)
        self.buffer.replay(self.display)  # sparkmagic's own words: its table, 'spark'
        if self.error is not None:
            import sparkmagic.utils.configuration as conf

            self.magics.fatal_error = True
            self.magics.fatal_error_message = conf.fatal_error_suggestion().format(self.error)
            # sparkmagic shows it, for this cell and the next ones
