"""The session side of the embedded engine: one process, one SparkSession, one statement at a time.

Started by the engine as `python -m jupyter_emr_workspace.livy.worker --fd N`. It talks to the
engine over the inherited socket N (JSON lines), never over stdout/stderr: those carry Spark's
own log and anything written past `sys.stdout`, and the engine keeps them as the session log.
A crash here (even `os._exit`) costs only this session; the engine sees the socket close.

Messages in: `init {conf, kind}`, `exec {id, code, kind}`, `cancel {id}`, `shutdown`.
Messages out: `ready {app_id, spark_ui_url}`, `failed {message}`, `started {id}`,
`progress {id, progress, sparkProgress}` (see progress.py), `result {id, state, output}`.
"""

from __future__ import annotations

import argparse
import ast
import base64
import builtins
import datetime
import decimal
import io
import json
import linecache
import math
import os
import queue
import signal
import socket
import sys
import threading
import time
import traceback
import types
import warnings
from typing import Any

from .output import DEFAULT_MAX_OUTPUT_CHARS, bound_output
from .progress import PROGRESS_INTERVAL, ProgressReporter, job_group
from .scala import CLASS_DIR_SETTING, ScalaError, ScalaInterpreter

#: seconds between samples of a running statement's Spark jobs (0 = none; for benchmarks)
PROGRESS_INTERVAL_ENV = "EMR_WORKSPACE_LIVY_PROGRESS_INTERVAL"
SQL_MAX_ROWS = 1000  # Livy's default for the sql kind (livy.rsc.sql.num-rows)
SHOW_ROWS = 20


class Channel:
    """JSON lines over the socket inherited from the engine; sends are thread-safe."""

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)
        self._rfile = self._sock.makefile("rb")
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, ensure_ascii=False, default=str) + "\n").encode()
        with self._lock:
            self._sock.sendall(data)

    def receive(self) -> dict[str, Any] | None:
        line = self._rfile.readline()
        return json.loads(line) if line else None


class Capture(io.TextIOBase):
    """sys.stdout/sys.stderr during a statement: bounded, so a runaway print cannot eat memory.

    Keeps the first `limit` characters and counts the rest (`cut`), for the truncation note
    that `bound_output` adds.
    """

    def __init__(self, limit: int = DEFAULT_MAX_OUTPUT_CHARS) -> None:
        super().__init__()
        self._parts: list[str] = []
        self._size = 0
        self._limit = limit
        self.cut = 0

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        room = max(0, self._limit - self._size)
        if room:
            self._parts.append(s[:room])
            self._size += min(len(s), room)
        self.cut += max(0, len(s) - room)
        return len(s)

    def getvalue(self) -> str:
        return "".join(self._parts)


def _inside_py4j(frame: types.FrameType | None) -> bool:
    """True while the main thread waits on a JVM call.

    Raising KeyboardInterrupt there would leave py4j's pinned connection with an unread answer
    and break every later call; cancelling the job group makes that call return instead.
    """
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith("py4j."):
            return True
        frame = frame.f_back
    return False


def _jsonable(value: Any) -> Any:
    """Row values as Livy's sql kind returns them (json4s): numbers, strings, lists, objects."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "asDict"):
        return {k: _jsonable(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def format_table(columns: list[str], rows: list[list[Any]], limit: int = SHOW_ROWS) -> str:
    """A `DataFrame.show()`-like text table, built from rows already fetched (no second query)."""

    def cell(v: Any) -> str:
        text = "null" if v is None else str(v)
        return text if len(text) <= 20 else text[:17] + "..."

    shown = [[cell(v) for v in row] for row in rows[:limit]]
    widths = [max([3, len(c)] + [len(r[i]) for r in shown]) for i, c in enumerate(columns)]
    sep = "+" + "+".join("-" * w for w in widths) + "+"

    def line(values: list[str]) -> str:
        return "|" + "|".join(v.rjust(w) for v, w in zip(values, widths, strict=True)) + "|"

    lines = [sep, line(columns), sep, *(line(r) for r in shown), sep]
    if len(rows) > limit:
        lines.append(f"only showing top {limit} rows")
    return "\n".join(lines)


def _split_magic(code: str) -> tuple[str, str | None]:
    """Livy's pyspark magics on the last line: `%json expr` and `%matplot plt`."""
    lines = code.rstrip().splitlines()
    if lines and lines[-1].lstrip().startswith("%") and not lines[-1].lstrip().startswith("%%"):
        return "\n".join(lines[:-1]), lines[-1].strip()
    return code, None


