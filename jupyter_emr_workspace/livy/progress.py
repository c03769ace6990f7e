"""What a running statement's Spark jobs are doing, as the session reports it to the engine.

Livy reports a statement's `progress` (the share of its Spark tasks done). The embedded
engine reports that, and also `sparkProgress`: how many jobs, stages and tasks the
statement's job group has, how many are done and how many tasks run now, so a kernel can
say "stage 2 of 3" or "waiting for executors" instead of an empty bar.

One reporter thread per session samples Spark's status tracker once per `interval` while
a statement runs and sends only what changed: a statement that ends within the interval
costs two attribute writes, no sample and no message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

PROGRESS_INTERVAL = 1.0
FINISHED_JOB_STATES = frozenset({"SUCCEEDED", "FAILED"})


def job_group(statement_id: int) -> str:
    """The Spark job group a statement's jobs run in (cancelling it cancels them)."""
    return f"livy-statement-{statement_id}"


def sample(tracker: Any, group: str) -> tuple[float, dict[str, int]]:
    """(`progress`, `sparkProgress`) of the jobs in ``group``, from pyspark's StatusTracker.

    A stage with no task done while a later stage of its job has started was skipped
    (its output was already there): it counts as done, so "stage i of n" does not lag.
    """
    jobs = jobs_done = stages = stages_done = tasks = tasks_done = running = 0
    for job_id in tracker.getJobIdsForGroup(group):
        job = tracker.getJobInfo(job_id)
        if job is None:
            continue
        jobs += 1
        finished = job.status in FINISHED_JOB_STATES
        jobs_done += finished
        infos = [(sid, tracker.getStageInfo(sid)) for sid in sorted(job.stageIds)]
        started = [sid for sid, i in infos if i and (i.numCompletedTasks or i.numActiveTasks)]
        latest = max(started, default=-1)
        for stage_id, info in infos:
            stages += 1
            if info is None:  # skipped, or already forgotten by the tracker
                stages_done += finished or stage_id < latest
                continue
            tasks += info.numTasks
            tasks_done += info.numCompletedTasks
            running += info.numActiveTasks
            complete = info.numTasks > 0 and info.numCompletedTasks >= info.numTasks
            skipped = not info.numCompletedTasks and not info.numActiveTasks and stage_id < latest
            stages_done += finished or complete or skipped
    progress = round(tasks_done / tasks, 3) if tasks else 0.0
    return progress, {
        "jobs": jobs,
        "jobsDone": jobs_done,
        "stages": stages,
        "stagesDone": stages_done,
        "tasks": tasks,
        "tasksDone": tasks_done,
        "tasksRunning": running,
    }


class ProgressReporter:
    """Samples the running statement's jobs every `interval` seconds; `send(event)` gets
    `{"event": "progress", "id", "progress", "sparkProgress"}` when they changed."""

    def __init__(
        self,
        tracker: Callable[[], Any],
        send: Callable[[dict[str, Any]], None],
        interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self._tracker, self._send, self.interval = tracker, send, interval
        self._current: int | None = None
        self._changed = threading.Event()
        self._thread: threading.Thread | None = None

    def begin(self, statement_id: int) -> None:
        self._current = statement_id
        self._changed.set()
        if self._thread is None and self.interval > 0:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def end(self) -> None:
        self._current = None
        self._changed.set()

    def _loop(self) -> None:
        last: tuple[int, float, dict[str, int]] | None = None
        while True:
            statement_id = self._current
            if statement_id is None:
                self._changed.wait()
                self._changed.clear()
                continue
            self._changed.clear()
            if self._changed.wait(self.interval) or self._current != statement_id:
                continue  # it ended (or another began) within the interval
            try:
                progress, jobs = sample(self._tracker(), job_group(statement_id))
            except Exception:  # the JVM is busy or going away: try again next time
                continue
            if self._current != statement_id or last == (statement_id, progress, jobs):
                continue
            last = (statement_id, progress, jobs)
            self._send(
                {
                    "event": "progress",
                    "id": statement_id,
                    "progress": progress,
                    "sparkProgress": jobs,
                }
            )
