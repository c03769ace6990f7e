"""Terminals are the server owner's, and only the owner's.

A terminal is a shell of the operating-system user the server runs as: it can write
anywhere that user can, Workspace folders included, lease or not, and it carries the
server's credentials to the Studio's store. No per-Workspace rule can hold inside a
shell, so on a server that other users reach (a JupyterHub server shared with
collaborators, a multi-user server) nobody but the server's owner may create, list,
connect to or delete one. Every jupyter_server route that acts on terminals declares the
``terminals`` auth resource; this authorizer refuses all of them to anyone else, so a new
terminal route is covered without being named.

Who the owner is: ``c.Studio.server_owner`` when set; under JupyterHub the user the
server was spawned for (``JUPYTERHUB_USER``); otherwise ``c.Studio.local_user_name``
(the OS user by default), which is also the name jupyter_server's token users get here.
With ``local_user_name`` empty, whoever holds the server's token or password is the
owner (jupyter_server's anonymous users), as in a plain Jupyter server.

What the owner's shell writes into a Workspace folder while the lease is not held on this
server never becomes the Workspace's backup: see ``contents/unleased.py``.

This module is a part's entry module (see ``parts.py``).
"""

from __future__ import annotations

import getpass
import logging
import os
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.utils import ensure_async
from tornado import web

from .parts import Host, Part
from .studio import Studio, _is_anonymous, identity_from_user

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)

#: The auth resource jupyter_server_terminals' handlers (REST and websocket) declare.
RESOURCE = "terminals"


def server_owner(studio: Studio, environ: dict[str, str] | None = None) -> str:
    """The user this server belongs to (see the module docstring)."""
    env = os.environ if environ is None else environ
    if studio.server_owner:
        return studio.server_owner
    if env.get("JUPYTERHUB_USER"):
        return env["JUPYTERHUB_USER"]
    if studio.local_user_name:
        return studio.local_user_name
    try:
        return getpass.getuser()
    except Exception:
        return ""


class TerminalOwnerAuthorizer(Authorizer):
    """Composes with ``inner`` (both must allow): terminals only for the owner."""

    def __init__(self, inner: Authorizer, studio: Studio, owner: str, **kwargs: Any) -> None:
        super().__init__(identity_provider=inner.identity_provider, **kwargs)
        self.inner, self.studio, self.owner = inner, studio, owner
        # Token users are the owner only where nothing else names users (not under a hub,
        # no explicit owner): then holding the token is what owning the server means.
        self.token_users_own = not studio.server_owner and "JUPYTERHUB_USER" not in os.environ

    def is_owner(self, user: Any) -> bool:
        if self.owner and identity_from_user(user, self.studio).name == self.owner:
            return True
        return self.token_users_own and _is_anonymous(user)

    async def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if not await ensure_async(self.inner.is_authorized(handler, user, action, resource)):
            return False
        if resource != RESOURCE or self.is_owner(user):
            return True
        name = identity_from_user(user, self.studio).name
        # JupyterLab lists terminals on a timer: only attempts to use one are worth a warning
        log.log(
            logging.DEBUG if action == "read" else logging.WARNING,
            "refused terminal access (%s) to %s: not the server's owner",
            action,
            name,
        )
        raise web.HTTPError(
            403,
            f"Terminals on this server are only for its owner ({self.owner or 'unknown'}); "
            f"{name} may not {action} them. A shell can change any Workspace on this server "
            "without its lease.",
        )


class TerminalsPart(Part):
    """Only wraps the authorizer: no service, no routes, nothing to stop."""

    name = "terminals"

    def start(self, host: Host, services: Services) -> None:
        server = host.server
        owner = server_owner(services.studio)
        inner = server.web_app.settings["authorizer"]
        authorizer = TerminalOwnerAuthorizer(inner, services.studio, owner, parent=server)
        server.authorizer = authorizer
        server.web_app.settings["authorizer"] = authorizer
        log.info("jupyter-emr-workspace: terminals are only for the server's owner, %r", owner)


PART = TerminalsPart()