class Executor:
    """Runs statements in the main thread (signals and user code expect it) and cancels them."""

    def __init__(
        self, spark: Any, channel: Channel, max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    ) -> None:
        self.spark = spark
        self.max_output_chars = max_output_chars
        self.sc = spark.sparkContext
        self.channel = channel
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": builtins,
            "spark": spark,
            "sc": self.sc,
        }
        self.execution_count = 0
        self._lock = threading.Lock()
        self._running: int | None = None
        self._cancelling: int | None = None
        self._accept_interrupt = False
        self._main_ident = threading.main_thread().ident or 0
        self._real = (sys.stdout, sys.stderr)
        self._scala: ScalaInterpreter | None = None
        interval = os.environ.get(PROGRESS_INTERVAL_ENV)
        self.progress = ProgressReporter(
            self.sc.statusTracker,
            channel.send,
            PROGRESS_INTERVAL if interval is None else float(interval),
        )

    def scala(self) -> ScalaInterpreter:
        """The session's Scala REPL, built on first use (at start for a `spark` session)."""
        if self._scala is None:
            class_dir = self.sc.getConf().get(CLASS_DIR_SETTING)
            if not class_dir:
                import tempfile

                class_dir = tempfile.mkdtemp(prefix="livy-scala-")
            self._scala = ScalaInterpreter(self.spark, class_dir)
        return self._scala

    # -- cancellation -----------------------------------------------------------------------

    def on_sigint(self, signum: int, frame: types.FrameType | None) -> None:
        """Interrupt the statement being cancelled, unless it waits on the JVM (_inside_py4j)."""
        if not self._accept_interrupt or self._cancelling is None:
            return
        if self._cancelling != self._running or _inside_py4j(frame):
            return
        raise KeyboardInterrupt

    def request_cancel(self, statement_id: int) -> None:
        """Called from the reader thread: cancel Spark jobs, then interrupt Python code."""
        with self._lock:
            if self._running != statement_id:
                return
            self._cancelling = statement_id
        threading.Thread(target=self._cancel_loop, args=(statement_id,), daemon=True).start()

    def _cancel_loop(self, statement_id: int) -> None:
        """Repeat until the statement ends: a loop of jobs or a sleep may need several kicks."""
        started = time.monotonic()
        while self._running == statement_id and self._cancelling == statement_id:
            try:
                if time.monotonic() - started < 2:
                    self.sc.cancelJobGroup(job_group(statement_id))
                else:  # user code may have set its own job group
                    self.sc.cancelAllJobs()
            except Exception as exc:
                print(f"cancel of statement {statement_id}: {exc}", file=sys.__stderr__)
            signal.pthread_kill(self._main_ident, signal.SIGINT)
            time.sleep(0.5)

    # -- execution --------------------------------------------------------------------------

    def _finish(self) -> None:
        self._accept_interrupt = False
        sys.stdout, sys.stderr = self._real

    def execute(self, statement_id: int, code: str, kind: str) -> tuple[str, dict[str, Any]]:
        """Run one statement; returns (statement state, Livy output object)."""
        self.execution_count += 1
        count = self.execution_count
        capture = Capture(self.max_output_chars)
        data: dict[str, Any] = {}
        error: BaseException | None = None
        interrupted = False
        self.sc.setJobGroup(job_group(statement_id), f"statement {statement_id}", True)
        with self._lock:
            self._running = statement_id
        self.progress.begin(statement_id)
        try:
            try:
                sys.stdout = sys.stderr = capture
                self._accept_interrupt = True
                if kind == "sql":
                    data = self._run_sql(code)
                elif kind == "spark":
                    data = {"text/plain": self.scala().run(code)}
                else:
                    data = self._run_python(code, statement_id)
            except KeyboardInterrupt:
                interrupted = True
            except BaseException as exc:  # SystemExit too: user code must not end the session
                error = exc
            finally:
                self._finish()
        except KeyboardInterrupt:  # a late interrupt that landed while finishing up
            self._finish()
            interrupted = True
        self.progress.end()
        with self._lock:
            cancelled = self._cancelling == statement_id
            self._running = None
            self._cancelling = None
        text = capture.getvalue().rstrip("\n")
        state, output = self._output(count, text, data, error, interrupted, cancelled)
        return state, bound_output(output, self.max_output_chars, capture.cut) or output

    @staticmethod
    def _output(
        count: int,
        text: str,
        data: dict[str, Any],
        error: BaseException | None,
        interrupted: bool,
        cancelled: bool,
    ) -> tuple[str, dict[str, Any]]:
        """Livy's output object for how the statement ended."""
        if cancelled and (interrupted or error is not None):
            return "cancelled", {
                "status": "error",
                "execution_count": count,
                "ename": "Cancelled",
                "evalue": "The statement was cancelled.",
                "traceback": [],
                "data": {"text/plain": text},
            }
        if isinstance(error, ScalaError):
            return "error", {
                "status": "error",
                "execution_count": count,
                "ename": error.ename,
                "evalue": error.evalue,
                "traceback": error.traceback,
            }
        if error is not None or interrupted:
            failure = error if error is not None else KeyboardInterrupt()
            return "error", {
                "status": "error",
                "execution_count": count,
                "ename": type(failure).__name__,
                "evalue": str(failure),
                "traceback": _user_traceback(failure),
                "data": {"text/plain": text},
            }
        if "text/plain" not in data:
            data = {"text/plain": text, **data}
        return "available", {"status": "ok", "execution_count": count, "data": data}

    def _run_python(self, code: str, statement_id: int) -> dict[str, Any]:
        """Like Livy's fake_shell: run the cell, echo the value of a final expression."""
        code, magic = _split_magic(code)
        filename = f"<statement-{statement_id}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        tree = ast.parse(code, filename, "exec")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, filename, "exec"), self.namespace)
        if last is not None:
            interactive = ast.Interactive(body=[last])
            exec(compile(interactive, filename, "single"), self.namespace)
        return self._run_magic(magic) if magic else {}

    def _run_magic(self, magic: str) -> dict[str, Any]:
        name, _, arg = magic[1:].partition(" ")
        if name == "json":
            value = eval(arg, self.namespace)
            return {"application/json": _jsonable(value)}
        if name == "matplot":
            figure = eval(arg, self.namespace).gcf()
            buf = io.BytesIO()
            figure.savefig(buf, format="png")
            eval(arg, self.namespace).close(figure)
            return {"image/png": base64.b64encode(buf.getvalue()).decode()}
        raise ValueError(f"Unknown magic %{name}: the local engine supports %json and %matplot")

    def _run_sql(self, code: str) -> dict[str, Any]:
        """Livy's sql kind: schema plus up to 1000 rows as application/json (and a text table)."""
        df = self.spark.sql(code)
        rows = [[_jsonable(v) for v in row] for row in df.take(SQL_MAX_ROWS)]
        schema = json.loads(df.schema.json())
        return {
            "application/json": {"schema": schema, "data": rows},
            "text/plain": format_table(list(df.columns), rows),
        }


