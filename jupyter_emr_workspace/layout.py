"""Where things live in the store.

Backups follow EMR Studio's layout, ``<backup_uri>/<workspace-id>/<relative path>``, so
existing EMR Studio backups can be imported. Metadata lives beside them under
``.emr-workspace/studios/<studio-id>/``: two Studios sharing one bucket never see each
other's Workspaces.
"""

from __future__ import annotations

from urllib.parse import quote


class Layout:
    def __init__(self, studio_id: str):
        self.base = f".emr-workspace/studios/{studio_id}"

    @property
    def workspaces_prefix(self) -> str:
        return f"{self.base}/workspaces/"

    def workspace(self, workspace_id: str) -> str:
        return f"{self.workspaces_prefix}{workspace_id}.json"

    @property
    def locks_prefix(self) -> str:
        return f"{self.base}/locks/"

    def lock(self, workspace_id: str) -> str:
        return f"{self.locks_prefix}{workspace_id}.json"

    def name(self, name: str) -> str:
        """Name reservations make names unique (case-insensitively) with a create-only write."""
        return f"{self.base}/names/{quote(name.casefold(), safe='')}"

    @property
    def index(self) -> str:
        """The listing index: the bodies of metadata and lock objects by ETag (a cache)."""
        return f"{self.base}/index.json"

    @property
    def session_mappings(self) -> str:
        return f"{self.base}/session-mappings.json"

    @staticmethod
    def backup_prefix(workspace_id: str) -> str:
        return f"{workspace_id}/"

    @staticmethod
    def workspace_id_of(key: str) -> str | None:
        """The key an id's listing prefix ends with: ``.../workspaces/<id>.json`` → id."""
        tail = key.rsplit("/", 1)[-1]
        return tail[: -len(".json")] if tail.endswith(".json") else None
