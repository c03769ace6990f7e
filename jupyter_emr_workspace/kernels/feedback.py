"""Feedback while Spark works, in sparkmagic's kernels.

sparkmagic shows a bare "Progress:" bar for each statement, polled ever more slowly (with
this project's retry policy: 0.2, 0.5, 1, 3, then every 5 s), and leaves it behind when the
statement is interrupted or the kernel restarts (then JupyterLab draws a broken-link icon
where it was, in the saved notebook too). Here:

- the statement is polled quickly at first (a short cell returns in tens of milliseconds,
  not after sparkmagic's first sleep) and then every second, never slower;
- the bar says how long the statement has run and what Spark does: "stage 2 of 3, 40% of
  its Spark tasks done", "waiting for executors" (from the embedded engine's
  `sparkProgress`, see `livy/progress.py`), or the share of tasks done that any Livy
  reports as `progress`; its text changes every second, as comm updates (not output);
- when the statement ends in any way, or the kernel shuts down or restarts, the bar is
  closed and its place in the output is replaced by nothing: no widget view is left in
  the notebook to show up broken later.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

#: progress bars of statements still running, closed on interrupt and shutdown
OPEN: set[Any] = set()
_LOCK = threading.Lock()
#: seconds between polls of a running statement: quick at first, then every second
POLL_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
#: what the bar's place in the output becomes once it is retired
RETIRED = {"text/plain": ""}


def _took(elapsed: float) -> str:
    seconds = int(elapsed)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def describe(elapsed: float, progress: float | None, jobs: dict[str, int] | None = None) -> str:
    """What the bar says: elapsed time, then what Spark does, as far as it is known."""
    took = f"Running for {_took(elapsed)}"
    if jobs:
        stages, done = jobs.get("stages", 0), jobs.get("stagesDone", 0)
        tasks, tasks_done = jobs.get("tasks", 0), jobs.get("tasksDone", 0)
        if not jobs.get("jobs") or not stages:
            return f"{took}: no Spark job yet"
        if jobs.get("jobsDone", 0) >= jobs["jobs"] and done >= stages:
            return f"{took}: {jobs['jobs']} Spark job{'s' * (jobs['jobs'] > 1)} done"
        stage = f"stage {min(done + 1, stages)} of {stages}"
        if not jobs.get("tasksRunning") and tasks_done < tasks:
            return f"{took}: {stage}, waiting for executors"
        share = tasks_done / tasks if tasks else 0.0
        return f"{took}: {stage}, {share:.0%} of its Spark tasks done"
    if progress and progress > 0:
        return f"{took}: {progress:.0%} of its Spark tasks done"
    return f"{took}: waiting for Spark tasks"


def timed_progress(base: type) -> type:
    """A subclass of ipywidgets' FloatProgress ``base`` that counts the seconds and, once
    shown with `show()`, leaves no widget behind when closed."""

    class TimedProgress(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.style.description_width = "initial"  # the whole sentence, not "Runn…"
            self.jobs: dict[str, int] | None = None
            self._handle: Any = None
            self._started = time.monotonic()
            self._stopped = threading.Event()
            self.description = describe(0, None)
            with _LOCK:
                OPEN.add(self)
            threading.Thread(target=self._tick, daemon=True).start()

        def show(self) -> None:
            """Display the bar with a display id, so that `close` can blank its place."""
            from IPython.display import display

            self._handle = display(self, display_id=True)

        def report(self, statement: dict[str, Any]) -> None:
            """What the last poll of the statement said."""
            jobs = statement.get("sparkProgress")
            self.jobs = jobs if isinstance(jobs, dict) else None
            self.value = float(statement.get("progress") or 0.0)
            self._refresh()

        def _refresh(self) -> None:
            self.description = describe(time.monotonic() - self._started, self.value, self.jobs)

        def _tick(self) -> None:
            while not self._stopped.wait(1.0):
                try:
                    self._refresh()
                except Exception:  # the widget went away under us: nothing to update
                    return

        def close(self) -> None:
            self._stopped.set()
            with _LOCK:
                OPEN.discard(self)
            handle, self._handle = self._handle, None
            super().close()
            if handle is not None:
                try:
                    handle.update(RETIRED, raw=True)
                except Exception:  # the kernel is shutting down: the output stays as it was
                    pass

    TimedProgress.__name__ = TimedProgress.__qualname__ = "TimedProgress"
    return TimedProgress


def retire_all() -> None:
    """Close every progress bar still open (interrupt, error, shutdown, restart)."""
    with _LOCK:
        bars = list(OPEN)
    for bar in bars:
        try:
            bar.close()
        except Exception:  # a bar that cannot close is gone already
            continue


def statement_result(statement: dict[str, Any]) -> tuple[bool, Any, str]:
    """sparkmagic's reading of a finished statement (`Command._get_statement_output`)."""
    from IPython.display import Image
    from sparkmagic.livyclientlib.exceptions import LivyUnexpectedStatusException
    from sparkmagic.utils.constants import (
        MIMETYPE_APPLICATION_JSON,
        MIMETYPE_IMAGE_PNG,
        MIMETYPE_TEXT_HTML,
        MIMETYPE_TEXT_PLAIN,
    )

    output = statement["output"]
    if output is None:
        return (True, "", MIMETYPE_TEXT_PLAIN)
    if output["status"] == "ok":
        data = output["data"]
        if MIMETYPE_IMAGE_PNG in data:
            return (True, Image(base64.b64decode(data[MIMETYPE_IMAGE_PNG])), MIMETYPE_IMAGE_PNG)
        for mime in (MIMETYPE_TEXT_HTML, MIMETYPE_APPLICATION_JSON):
            if mime in data:
                return (True, data[mime], mime)
        return (True, data[MIMETYPE_TEXT_PLAIN], MIMETYPE_TEXT_PLAIN)
    if output["status"] == "error":
        return (False, output["evalue"] + "\n" + "".join(output["traceback"]), MIMETYPE_TEXT_PLAIN)
    raise LivyUnexpectedStatusException(f"Unknown output status from Livy: '{output['status']}'")


def poll_statement(self: Any, session: Any, statement_id: Any) -> tuple[bool, Any, str]:
    """`Command._get_statement_output`: poll until the statement ends, keeping the bar up
    to date (at least every second), then retire it; the result as sparkmagic reads it."""
    from sparkmagic.livyclientlib import command
    from sparkmagic.utils.constants import FINAL_STATEMENT_STATUS

    bar = command.FloatProgress(value=0.0, min=0, max=1.0, step=0.01, bar_style="info")
    try:
        bar.show()
        polls = 0
        while True:
            statement = session.http_client.get_statement(session.id, statement_id)
            if statement["state"].lower() in FINAL_STATEMENT_STATUS:
                break
            bar.report(statement)
            time.sleep(POLL_DELAYS[min(polls, len(POLL_DELAYS) - 1)])
            polls += 1
    finally:
        retire_all()  # this bar, and any left over from an earlier interrupted statement
    return statement_result(statement)


def install() -> None:
    """Use `timed_progress` and `poll_statement` in sparkmagic's statements."""
    from sparkmagic.livyclientlib import command

    if getattr(command, "_emr_workspace_feedback", False):
        return
    command.FloatProgress = timed_progress(command.FloatProgress)
    command.Command._get_statement_output = poll_statement
    command._emr_workspace_feedback = True
