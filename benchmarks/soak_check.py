"""The lock soak's checker: what the servers answered and what the store holds, judged
against the three promises of the lease lock.

1. One editor at a time: no two holders of a non-collaboration Workspace overlap, in the
   lock object nor in the servers' answers; generations never go back.
2. Fencing: a backup object written under a newer generation is never overwritten,
   deleted or brought back (after a delete) by a writer of an older generation.
3. Nothing lost: every save a server acknowledged ends up, once flushed, in the backup
   location (at its path, a renamed path or a conflict copy), unless a user deleted it.

It does no I/O: the soak (``soak_lock.py``) feeds it events (answers of the REST API)
and snapshots (the lock objects and backup objects read from the store), so a unit
test can feed it a made-up history and expect a complaint. Times are epoch seconds of
this machine; the servers judge expiry by the store's clock, which on one machine is the
same clock read through an HTTP ``Date`` header (one-second resolution), hence ``slack``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def epoch(iso: str) -> float:
    """``2026-11-30T09:00:00.123Z`` → epoch seconds."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def history_of(data: bytes) -> list[str] | None:
    """The version ids a notebook written by the soak carries (its one cell's words), or
    None for anything else."""
    try:
        source = json.loads(data)["cells"][0]["source"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    text = "".join(source) if isinstance(source, list) else str(source)
    return text.split()


def is_conflict_copy(rel: str) -> bool:
    return ".conflict-" in rel.rsplit("/", 1)[-1]


@dataclass
class Violation:
    kind: str
    round: int
    workspace: str
    detail: str

    def __str__(self) -> str:
        return f"[round {self.round}] {self.kind} in {self.workspace}: {self.detail}"


@dataclass
class Claim:
    """A lease as the servers' answers describe it (one token)."""

    user: str
    server: str
    generation: int
    valid_until: float
    granted_at: float  # when the open's answer arrived
    ended_at: float | None = None  # close answered, or a heartbeat answered LeaseLost


@dataclass
class Version:
    workspace: str
    path: str
    server: str
    user: str
    generation: int
    saved_at: float  # when the save was answered (never changes)
    acked_at: float  # since when the server owes it to the store (a rename moves it)
    due: bool = False
    reported: bool = False
    missing_since: float | None = None


@dataclass
class StoreObject:
    etag: str
    generation: int
    history: list[str] | None
    seen_at: float


@dataclass
class Removal:
    """An acknowledged delete or rename away of a path, with the lease it was made under."""

    path: str
    generation: int
    at: float
    history: list[str]


@dataclass
class Checker:
    collaboration: set[str] = field(default_factory=set)
    slack: float = 1.5
    round: int = 0
    violations: list[Violation] = field(default_factory=list)
    claims: dict[str, dict[str, Claim]] = field(default_factory=dict)
    versions: dict[str, Version] = field(default_factory=dict)
    removals: dict[str, list[Removal]] = field(default_factory=dict)
    objects: dict[str, dict[str, StoreObject]] = field(default_factory=dict)
    tombstones: dict[str, dict[str, int]] = field(default_factory=dict)
    store_generation: dict[str, int] = field(default_factory=dict)

    def _violate(self, kind: str, workspace: str, detail: str) -> None:
        self.violations.append(Violation(kind, self.round, workspace, detail))

    # -- answers of the REST API ------------------------------------------------------
    def granted(
        self,
        ws: str,
        user: str,
        server: str,
        token: str,
        generation: int,
        expires_at: float,
        sent: float,
        received: float,
    ) -> None:
        """``open`` answered 200 with this lease."""
        claims = self.claims.setdefault(ws, {})
        known = claims.get(token)
        if known is not None:  # an idempotent reopen renews the same lease
            known.valid_until = max(known.valid_until, expires_at)
            return
        for other_token, other in claims.items():
            if other.granted_at >= sent:
                continue  # answered after this request left: concurrent, judged the other way
            if generation <= other.generation:
                self._violate(
                    "generation-went-back",
                    ws,
                    f"{user}@{server} got generation {generation} after {other.user}@"
                    f"{other.server} had been given {other.generation}",
                )
            live = other.ended_at is None or other.ended_at > sent
            if (
                ws not in self.collaboration
                and live
                and other.user != user
                and other.valid_until > sent + self.slack
            ):
                self._violate(
                    "two-holders",
                    ws,
                    f"{user}@{server} was granted token …{token[-6:]} (generation "
                    f"{generation}) while {other.user}@{other.server}'s token "
                    f"…{other_token[-6:]} (generation {other.generation}) was answered valid "
                    f"until {other.valid_until - sent:.1f}s after the request",
                )
        # A newer generation supersedes every lease granted before it was asked for: the
        # old holder's lease had expired, was released, or (the same user opening from
        # another server) was taken over, and the new generation fences it from now on.
        for other in claims.values():
            if other.granted_at < sent and other.generation < generation:
                if other.ended_at is None or other.ended_at > received:
                    other.ended_at = received
        claims[token] = Claim(user, server, generation, expires_at, received)

    def renewed(self, ws: str, token: str, expires_at: float, sent: float) -> None:
        """``heartbeat`` answered 200: the server says this token still holds the lease."""
        claims = self.claims.get(ws, {})
        mine = claims.get(token)
        if mine is None:
            return
        if ws not in self.collaboration:
            for other_token, other in claims.items():
                if (
                    other_token != token
                    and other.generation > mine.generation
                    and other.granted_at < sent
                ):
                    self._violate(
                        "two-holders",
                        ws,
                        f"{mine.user}@{mine.server}'s token …{token[-6:]} (generation "
                        f"{mine.generation}) was renewed after {other.user}@{other.server} "
                        f"had been granted generation {other.generation}",
                    )
        mine.valid_until = max(mine.valid_until, expires_at)
        if mine.ended_at is not None and mine.ended_at < sent:
            self._violate(
                "renewed-after-end",
                ws,
                f"token …{token[-6:]} of {mine.user}@{mine.server} was renewed after it "
                "was closed or reported lost",
            )

    def ended(self, ws: str, token: str, at: float) -> None:
        """``close`` answered 204, or ``heartbeat`` answered LeaseLost."""
        claim = self.claims.get(ws, {}).get(token)
        if claim is not None and claim.ended_at is None:
            claim.ended_at = at
            claim.valid_until = min(claim.valid_until, at)

    def write_accepted(
        self, ws: str, user: str, server: str, path: str, why_not_holder: str
    ) -> None:
        """A write was acknowledged for a caller the soak knows holds no lease there."""
        self._violate(
            "write-without-lease", ws, f"{user}@{server} saved {path} but {why_not_holder}"
        )

    def saved(
        self, ws: str, path: str, version: str, server: str, user: str, generation: int, at: float
    ) -> None:
        self.versions[version] = Version(ws, path, server, user, generation, at, at)

    def removed(self, ws: str, path: str, generation: int, at: float, history: list[str]) -> None:
        """A delete (or the old side of a rename) answered 2xx."""
        self.removals.setdefault(ws, []).append(Removal(path, generation, at, history))

    def moved(
        self,
        ws: str,
        old: str,
        new: str,
        server: str,
        generation: int,
        at: float,
        history: list[str],
    ) -> None:
        """A rename answered 2xx: the old key may go, and the versions the file carries
        are owed again by the renaming server, under the new name."""
        self.removals.setdefault(ws, []).append(Removal(old, generation, at, []))
        for vid in history:
            v = self.versions.get(vid)
            if v is not None and v.workspace == ws:
                v.path, v.server, v.acked_at = new, server, max(v.acked_at, at)
                v.due, v.missing_since = False, None

    def flushed(self, ws: str, server: str, before: float) -> None:
        """The server reported nothing pending for ``ws`` while holding it: what it
        acknowledged before ``before`` has been written to the store (or fenced)."""
        for v in self.versions.values():
            if v.workspace == ws and v.server == server and v.acked_at < before:
                v.due = True

    def all_due(self) -> None:
        """After the final settle: every acknowledged save must be accounted for."""
        for v in self.versions.values():
            v.due = True

    # -- snapshots of the store -------------------------------------------------------
    def observe_lock(self, ws: str, doc: dict[str, Any] | None, sent: float) -> None:
        """The lock object as read by a GET sent at ``sent``."""
        if doc is None:
            if ws in self.store_generation:
                self._violate("lock-object-vanished", ws, "the lock object was deleted")
            return
        generation = int(doc.get("generation", 0))
        before = self.store_generation.get(ws)
        if before is not None and generation < before:
            self._violate(
                "generation-went-back", ws, f"lock object generation {generation} < {before}"
            )
        answered = [c.generation for c in self.claims.get(ws, {}).values() if c.granted_at < sent]
        if answered and generation < max(answered):
            self._violate(
                "generation-went-back",
                ws,
                f"lock object generation {generation} < {max(answered)} already granted",
            )
        self.store_generation[ws] = max(generation, before or 0)
        if ws in self.collaboration:
            return
        holders = doc.get("holders") or []
        spans = sorted((epoch(h["since"]), epoch(h["expires_at"]), h) for h in holders)
        for (_s1, e1, h1), (s2, _e2, h2) in itertools.pairwise(spans):
            if s2 < e1:
                self._violate(
                    "two-holders",
                    ws,
                    f"lock object (generation {generation}) lists {h1['user']}@"
                    f"{h1['server_id']} and {h2['user']}@{h2['server_id']} with overlapping "
                    "leases",
                )

    def observe_backups(self, ws: str, snapshot: dict[str, StoreObject]) -> None:
        """Every backup object of ``ws`` (relative path → object) at one moment."""
        before = self.objects.get(ws, {})
        tombs = self.tombstones.setdefault(ws, {})
        for rel, old in before.items():
            new = snapshot.get(rel)
            if new is None:
                self._gone(ws, rel, old)
            elif new.etag != old.etag and new.generation < old.generation:
                self._violate(
                    "older-generation-overwrote",
                    ws,
                    f"{rel}: written under generation {old.generation}, then overwritten "
                    f"under generation {new.generation}",
                )
        for rel, new in snapshot.items():
            dead = tombs.pop(rel, None)
            if rel not in before and dead is not None and new.generation < dead:
                self._violate(
                    "older-generation-resurrected",
                    ws,
                    f"{rel}: deleted under generation {dead}, then written again under "
                    f"generation {new.generation}",
                )
        self.objects[ws] = dict(snapshot)

    def _gone(self, ws: str, rel: str, old: StoreObject) -> None:
        if is_conflict_copy(rel):
            self._violate(
                "conflict-copy-deleted",
                ws,
                f"{rel} (generation {old.generation}) vanished; nothing deletes conflict copies",
            )
            return
        last = self.versions.get(old.history[-1]) if old.history else None
        written_after = last.saved_at if last else 0.0
        legit = [
            r
            for r in self.removals.get(ws, [])
            if r.path == rel and r.generation >= old.generation and r.at >= written_after
        ]
        if legit:
            self.tombstones.setdefault(ws, {})[rel] = max(r.generation for r in legit)
            return
        stale = [r.generation for r in self.removals.get(ws, []) if r.path == rel]
        self._violate(
            "older-generation-deleted",
            ws,
            f"{rel} (generation {old.generation}, last version "
            f"{old.history[-1] if old.history else '?'}) vanished; acknowledged deletes of "
            f"it were made under generations {stale or 'none'}",
        )

    def check_saves(self, now: float, grace: float) -> None:
        """Every due version is in some backup object's history or was deleted by a user.

        A version may be missing for a moment (a rename deletes the old key before it
        writes the new one): it is reported once it stays missing for ``grace`` seconds,
        and at once in the final check (``grace=0``)."""
        covered: dict[str, set[str]] = {}
        for ws, objs in self.objects.items():
            seen = covered.setdefault(ws, set())
            for obj in objs.values():
                seen.update(obj.history or ())
        for ws, removals in self.removals.items():
            seen = covered.setdefault(ws, set())
            for r in removals:
                seen.update(r.history)
        for vid, v in self.versions.items():
            if not v.due or v.reported:
                continue
            if vid in covered.get(v.workspace, set()):
                v.missing_since = None
                continue
            if v.missing_since is None:
                v.missing_since = now
            if now - v.missing_since >= grace:
                v.reported = True
                self._violate(
                    "save-missing",
                    v.workspace,
                    f"version {vid} of {v.path}, saved by {v.user}@{v.server} under "
                    f"generation {v.generation}, is in no backup object nor conflict copy "
                    "(and no user deleted it)",
                )

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.violations:
            out[v.kind] = out.get(v.kind, 0) + 1
        return out
