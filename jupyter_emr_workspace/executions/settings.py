"""The ``# -- executions`` settings of ``c.Studio`` (runners and schedules).

``studio.Studio`` inherits `ExecutionSettings`, so every setting stays ``c.Studio.<name>``
and ``Studio(<name>=...)``; they are declared here, beside the code that reads them.
This module imports only ``errors`` (``studio`` imports it).
"""

from __future__ import annotations

from traitlets import Bool, Float, HasTraits, Int

from ..errors import ConfigError


class ExecutionSettings(HasTraits):
    executions_runner = Bool(
        True,
        config=True,
        help="Run queued notebook executions of this server's owner in this server (an "
        "in-process runner). Executions of others, and schedules while this server is "
        "down, need a runner of their own: `jupyter-emr-workspace runner` (a JupyterHub "
        "service). See docs/executions.md.",
    )
    execution_poll_seconds = Float(
        5.0, config=True, help="Seconds between a runner's looks at the execution queue."
    )
    execution_heartbeat_seconds = Float(
        15.0, config=True, help="Seconds between a runner's heartbeats on what it runs."
    )
    execution_claim_timeout = Float(
        90.0,
        config=True,
        help="Seconds without a heartbeat after which a runner is taken for dead and its "
        "executions are ended FAILED (in the store's clock).",
    )
    execution_concurrency = Int(2, config=True, help="Executions one runner runs at once.")
    execution_idle_poll_seconds = Float(
        300.0,
        config=True,
        help="While no execution is queued and no schedule exists, this server's runner "
        "looks this seldom (a submission through this server wakes it at once), so an idle "
        "server costs the store no requests between looks.",
    )
    schedule_tick_seconds = Float(
        20.0, config=True, help="Seconds between a runner's looks at the schedules."
    )

    def validate_executions(self) -> None:
        """Raise ConfigError naming the first bad executions setting (``Studio.validate``)."""
        if self.execution_claim_timeout <= 2 * self.execution_heartbeat_seconds:
            raise ConfigError(
                f"c.Studio.execution_claim_timeout={self.execution_claim_timeout}: more than "
                f"twice c.Studio.execution_heartbeat_seconds ({self.execution_heartbeat_seconds})"
            )
        if self.execution_poll_seconds <= 0:
            raise ConfigError(
                f"c.Studio.execution_poll_seconds={self.execution_poll_seconds}: more than 0"
            )
        if self.execution_concurrency < 1:
            raise ConfigError(
                f"c.Studio.execution_concurrency={self.execution_concurrency}: at least 1"
            )
