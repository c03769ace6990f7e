"""Notebook storage: local saves, background backups to the Studio's backup location,
checkpoints there, restore on open, delete semantics (docs/storage.md; the design, with
the fencing of every backup operation, in docs/design.md sections 3-5).

This module is a part (see ``parts.py``): ``start``, ``stop`` and ``handlers``.
"""

from __future__ import annotations

from typing import Any

from tornado.ioloop import IOLoop

__all__ = ["WorkspaceContentsManager", "handlers", "start", "stop"]


def __getattr__(name: str) -> Any:
    # Lazy: the CLI (contents.importer) must not pay for importing jupyter_server's
    # contents stack; the name "jupyter_emr_workspace.contents.WorkspaceContentsManager"
    # (documented for c.ServerApp.contents_manager_class) resolves through here.
    if name == "WorkspaceContentsManager":
        from .manager import WorkspaceContentsManager

        return WorkspaceContentsManager
    raise AttributeError(name)


def start(app: Any, services: Any) -> None:
    from .choice import backups_status
    from .manager import WorkspaceContentsManager
    from .service import Backups

    storage = Backups(services)
    services.extra["storage"] = storage
    services.hooks.add(storage)
    manager = app.serverapp.contents_manager
    status = backups_status(manager, services.store.uri)
    services.workspaces.backups = status
    if isinstance(manager, WorkspaceContentsManager):
        manager.storage = storage
        app.log.info(
            "jupyter-emr-workspace: Workspace backups and checkpoints go to %s (contents "
            "manager %s)",
            services.store.uri,
            status["contents_manager"],
        )
    else:
        app.log.warning("jupyter-emr-workspace: backups are OFF. %s", status["reason"])
    IOLoop.current().add_callback(storage.scheduler.start)
    IOLoop.current().add_callback(storage.unleased.start)


async def stop(app: Any, services: Any) -> None:
    storage = services.extra.get("storage")
    if storage is None:
        return
    manager = app.serverapp.contents_manager
    if getattr(manager, "storage", None) is storage:
        manager.storage = None
    await storage.scheduler.stop(storage.flush_timeout)
    await storage.unleased.stop()


def handlers() -> list[tuple[str, Any]]:
    from .api import ROUTES

    return list(ROUTES)