def _user_traceback(exc: BaseException) -> list[str]:
    """The traceback from the user's cell down, without this module's frames."""
    if isinstance(exc, SyntaxError):
        return traceback.format_exception_only(type(exc), exc)
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith("<statement-"):
        tb = tb.tb_next
    return traceback.format_exception(type(exc), exc, tb)


def _warnings_to_log(
    message: Any,
    category: Any,
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Warnings go to the session log: in the output they would break sparkmagic's %%sql parsing."""
    print(
        warnings.formatwarning(message, category, filename, lineno, line),
        end="",
        file=sys.__stderr__,
    )


def build_spark(conf: dict[str, str]) -> Any:
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    spark_conf = SparkConf(loadDefaults=True).setAll(list(conf.items()))
    return SparkSession.builder.config(conf=spark_conf).getOrCreate()


Ops = queue.Queue[dict[str, Any] | None]


def _read_ops(channel: Channel, executor: Executor, ops: Ops) -> None:
    while True:
        try:
            message = channel.receive()
        except (OSError, ValueError):
            message = None
        if message is None:  # the engine is gone: nobody is left to report to
            os._exit(0)
        if message.get("op") == "cancel":
            executor.request_cancel(int(message["id"]))
        else:
            ops.put(message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="socket inherited from the engine")
    args = parser.parse_args(argv)
    channel = Channel(args.fd)
    init = channel.receive()
    if init is None:
        return 0
    warnings.showwarning = _warnings_to_log
    try:
        spark = build_spark(dict(init.get("conf", {})))
    except BaseException as exc:
        traceback.print_exc()
        channel.send({"event": "failed", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    limit = int(init.get("max_output_chars") or DEFAULT_MAX_OUTPUT_CHARS)
    executor = Executor(spark, channel, limit)
    if init.get("kind") == "spark":
        try:  # before "ready": the first Scala cell should not wait for the compiler
            executor.scala()
        except BaseException as exc:
            traceback.print_exc()
            channel.send(
                {"event": "failed", "message": f"the Scala interpreter did not start: {exc}"}
            )
            return 1
    signal.signal(signal.SIGINT, executor.on_sigint)  # replaces pyspark's cancel-all handler
    sc = spark.sparkContext
    channel.send(
        {
            "event": "ready",
            "app_id": sc.applicationId,
            "spark_ui_url": sc.uiWebUrl,
            "pid": os.getpid(),
        }
    )
    ops: Ops = queue.Queue()
    threading.Thread(target=_read_ops, args=(channel, executor, ops), daemon=True).start()
    while True:
        op = ops.get()
        if op is None or op.get("op") == "shutdown":
            break
        if op.get("op") == "exec":
            sid = int(op["id"])
            channel.send({"event": "started", "id": sid})
            state, output = executor.execute(sid, str(op["code"]), str(op.get("kind", "pyspark")))
            channel.send({"event": "result", "id": sid, "state": state, "output": output})
    try:
        spark.stop()
    except Exception:
        traceback.print_exc()
    return 0


if __name__ == "__main__":
    sys.exit(main())
