"""Files written into a Workspace folder while this server did not hold its lease never
become the Workspace's backup.

Anything running as the server's user (the owner's terminal, a kernel started outside
the Workspace, another process) can write into a Workspace folder whether or not anyone
holds the lease. Nothing is backed up while the lease is not held here, but the next open
would find those files changed and the backup scan would send them as the Workspace's
content. So each Workspace's state records when this server stopped holding its lease
(``WorkspaceState.released_at``: the last moment the lease was seen held, or the
server's start for a lease held when the server died; 0 for a Workspace never held
here; None while held). On open, before the restore, every local file changed since it
last agreed with its backup *and* modified (or its inode changed: a copy that keeps an
old mtime counts) after that moment is moved aside as
``name.conflict-no-lease-<time>.ext``: the backup's version comes back under the name,
the moved copy stays on disk for its author, is reported under ``conflicts``, and is not
backed up unless a lease holder edits or renames it. Until that sorting is done the
scheduler does not back the Workspace up.

The check is about mistakes, not a boundary against the owner: the owner's shell can set
a file's mtime, or reach the store with the server's own credentials (see
docs/security.md, "Terminals").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from ..leases import LeaseManager
from .backup import BackupScheduler, conflict_name, md5_hex, now_iso
from .paths import walk_files
from .state import Entry

log = logging.getLogger(__name__)

#: The "writer" part of a moved-aside file's name.
NO_LEASE = "no-lease"
#: Seconds between looks at which leases this server holds (no I/O: a dict walk).
WATCH_SECONDS = 1.0


class UnleasedWrites:
    def __init__(self, scheduler: BackupScheduler, leases: LeaseManager) -> None:
        self.scheduler, self.leases = scheduler, leases
        #: Workspace → (last time seen held, the lease tokens held then)
        self._seen_held: dict[str, tuple[float, set[str]]] = {}
        #: Workspaces whose leases seen last are not held now (released_at was set)
        self._lapsed: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        # Nothing is held when the server starts: a lease held when it last stopped (or
        # died) ended then at the latest.
        started = time.time()
        for workspace_id, st in scheduler.states.items():
            if st.released_at is None:
                st.released_at = started
                scheduler._save_now(workspace_id)

    # -- when the lease stops being held here --------------------------------------------
    def start(self) -> None:
        self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        """At shutdown, after the last flush: the leases end with the server."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        stopped = time.time()
        for workspace_id, st in self.scheduler.states.items():
            if st.released_at is None:
                st.released_at = stopped
                self.scheduler._save_now(workspace_id)

    async def _watch(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(WATCH_SECONDS)

    def _tokens(self, workspace_id: str) -> set[str]:
        """The leases held here now (expired ones do not count)."""
        by_user = self.leases.held.get(workspace_id, {})
        leases = (self.leases.lease_for(workspace_id, user) for user in list(by_user))
        return {lease.token for lease in leases if lease is not None}

    def check(self) -> None:
        """Record the end of every holding that stopped: none of the leases seen last is
        held any more (closed, lost, expired; a reopen since brings a new token). A lease
        that expired and was then renewed (nobody took it meanwhile) holds again."""
        now = time.time()
        for workspace_id, (seen_at, seen) in list(self._seen_held.items()):
            tokens = self._tokens(workspace_id)
            if tokens & seen:
                self._seen_held[workspace_id] = (now, tokens)
                if workspace_id in self._lapsed:
                    self._lapsed.discard(workspace_id)
                    self._set(workspace_id, None)
            elif workspace_id not in self._lapsed:
                self._lapsed.add(workspace_id)
                self.released(workspace_id, seen_at)

    def released(self, workspace_id: str, at: float) -> None:
        st = self.scheduler.states.get(workspace_id)
        if st is not None and st.released_at is None:
            self._set(workspace_id, at)

    def held(self, workspace_id: str) -> None:
        """The open is done: from now on local changes are the holders' own."""
        self._seen_held[workspace_id] = (time.time(), self._tokens(workspace_id))
        self._lapsed.discard(workspace_id)
        self._set(workspace_id, None)

    def _set(self, workspace_id: str, released_at: float | None) -> None:
        self.scheduler.state(workspace_id).released_at = released_at
        self.scheduler._persist_soon(workspace_id)

    # -- at open --------------------------------------------------------------------------
    async def set_aside(self, workspace_id: str, folder: Path) -> list[dict[str, Any]]:
        """Move local files changed while the lease was not held here out of the
        Workspace's way (before the restore brings the backup's versions back)."""
        self.check()  # a close and reopen within one look still counts as a gap
        st = self.scheduler.state(workspace_id)
        if st.released_at is None:
            return []  # held here all along (another user of this server holds it too)
        known = dict(st.manifest)  # a snapshot: the thread only reads it
        # saves this server accepted while it held the lease (the lease is only seen to
        # end at the next look, up to WATCH_SECONDS later): its holders' own, not set aside
        accepted = dict(st.pending)
        moved = await asyncio.to_thread(_set_aside, folder, known, st.released_at, accepted)
        facts = []
        for rel, copy, md5, stat in moved:
            # known to the manifest with no backup: the scan leaves it alone until edited
            st.manifest[copy] = Entry(md5, "", 0, stat.st_mtime_ns, stat.st_size)
            st.pending.pop(rel, None)
            facts.append(
                {
                    "path": rel,
                    "conflict_path": copy,
                    "kind": NO_LEASE,
                    "message": f"{rel} was changed on this server while the Workspace's lease "
                    f"was not held here; that version was kept as {copy} (not backed up) and "
                    "the backup's version restored",
                    "at": now_iso(),
                }
            )
        st.conflicts.extend(facts)
        del st.conflicts[:-100]
        if facts:
            self.scheduler._persist_soon(workspace_id)
            log.warning(
                "Workspace %s: %d file(s) changed on this server while its lease was not "
                "held here were kept aside, not backed up: %s",
                workspace_id,
                len(facts),
                ", ".join(f["conflict_path"] for f in facts),
            )
        return facts


def _set_aside(
    folder: Path,
    known: dict[str, Entry],
    released_at: float,
    accepted: dict[str, float] | None = None,
) -> list[tuple[str, str, str, os.stat_result]]:
    """Blocking (run in a thread): move changed, late files aside; returns
    (path, copy, md5, stat of the copy) for each. ``accepted``: path → when this server
    marked it saved under its lease; a file unchanged since that mark stays."""
    cutoff_ns = int(released_at * 1e9)
    accepted = accepted or {}
    out: list[tuple[str, str, str, os.stat_result]] = []
    for rel, stat in sorted(walk_files(folder).items()):
        # ctime too: `cp -p`, `rsync -t`, `tar x`, `unzip` give a new file an old mtime,
        # but nothing short of the clock sets its inode change time back
        changed_ns = max(stat.st_mtime_ns, stat.st_ctime_ns)
        if changed_ns <= cutoff_ns:
            continue
        if rel in accepted and changed_ns <= int(accepted[rel] * 1e9):
            continue  # saved through this server while it held the lease, not since
        entry = known.get(rel)
        if entry is not None and entry.same_stat(stat):
            continue
        path = folder / rel
        try:
            md5 = md5_hex(path.read_bytes())
        except OSError:
            continue
        if entry is not None and entry.md5 == md5:
            continue  # touched, not changed
        copy = conflict_name(rel, NO_LEASE)
        target = folder / copy
        try:
            os.rename(path, target)
            out.append((rel, copy, md5, target.stat()))
        except OSError as e:
            log.error("could not set %s aside: %s", path, e)
    return out
