"""The embedded Livy-compatible engine: Livy's REST API on local-mode PySpark.

It lets the product run, and be tested, without an AWS account. Public API:
`EngineProcess` (the engine in a child process, what the server extension uses),
`LivyEngine` (the engine in the current event loop) and `engine_unavailable_reason()`.
Imports are lazy so that session processes, which import this package, stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .availability import engine_unavailable_reason

if TYPE_CHECKING:
    from .process import EngineProcess, EngineStartError
    from .server import LivyEngine

__all__ = ["EngineProcess", "EngineStartError", "LivyEngine", "engine_unavailable_reason"]


def __getattr__(name: str) -> Any:
    if name in ("EngineProcess", "EngineStartError"):
        from . import process

        return getattr(process, name)
    if name == "LivyEngine":
        from .server import LivyEngine

        return LivyEngine
    raise AttributeError(name)
