"""Notebook storage: local saves, background backups to the Studio's backup location,
checkpoints there, restore on open, delete semantics (docs/storage.md; the design, with
the fencing of every backup operation, in docs/design.md sections 3-5).

The part's entry module is ``contents/part.py`` (see ``parts.py``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["WorkspaceContentsManager"]


def __getattr__(name: str) -> Any:
    # Lazy: the CLI (contents.importer) must not pay for importing jupyter_server's
    # contents stack; the name "jupyter_emr_workspace.contents.WorkspaceContentsManager"
    # (documented for c.ServerApp.contents_manager_class) resolves through here.
    if name == "WorkspaceContentsManager":
        from .manager import WorkspaceContentsManager

        return WorkspaceContentsManager
    raise AttributeError(name)
