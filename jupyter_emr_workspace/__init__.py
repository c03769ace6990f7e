"""jupyter-emr-workspace: EMR Studio Workspaces for any JupyterLab and JupyterHub."""

from __future__ import annotations

from typing import Any

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    import json
    from pathlib import Path

    _pkg = Path(__file__).resolve().parent.parent / "package.json"
    __version__ = json.loads(_pkg.read_text())["version"] if _pkg.exists() else "0.0.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-emr-workspace"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import EmrWorkspaceApp

    return [{"module": "jupyter_emr_workspace", "app": EmrWorkspaceApp}]
