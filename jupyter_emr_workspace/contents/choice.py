"""Which contents manager the server runs, and whether Workspace backups work with it.

``pip install jupyter-emr-workspace`` plus ``c.Studio.*`` must back Workspaces up without
the admin naming a contents manager. jupyter_server reads the installed
``jupyter_server_config.d/*.json`` only for ``jpserver_extensions``, so a
``contents_manager_class`` there is never applied: the extension puts its manager in
place itself when it is linked, which is before the server builds its contents manager.
A manager the admin chose (or another app set) is kept; if it is not a subclass of ours,
the server says so at start and ``GET /studio`` reports backups off, with the reason.
"""

from __future__ import annotations

import logging
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

MANAGER = "jupyter_emr_workspace.contents.WorkspaceContentsManager"
TRAIT = "contents_manager_class"


def class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def chosen_in_config(serverapp: Any) -> bool:
    """Whether config (files, ``--config``, command line) names the server's manager.

    Config applies to a ServerApp under the name of each class it derives from
    (``c.ServerApp``, a subclass's own section such as jupyterhub's), so all are read.
    """
    config = serverapp.config
    return any(
        section in config and TRAIT in config[section] for section in serverapp.section_names()
    )


def put_in_place(serverapp: Any, log: logging.Logger | logging.LoggerAdapter[Any]) -> bool:
    """At link time: use WorkspaceContentsManager unless a manager was chosen already.

    "Chosen" means named in config, or a value other than jupyter_server's default set by
    the application itself. Returns whether this call changed the server's manager.
    """
    from .manager import WorkspaceContentsManager

    current = serverapp.contents_manager_class
    if isinstance(current, type) and issubclass(current, WorkspaceContentsManager):
        return False
    if chosen_in_config(serverapp) or current is not AsyncLargeFileManager:
        log.debug("jupyter-emr-workspace: keeping the chosen contents manager %s", current)
        return False
    serverapp.contents_manager_class = WorkspaceContentsManager
    log.debug("jupyter-emr-workspace: contents manager set to %s", MANAGER)
    return True


def backups_status(manager: Any, store_uri: str) -> dict[str, Any]:
    """What ``GET /studio`` says of backups: on with our manager, else off and why."""
    from .manager import WorkspaceContentsManager

    name = class_name(type(manager))
    if isinstance(manager, WorkspaceContentsManager):
        return {"enabled": True, "reason": None, "contents_manager": name}
    reason = (
        f"The server's contents manager is {name}, chosen by c.ServerApp.{TRAIT} or another "
        f"extension, and it is not {MANAGER} or a subclass of it. Workspace files are "
        f"copied to {store_uri} only by the periodic scan: deleting or renaming a notebook "
        "leaves its backup behind, checkpoints stay on this server, and pending saves are "
        f"not shown. Remove that setting (or set it to {MANAGER}) to turn backups on."
    )
    return {"enabled": False, "reason": reason, "contents_manager": name}
