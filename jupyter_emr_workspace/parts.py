"""The optional parts (storage, compute) plug into the services here.

Each part exposes ``start(app, services)``, ``stop(app, services)`` and ``handlers()``;
the list below is the only place that names them.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

log = logging.getLogger(__name__)

PARTS: list[str] = [
    "jupyter_emr_workspace.hub.part",
    "jupyter_emr_workspace.contents",
    "jupyter_emr_workspace.compute.part",
    "jupyter_emr_workspace.terminals",
    "jupyter_emr_workspace.executions.part",
]


def _modules() -> list[Any]:
    return [importlib.import_module(name) for name in PARTS]


def start_parts(app: Any, services: Any) -> None:
    for module in _modules():
        module.start(app, services)


async def stop_parts(app: Any, services: Any) -> None:
    for module in reversed(_modules()):
        try:
            await module.stop(app, services)
        except Exception:
            log.exception("stopping %s failed", module.__name__)


def extra_handlers() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for module in _modules():
        out += module.handlers()
    return out
