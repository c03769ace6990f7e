"""Feedback while Spark works, in sparkmagic's kernels.

sparkmagic shows a bare "Progress:" bar for each statement, polled ever more slowly, and
leaves it behind when the statement is interrupted or the kernel restarts (then JupyterLab
draws a broken-link icon where it was). Here the bar says how long the statement has run and
how far its Spark tasks are, every second, and every bar still open is closed when the
statement ends in any way or the kernel shuts down or restarts.
"""

from __future__ import annotations

import threading
import time
from typing import Any

#: progress bars of statements still running, closed on interrupt and shutdown
OPEN: set[Any] = set()
_LOCK = threading.Lock()


def describe(elapsed: float, progress: float | None) -> str:
    """What the bar says: elapsed time, and the share of Spark tasks done once known."""
    seconds = int(elapsed)
    took = f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"
    if progress and progress > 0:
        return f"Running for {took}: {progress:.0%} of its Spark tasks done"
    return f"Running for {took}: waiting for Spark tasks"


def timed_progress(base: type) -> type:
    """A subclass of ipywidgets' FloatProgress ``base`` that counts the seconds."""

    class TimedProgress(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.style.description_width = "initial"  # the whole sentence, not "Runn…"
            self._started = time.monotonic()
            self._stopped = threading.Event()
            self.description = describe(0, None)
            with _LOCK:
                OPEN.add(self)
            threading.Thread(target=self._tick, daemon=True).start()

        def _tick(self) -> None:
            while not self._stopped.wait(1.0):
                try:
                    self.description = describe(time.monotonic() - self._started, self.value)
                except Exception:  # the widget went away under us: nothing to update
                    return

        def close(self) -> None:
            self._stopped.set()
            with _LOCK:
                OPEN.discard(self)
            super().close()

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


def retiring(poll: Any) -> Any:
    """``poll`` (sparkmagic's statement polling), retiring every open bar however it ends:
    sparkmagic closes its bar only when the statement completes."""

    def get_statement_output(self: Any, session: Any, statement_id: Any) -> Any:
        try:
            return poll(self, session, statement_id)
        finally:
            retire_all()

    return get_statement_output


def install() -> None:
    """Use `timed_progress` in sparkmagic's statements, and retire bars however they end."""
    from sparkmagic.livyclientlib import command

    if getattr(command, "_emr_workspace_feedback", False):
        return
    command.FloatProgress = timed_progress(command.FloatProgress)
    command.Command._get_statement_output = retiring(command.Command._get_statement_output)
    command._emr_workspace_feedback = True
