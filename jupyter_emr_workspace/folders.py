"""Each Workspace's working folder on this server, under the contents root.

The lock is only as good as the answer to "which Workspace is this path in?". A path is
looked at twice: as the contents API spells it (normalised) and as the file system
resolves it (symlinks followed, against the server's root). When the two disagree, every
Workspace either one names counts, so a symlink outside the Workspaces folder that points
into one is treated as that Workspace.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
from pathlib import Path

from .workspace_registry import WORKSPACE_ID_RE

#: Where a path lies: (Workspace id, path inside it). ``None``: outside the Workspaces
#: folder; ``""``: the Workspaces folder itself or an entry in it that is not a Workspace.
Place = tuple[str | None, str]


def normalise_workspaces_dir(value: str) -> str:
    """The one spelling of ``c.Studio.workspaces_dir`` that paths are compared with.

    ``./workspaces``, ``workspaces/`` and ``a//b`` name the same folder as ``workspaces``
    and ``a/b``; a value that leaves the server root or names the root itself cannot hold
    Workspaces safely and raises ValueError.
    """
    if "\\" in value or "\x00" in value:
        raise ValueError("use '/' between folder names (no backslash or NUL)")
    if value.startswith("/") or value.startswith("~"):
        raise ValueError("a path relative to the server root, not an absolute one")
    norm = posixpath.normpath(value.strip()) if value.strip() else "."
    if norm == "." or norm == ".." or norm.startswith("../"):
        raise ValueError("a folder inside the server root (not the root itself, no '..')")
    return norm


class WorkspaceFolders:
    def __init__(self, root_dir: str | Path, workspaces_dir: str):
        self.root = Path(root_dir).expanduser().resolve()
        self.workspaces_dir = normalise_workspaces_dir(workspaces_dir)
        self._real: str | None = None

    def api_path(self, workspace_id: str) -> str:
        """The path the contents API uses for the Workspace's folder."""
        return f"{self.workspaces_dir}/{workspace_id}"

    def local_path(self, workspace_id: str) -> Path:
        return self.root / self.workspaces_dir / workspace_id

    def ensure(self, workspace_id: str) -> Path:
        path = self.local_path(workspace_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remove(self, workspace_id: str) -> None:
        shutil.rmtree(self.local_path(workspace_id), ignore_errors=True)

    def workspace_of(self, api_path: str) -> Place:
        """Split a contents-API path into (workspace id, path inside it), by its spelling.

        ``("e-...", "")`` is the Workspace folder itself; ``(None, path)`` is outside
        the Workspaces folder; ``("", path)`` is the Workspaces folder itself or something
        in it that is not a Workspace (only the server creates things there).
        """
        norm = posixpath.normpath("/" + (api_path or "").strip("/")).lstrip("/")
        prefix = self.workspaces_dir + "/"
        if norm == self.workspaces_dir:
            return "", ""
        if not norm.startswith(prefix):
            return None, norm
        return self._split(norm[len(prefix) :])

    @staticmethod
    def _split(rel: str) -> Place:
        first, _, rest = rel.partition("/")
        if not WORKSPACE_ID_RE.match(first):
            return "", rel
        return first, rest

    def _workspaces_real(self) -> str:
        # resolved once it exists (it may be created after start, or be a symlink)
        if self._real is None:
            real = os.path.realpath(self.root / self.workspaces_dir)
            if not os.path.isdir(real):
                return real
            self._real = real
        return self._real

    def place_of_os_path(self, os_path: str | Path) -> Place:
        """Where an absolute local path lies once symlinks are resolved."""
        return self._place_of_real(os.path.realpath(os_path))

    def _place_of_real(self, real: str) -> Place:
        base = self._workspaces_real()
        if real == base:
            return "", ""
        if not real.startswith(base + os.sep):
            return None, real
        return self._split(real[len(base) + 1 :].replace(os.sep, "/"))

    def _resolve(self, parts: list[str]) -> tuple[str, str]:
        """(the resolved path, its resolved parent folder joined with its last name), from
        the already resolved root: one lstat per name, realpath only at a symlink."""
        current = parent = str(self.root)
        for i, part in enumerate(parts):
            parent = current
            candidate = os.path.join(current, part)
            try:
                is_link = stat.S_ISLNK(os.lstat(candidate).st_mode)
            except (OSError, ValueError):  # missing (or a NUL: no file has it): no link below
                rest = os.path.join(current, *parts[i:])
                return rest, os.path.join(os.path.dirname(rest), parts[-1])
            current = os.path.realpath(candidate) if is_link else candidate
        return current, os.path.join(parent, parts[-1]) if parts else current

    def places(self, api_path: str) -> list[Place]:
        """Every place a contents-API path may touch: as spelt, as resolved, and as the
        directory entry itself (its resolved parent folder plus its name: what a rename or
        delete of a symlink changes). Outside-only answers collapse to ``[(None, path)]``."""
        norm = posixpath.normpath("/" + (api_path or "").strip("/")).lstrip("/")
        spelt = self.workspace_of(norm)
        parts = [p for p in norm.split("/") if p]
        resolved, entry = self._resolve(parts)
        found = [spelt, self._place_of_real(resolved), self._place_of_real(entry)]
        inside = [p for p in dict.fromkeys(found) if p[0] is not None]
        return inside or [spelt]

    def contains_workspaces(self, api_path: str) -> bool:
        """Whether the Workspaces folder lies below this path (as spelt or as resolved):
        renaming or deleting it would move or delete every Workspace."""
        norm = posixpath.normpath("/" + (api_path or "").strip("/")).lstrip("/")
        if norm == "":
            return False  # jupyter_server refuses to move or delete its root itself
        if self.workspaces_dir.startswith(norm + "/"):
            return True
        base = self._workspaces_real()
        resolved, entry = self._resolve([p for p in norm.split("/") if p])
        return any(base.startswith(p.rstrip(os.sep) + os.sep) for p in (resolved, entry))
