"""Each Workspace's working folder on this server, under the contents root."""

from __future__ import annotations

import posixpath
import shutil
from pathlib import Path

from .workspaces import WORKSPACE_ID_RE


class WorkspaceFolders:
    def __init__(self, root_dir: str | Path, workspaces_dir: str):
        self.root = Path(root_dir).expanduser().resolve()
        self.workspaces_dir = workspaces_dir.strip("/")

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

    def workspace_of(self, api_path: str) -> tuple[str | None, str]:
        """Split a contents-API path into (workspace id, path inside it).

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
        first, _, rest = norm[len(prefix) :].partition("/")
        if not WORKSPACE_ID_RE.match(first):
            return "", norm
        return first, rest
