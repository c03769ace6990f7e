"""The optional parts (storage, compute, hub, terminals) and the one contract they keep.

A part is one entry module whose ``PART`` implements ``Part``; ``PARTS`` below is the
only place that names them. Every part takes its dependencies the same way: the typed
``Services`` (and the running server, through ``Host``) at ``start``, where it sets its
own field of ``Services`` (``services.compute = ...``), adds its ``WorkspaceHooks`` to
``services.hooks`` and may wrap the server's authorizer. The core imports none of them.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

    from .handlers import BaseHandler
    from .services import Services

log = logging.getLogger(__name__)

#: A route relative to ``/emr-workspace/api`` and its handler.
Route = tuple[str, type["BaseHandler"]]

PARTS: list[str] = [
    "jupyter_emr_workspace.hub.part",
    "jupyter_emr_workspace.contents.part",
    "jupyter_emr_workspace.compute.part",
    "jupyter_emr_workspace.terminals",
    "jupyter_emr_workspace.executions.part",
]


@dataclass(frozen=True)
class Host:
    """What a part sees of the extension: the running server and the extension's log."""

    server: ServerApp
    log: logging.Logger


@runtime_checkable
class Part(Protocol):
    """An optional part of the server. Subclass it and override what you need: by
    default a part starts and stops doing nothing and serves no routes."""

    #: A short name for logs and errors ("storage", "compute", ...).
    name: str

    def start(self, host: Host, services: Services) -> None:
        """After the core is built, in ``PARTS`` order: build the part's service."""
        return None

    async def stop(self, host: Host, services: Services) -> None:
        """When the server stops, in reverse order (before leases are released)."""
        return None

    def handlers(self) -> list[Route]:
        """Routes relative to ``/emr-workspace/api``; handlers subclass ``BaseHandler``
        (membership check, error mapping)."""
        return []


def load_parts() -> list[Part]:
    """Each entry module's ``PART``, in ``PARTS`` order."""
    out: list[Part] = []
    for name in PARTS:
        part = getattr(importlib.import_module(name), "PART", None)
        if not isinstance(part, Part):
            raise TypeError(f"{name}.PART is not a parts.Part")
        out.append(part)
    return out


def start_parts(host: Host, services: Services) -> None:
    for part in load_parts():
        part.start(host, services)


async def stop_parts(host: Host, services: Services) -> None:
    for part in reversed(load_parts()):
        try:
            await part.stop(host, services)
        except Exception:
            log.exception("stopping the %s part failed", part.name)


def extra_handlers() -> list[Route]:
    out: list[Route] = []
    for part in load_parts():
        out += part.handlers()
    return out
