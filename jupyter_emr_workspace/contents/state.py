"""What this server last backed up, and what it still owes: kept on local disk.

The manifest (checksum, ETag, generation and the file's stat at that time) is what lets
an unchanged file cost no request; the pending set and the queued deletes survive a
crash, so a server that died mid-backup resumes on its next start.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Entry:
    """One file as it was when its backup and the local copy last agreed."""

    md5: str
    etag: str
    generation: int
    mtime_ns: int = 0
    size: int = -1

    def same_stat(self, st: os.stat_result) -> bool:
        return self.mtime_ns == st.st_mtime_ns and self.size == st.st_size


@dataclass
class QueuedDelete:
    """A store key (or a prefix ending in "/") to delete, with the lease generation under
    which the delete was decided and the server that decided it: it never removes a backup
    written under a newer generation (another server's work after a takeover), nor one of
    the same generation from another server (a collaborator's), however long it waited in
    the queue. The server id survives a restart here, so a restarted server (new random
    id) still deletes what its previous run wrote."""

    key: str
    generation: int
    server: str = ""
    #: store key → the ETag this server last agreed on with it when the delete was
    #: decided: a backup with another ETag holds content the deleting user never saw (an
    #: older lease's write that landed later), so it is kept as a conflict copy. None: not
    #: known (checkpoints, or queued before this was recorded): no such check.
    seen: dict[str, str] | None = None

    @classmethod
    def from_json(cls, data: Any) -> QueuedDelete:
        if isinstance(data, str):  # written before deletes carried a generation:
            return cls(data, 0)  # it may remove only backups that carry none
        seen = data.get("seen")
        return cls(
            str(data["key"]),
            int(data.get("generation") or 0),
            str(data.get("server") or ""),
            {str(k): str(v) for k, v in seen.items()} if isinstance(seen, dict) else None,
        )


@dataclass
class WorkspaceState:
    """Backup bookkeeping of one Workspace on this server."""

    manifest: dict[str, Entry] = field(default_factory=dict)
    #: relative path → epoch seconds when it was first marked changed
    pending: dict[str, float] = field(default_factory=dict)
    #: store keys or prefixes (ending in "/") still to delete
    deletes: list[QueuedDelete] = field(default_factory=list)
    #: relative path → {"error", "attempts", "retry_at"}
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    last_backup_at: str | None = None
    last_error: str | None = None
    #: when this server stopped holding the lease (epoch s; 0: never held here; None:
    #: held). Local changes made later are set aside at open: see unleased.py.
    released_at: float | None = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["manifest"] = {k: asdict(v) for k, v in self.manifest.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkspaceState:
        state = cls()
        state.manifest = {k: Entry(**v) for k, v in (data.get("manifest") or {}).items()}
        state.pending = {str(k): float(v) for k, v in (data.get("pending") or {}).items()}
        state.deletes = [QueuedDelete.from_json(d) for d in data.get("deletes") or []]
        state.failed = dict(data.get("failed") or {})
        state.conflicts = list(data.get("conflicts") or [])[-100:]
        state.last_backup_at = data.get("last_backup_at")
        state.last_error = data.get("last_error")
        state.released_at = data.get("released_at")
        return state

    def forget_under(self, rel: str) -> None:
        """Drop what is known about ``rel`` and, if it is a folder, everything in it."""
        prefix = rel.rstrip("/") + "/"
        for table in (self.manifest, self.pending, self.failed):
            for key in [k for k in table if k == rel or k.startswith(prefix)]:
                del table[key]


class StateFiles:
    """One JSON file per Workspace under a folder that is specific to this server's root,
    so two servers on one machine (different roots) never share a manifest."""

    def __init__(self, base: Path, studio_id: str, root_dir: Path):
        digest = hashlib.sha1(str(root_dir).encode()).hexdigest()[:12]
        self.dir = base / studio_id / digest
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, workspace_id: str) -> Path:
        return self.dir / f"{workspace_id}.json"

    def load_all(self) -> dict[str, WorkspaceState]:
        out: dict[str, WorkspaceState] = {}
        for path in self.dir.glob("e-*.json"):
            try:
                out[path.stem] = WorkspaceState.from_json(json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue  # a torn or foreign file: the next scan rebuilds what matters
        return out

    def save(self, workspace_id: str, data: dict[str, Any]) -> None:
        """Atomic replace, so a crash leaves the old or the new state, never half of it."""
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path(workspace_id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def remove(self, workspace_id: str) -> None:
        self.path(workspace_id).unlink(missing_ok=True)
