"""Local-process spawners that stop single-user servers with SIGTERM first.

JupyterHub's LocalProcessSpawner interrupts with SIGINT and waits ``interrupt_timeout``
(10 s) before SIGTERM. With a jupyter-collaboration room open, a single-user server
ignores that SIGINT and stays up until it is killed, which would skip the extension's
shutdown (flush backups, release leases). SIGTERM ends it cleanly in under a second.
Import this module from ``jupyterhub_config.py`` only: it needs JupyterHub.
"""

from __future__ import annotations

import signal

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner


class _TermFirst:
    async def stop(self, now: bool = False) -> None:
        if not now and await self.poll() is None:  # type: ignore[attr-defined]
            self.log.debug("Terminating %i", self.pid)  # type: ignore[attr-defined]
            await self._signal(signal.SIGTERM)  # type: ignore[attr-defined]
            await self.wait_for_death(self.term_timeout)  # type: ignore[attr-defined]
        await super().stop(now=True)  # type: ignore[misc]


class TermFirstLocalProcessSpawner(_TermFirst, LocalProcessSpawner):
    """LocalProcessSpawner (servers run as the system user) that stops with SIGTERM."""


class TermFirstSimpleLocalProcessSpawner(_TermFirst, SimpleLocalProcessSpawner):
    """SimpleLocalProcessSpawner (everything as the hub's user; demos, tests)."""
