"""The lease lock: one editor at a time (or the listed collaborators), across servers.

One lock object per Workspace in the shared store:
``{"holders": [{user, server_id, token, since, expires_at}], "generation": n,
"renewing": {"token", "seconds"}}``. Acquire with a create-only write; renew, take over
an expired lease or release with a write conditioned on the ETag last seen. The
generation grows on every change of holders and is the fencing token backups carry. The
lock object is never deleted while its Workspace exists, so the generation never goes
back.

A renewal rewrites the same bytes (``If-Match``): the object's ``LastModified`` (the
store's clock) moves, its ETag (the MD5 of the bytes) does not. The ``renewing`` holder
is live until the later of its ``expires_at`` and ``LastModified + seconds``; the other
holders until their ``expires_at``, which the last writer fixed from what it read. So a
listing sees a renewal without reading the lock: the LIST it does anyway carries the
ETag (unchanged: the cached document still holds) and ``LastModified`` (the new expiry).

Expiry is judged by the store's clock (the ``Date`` of its answers), not by this
machine's clock alone, so a server with a skewed clock neither steals live leases nor
keeps dead ones. A ``LastModified`` later than the answer's own ``Date`` is impossible on
a sound store and is not believed (the holder's written ``expires_at`` stands): a broken
clock must not keep a dead lease alive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import Conflict, LeaseLost, WorkspaceInUse
from .layout import Layout
from .listing_index import ListingIndex
from .store import BlobStore, ObjectNotFound, PreconditionFailed

log = logging.getLogger(__name__)
#: How far a ``LastModified`` may run ahead of the same store's ``Date`` (clock jitter)
#: and still be believed.
LAST_MODIFIED_TOLERANCE = timedelta(seconds=2)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class StoreClock:
    """This machine's clock corrected by the offset the store's answers show."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def observe(self, store_time: datetime) -> None:
        # The Date header has one-second resolution; ignore sub-second jitter.
        offset = store_time - datetime.now(UTC)
        if abs(offset) > timedelta(seconds=1):
            self.offset = offset
        else:
            self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Holder:
    user: str
    server_id: str
    token: str
    since: str
    expires_at: str

    def expired(self, now: datetime) -> bool:
        return _parse(self.expires_at) <= now

    def public(self) -> dict[str, str]:
        return {"user": self.user, "since": self.since, "expires_at": self.expires_at}


@dataclass
class LockDoc:
    holders: list[Holder] = field(default_factory=list)
    generation: int = 0
    #: ``{"token", "seconds"}``: the holder whose renewals rewrite these same bytes; its
    #: lease runs until ``LastModified + seconds`` at least (see ``effective``).
    renewing: dict[str, Any] | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> LockDoc:
        return cls.from_json(json.loads(data))

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LockDoc:
        renewing = raw.get("renewing")
        return cls(
            holders=[Holder(**h) for h in raw.get("holders", [])],
            generation=int(raw.get("generation", 0)),
            renewing=dict(renewing) if isinstance(renewing, dict) else None,
        )

    def to_bytes(self) -> bytes:
        doc: dict[str, Any] = {
            "holders": [asdict(h) for h in self.holders],
            "generation": self.generation,
        }
        if self.renewing is not None:
            doc["renewing"] = self.renewing
        return json.dumps(doc, sort_keys=True).encode()

    def renewed_by(self, token: str) -> bool:
        return self.renewing is not None and self.renewing.get("token") == token

    def effective(self, last_modified: datetime | None, answered_at: datetime | None) -> LockDoc:
        """The document with the renewing holder's expiry moved to what the object's
        ``LastModified`` says (its renewals rewrote these bytes); the others as written.
        ``answered_at``: the store's ``Date`` of the answer that carried ``last_modified``."""
        r = self.renewing
        if r is None or last_modified is None:
            return self
        if answered_at is not None and last_modified > answered_at + LAST_MODIFIED_TOLERANCE:
            return self  # a LastModified in the store's future: not believed
        try:
            until = last_modified.astimezone(UTC) + timedelta(seconds=float(r["seconds"]))
        except (KeyError, TypeError, ValueError):
            return self
        holders = [
            dataclasses.replace(h, expires_at=_iso(max(_parse(h.expires_at), until)))
            if h.token == r.get("token")
            else h
            for h in self.holders
        ]
        return LockDoc(holders, self.generation, r)

    def live(self, now: datetime) -> list[Holder]:
        return [h for h in self.holders if not h.expired(now)]

    def public(self, now: datetime) -> dict[str, Any] | None:
        live = self.live(now)
        if not live:
            return None
        return {"holders": [h.public() for h in live], "generation": self.generation}


@dataclass(frozen=True)
class _Seen:
    raw: LockDoc
    etag: str
    effective: LockDoc


@dataclass(frozen=True)
class _Listed:
    """A lock document as a listing knows it: as stored, with the ``LastModified`` and
    the store's time of the answer that carried it."""

    etag: str
    raw: LockDoc
    last_modified: datetime | None
    answered: datetime | None

    def judged(self) -> LockDoc:
        return self.raw.effective(self.last_modified, self.answered)


@dataclass
class Lease:
    workspace_id: str
    user: str
    token: str
    generation: int
    since: str
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "generation": self.generation,
            "since": self.since,
            "expires_at": _iso(self.expires_at),
        }


class LeaseManager:
    """Acquires, renews and releases Workspace leases for the users of one server."""

    MAX_ATTEMPTS = 30

    def __init__(
        self,
        store: BlobStore,
        layout: Layout,
        server_id: str,
        lease_seconds: int,
        *,
        index: ListingIndex | None = None,
        listing_max_age: float = 0.0,
    ):
        self.store, self.layout = store, layout
        self.server_id = server_id
        self.lease = timedelta(seconds=lease_seconds)
        #: shared with the registry (``app.py``): a cold listing reads it once for both
        self.index = index or ListingIndex(store, layout)
        self.clock = StoreClock()
        #: Leases this server holds: workspace id → user → Lease (no I/O to consult).
        #: A lease leaves it when it is released, lost, or expires (see ``_drop_expired``).
        self.held: dict[str, dict[str, Lease]] = {}
        #: Why this server last lost a Workspace's lease (expired, taken over): what the
        #: backup status reports, until the Workspace is opened here again.
        self.lost: dict[str, str] = {}
        #: Last lock document seen per Workspace, as stored (``raw``: a renewal rewrites
        #: these bytes) and as judged (``effective``), with its ETag: a heartbeat then
        #: costs one PUT.
        self._seen: dict[str, _Seen] = {}
        #: The listing's lock documents, fed by LISTs and by this server's own reads and
        #: writes: key → what was known, and when (monotonic) this server learnt it.
        self._list_cache: dict[str, _Listed] = {}
        self._known_at: dict[str, float] = {}
        #: ``states`` answers from memory while its last LIST is younger than this (s)
        #: and no lease it shows may have run out since.
        self.listing_max_age = listing_max_age
        self._listed: tuple[float, datetime] | None = None  # (sent, monotonic; answered)

    def _learn(self, workspace_id: str, entry: _Listed | None) -> None:
        key = self.layout.lock(workspace_id)
        if entry is None:
            self._list_cache.pop(key, None)
        else:
            self._list_cache[key] = entry
        self._known_at[key] = time.monotonic()

    # -- reading ----------------------------------------------------------------------
    async def _read(self, workspace_id: str) -> tuple[LockDoc | None, str | None]:
        """The lock as judged now (``effective``) and its ETag; None when there is none."""
        try:
            blob = await self.store.get(self.layout.lock(workspace_id))
        except ObjectNotFound:
            self._seen.pop(workspace_id, None)
            self._learn(workspace_id, None)
            return None, None
        self.clock.observe(blob.store_time)
        raw = LockDoc.from_bytes(blob.data)
        doc = raw.effective(blob.last_modified, blob.store_time)
        self._seen[workspace_id] = _Seen(raw, blob.etag, doc)
        self._learn(workspace_id, _Listed(blob.etag, raw, blob.last_modified, blob.store_time))
        return doc, blob.etag

    async def _write(
        self, workspace_id: str, doc: LockDoc, etag: str | None, sent: datetime
    ) -> None:
        """Write ``doc`` (as stored) conditionally; ``sent``: the store's time just before
        the request, a lower bound of the new ``LastModified``."""
        key = self.layout.lock(workspace_id)
        if etag is None:
            result = await self.store.put(key, doc.to_bytes(), if_none_match=True)
        else:
            result = await self.store.put(key, doc.to_bytes(), if_match=etag)
        self.clock.observe(result.store_time)
        self._seen[workspace_id] = _Seen(doc, result.etag, doc.effective(sent, None))
        self._learn(workspace_id, _Listed(result.etag, doc, sent, None))

    async def state(self, workspace_id: str) -> dict[str, Any] | None:
        """Live holders (without tokens) and the generation, or None when free."""
        doc, _ = await self._read(workspace_id)
        return doc.public(self.clock.now()) if doc else None

    async def states(self, max_age: float | None = None) -> dict[str, dict[str, Any] | None]:
        """Every Workspace's lock state. One LIST when no holders changed since the last
        call, whatever the number of leases: renewals leave the ETags alone and their
        expiry is in the LIST's ``LastModified``. Changed locks are read by GET (or from
        the listing index when many changed, as on a cold start).

        Within ``max_age`` (default: ``listing_max_age``) of the last LIST, no request,
        unless a lease it showed has run out since: it may have been renewed after that
        LIST, so the LIST is done again before showing it free."""
        started = time.monotonic()
        limit = self.listing_max_age if max_age is None else max_age
        if self._listed is not None and started - self._listed[0] < limit:
            if not self._ran_out_since(self._listed[1]):
                return self._states()
        prefix = self.layout.locks_prefix
        infos, answered = await self.store.list_at(prefix)
        self.clock.observe(answered)
        # what this server read or wrote since the LIST was sent is newer than it
        newer = {k for k, at in self._known_at.items() if at >= started}
        infos = [i for i in infos if Layout.workspace_id_of(i.key) and i.key not in newer]
        listed = {i.key for i in infos} | newer
        for key in list(self._list_cache):
            if key not in listed:
                del self._list_cache[key]
        fetched = await self.index.resolve(
            infos,
            lambda key, etag: key in self._list_cache and self._list_cache[key].etag == etag,
            prefix=prefix,
            started=started,
        )
        modified = {i.key: i.last_modified for i in infos}
        for info in infos:
            entry = self._list_cache.get(info.key)
            if entry is not None and entry.etag == info.etag:
                self._list_cache[info.key] = dataclasses.replace(
                    entry, last_modified=info.last_modified, answered=answered
                )
        for key, f in fetched.items():
            try:
                raw = LockDoc.from_json(f.body)
            except (TypeError, ValueError, AttributeError) as e:
                log.warning("%s is not a lock document: %s", key, e)
                continue
            if f.last_modified is not None:  # read after the LIST: its own times
                self._list_cache[key] = _Listed(f.etag, raw, f.last_modified, f.store_time)
            else:
                self._list_cache[key] = _Listed(f.etag, raw, modified[key], answered)
        self._known_at = {k: at for k, at in self._known_at.items() if at >= started}
        if self._listed is None or started > self._listed[0]:
            self._listed = (started, answered)
        return self._states()

    def _ran_out_since(self, since: datetime) -> bool:
        """Whether a lease the cache shows ran out after ``since`` (store time)."""
        now = self.clock.now()
        for entry in self._list_cache.values():
            for holder in entry.judged().holders:
                if since < _parse(holder.expires_at) <= now:
                    return True
        return False

    def _states(self) -> dict[str, dict[str, Any] | None]:
        now = self.clock.now()
        out: dict[str, dict[str, Any] | None] = {}
        for key, entry in self._list_cache.items():
            wid = Layout.workspace_id_of(key)
            if wid:
                out[wid] = entry.judged().public(now)
        return out

    # -- changing ---------------------------------------------------------------------
    async def acquire(
        self, workspace_id: str, user: str, *, shared: bool, may_share: bool
    ) -> Lease:
        """Take the lease for ``user`` on this server.

        ``shared``: the Workspace is in collaboration mode; ``may_share``: the user is its
        owner or a listed collaborator. Opening twice is idempotent (same token).
        """
        for attempt in range(self.MAX_ATTEMPTS):
            doc, etag = await self._read(workspace_id)
            now = self.clock.now()
            doc = doc or LockDoc()
            live = doc.live(now)
            mine = next((h for h in live if h.user == user and h.server_id == self.server_id), None)
            # The same user on another server (a restarted server has a new random id, or
            # the user moved to another server): taken over at once. The new generation
            # fences that server: its later backups and deletes are refused.
            moved = [h for h in live if h.user == user and h is not mine]
            others = [h for h in live if h.user != user]
            if mine is None and others and not (shared and may_share):
                raise self._in_use(workspace_id, others[0], user)
            live = [h for h in live if h not in moved]
            if mine is not None:
                mine = dataclasses.replace(mine, expires_at=_iso(now + self.lease))
                live = [mine if h.token == mine.token else h for h in live]
                holder = mine
                changed = len(live) != len(doc.holders) or bool(moved)
            else:
                holder = Holder(
                    user=user,
                    server_id=self.server_id,
                    token=secrets.token_urlsafe(24),
                    since=_iso(now),
                    expires_at=_iso(now + self.lease),
                )
                live.append(holder)
                changed = True
            new = LockDoc(
                holders=live,
                generation=doc.generation + (1 if changed else 0),
                renewing=self._renewing(holder.token),
            )
            offset = self.clock.offset
            try:
                await self._write(workspace_id, new, etag, now)
            except PreconditionFailed:
                await asyncio.sleep(random.uniform(0, 0.02 * min(attempt + 1, 10)))
                continue
            shift = self.clock.offset - offset
            if abs(shift) > timedelta(seconds=2):  # beyond the Date header's jitter
                # The write was our first word from the store's clock (a new lock: nothing
                # was read before it) and ours is off: restate the lease in the store's
                # time, or a slow clock would create a lease others see as expired.
                if mine is None:
                    holder.since = _iso(_parse(holder.since) + shift)
                holder.expires_at = _iso(_parse(holder.expires_at) + shift)
                try:
                    await self._write(
                        workspace_id, new, self._seen[workspace_id].etag, self.clock.now()
                    )
                except PreconditionFailed:
                    continue
            return self._remember(workspace_id, holder, new.generation)
        raise Conflict(f"Could not take the lock of {workspace_id}: too much contention; retry")

    def _renewing(self, token: str) -> dict[str, Any]:
        return {"token": token, "seconds": self.lease.total_seconds()}

    def _in_use(self, workspace_id: str, holder: Holder, user: str) -> WorkspaceInUse:
        who = "you, on another server" if holder.user == user else holder.user
        return WorkspaceInUse(
            f"Workspace {workspace_id} is open for editing by {who} since {holder.since}; "
            "open it read-only, ask them to close it, or wait until the lease expires at "
            f"{holder.expires_at}",
            holder={"user": holder.user, "since": holder.since, "expires_at": holder.expires_at},
        )

    def _remember(self, workspace_id: str, holder: Holder, generation: int) -> Lease:
        lease = Lease(
            workspace_id=workspace_id,
            user=holder.user,
            token=holder.token,
            generation=generation,
            since=holder.since,
            expires_at=_parse(holder.expires_at),
        )
        self.held.setdefault(workspace_id, {})[holder.user] = lease
        self.lost.pop(workspace_id, None)
        return lease

    def _drop(self, workspace_id: str, user: str, why: str) -> None:
        by_user = self.held.get(workspace_id, {})
        if by_user.pop(user, None) is not None:
            self.lost[workspace_id] = why
            log.warning("lease of %s on %s dropped: %s", user, workspace_id, why)
        if not by_user:
            self.held.pop(workspace_id, None)

    def _drop_expired(self) -> None:
        """Leases whose time is up (in the store's time) are no longer held: a server cut
        off from the store stops backing up and deleting once its lease runs out, even if
        no heartbeat came to tell it."""
        now = self.clock.now()
        for workspace_id, by_user in list(self.held.items()):
            for user, lease in list(by_user.items()):
                if lease.expires_at <= now:
                    self._drop(
                        workspace_id,
                        user,
                        f"the lease of {user} expired at {_iso(lease.expires_at)} without a "
                        "renewal; changes made since stay on this server and are backed up "
                        "when the Workspace is opened here again",
                    )

    def _forget(self, workspace_id: str, token: str) -> None:
        by_user = self.held.get(workspace_id, {})
        for user, lease in list(by_user.items()):
            if lease.token == token:
                del by_user[user]
        if not by_user:
            self.held.pop(workspace_id, None)

    async def renew(self, workspace_id: str, token: str) -> Lease:
        """Extend a lease; LeaseLost when it was released or taken over.

        The renewing holder rewrites the bytes it last saw (one PUT, ``If-Match``): only
        ``LastModified`` moves. Any other holder first reads the lock (the renewing
        holder's expiry is in its ``LastModified``) and writes it with itself renewing.
        """
        cached = self._seen.get(workspace_id)
        for attempt in range(self.MAX_ATTEMPTS):
            fresh = cached is None
            seen = cached
            if seen is None:
                await self._read(workspace_id)
                seen = self._seen.get(workspace_id)
            cached = None
            if seen is None:
                break
            holder = next((h for h in seen.effective.holders if h.token == token), None)
            if holder is None:
                break
            now = self.clock.now()
            renewed = dataclasses.replace(holder, expires_at=_iso(now + self.lease))
            if seen.raw.renewing == self._renewing(token):
                new = seen.raw  # the same bytes: the ETag stays, LastModified moves
            elif not fresh:
                continue  # read first: the renewing holder's expiry is in LastModified
            else:
                new = LockDoc(
                    holders=[renewed if h.token == token else h for h in seen.effective.holders],
                    generation=seen.raw.generation,
                    renewing=self._renewing(token),
                )
            try:
                await self._write(workspace_id, new, seen.etag, now)
            except PreconditionFailed:
                await asyncio.sleep(random.uniform(0, 0.01 * min(attempt + 1, 10)))
                continue
            return self._remember(workspace_id, renewed, new.generation)
        else:
            raise Conflict(f"Could not renew the lease of {workspace_id}: contention; retry")
        self._forget(workspace_id, token)
        current, _ = await self._read(workspace_id)
        now_holders = current.live(self.clock.now()) if current else []
        by = f" by {now_holders[0].user}" if now_holders else ""
        self.lost[workspace_id] = (
            f"the lease was released or taken over{by}; this server's later backups and "
            "deletes are refused; reopen the Workspace here to back up what changed since"
        )
        raise LeaseLost(
            f"Your lease on Workspace {workspace_id} was released or taken over{by}; "
            "reopen the Workspace to keep editing (your unsaved changes are still in the "
            "browser; save them as a copy)",
            holder=now_holders[0].public() if now_holders else None,
        )

    async def release(self, workspace_id: str, token: str) -> bool:
        """Give a lease up; True if it was still held."""
        self._forget(workspace_id, token)
        for attempt in range(self.MAX_ATTEMPTS):
            doc, etag = await self._read(workspace_id)
            if doc is None or not any(h.token == token for h in doc.holders):
                return False
            new = LockDoc(
                holders=[h for h in doc.holders if h.token != token],
                generation=doc.generation + 1,
            )
            try:
                await self._write(workspace_id, new, etag, self.clock.now())
                return True
            except PreconditionFailed:
                await asyncio.sleep(random.uniform(0, 0.01 * min(attempt + 1, 10)))
        return False

    async def force_release(self, workspace_id: str) -> int:
        """Drop every holder (admin action); returns the new generation."""
        self.held.pop(workspace_id, None)
        for attempt in range(self.MAX_ATTEMPTS):
            doc, etag = await self._read(workspace_id)
            if doc is None:
                return 0
            new = LockDoc(holders=[], generation=doc.generation + 1)
            try:
                await self._write(workspace_id, new, etag, self.clock.now())
                return new.generation
            except PreconditionFailed:
                await asyncio.sleep(random.uniform(0, 0.01 * min(attempt + 1, 10)))
        raise Conflict(f"Could not release the lock of {workspace_id}: contention; retry")

    async def delete(self, workspace_id: str) -> None:
        """Remove the lock object with its Workspace."""
        self.held.pop(workspace_id, None)
        self._seen.pop(workspace_id, None)
        await self.store.delete(self.layout.lock(workspace_id))
        self._learn(workspace_id, None)

    async def release_all(self) -> None:
        """On shutdown: give up every lease this server holds."""
        for workspace_id, by_user in list(self.held.items()):
            for lease in list(by_user.values()):
                try:
                    await self.release(workspace_id, lease.token)
                except Exception as e:  # a dead store must not block shutdown
                    log.warning("could not release lease on %s: %s", workspace_id, e)

    # -- queries without I/O (the authorizer's) -------------------------------------------
    def lease_for(self, workspace_id: str, user: str) -> Lease | None:
        lease = self.held.get(workspace_id, {}).get(user)
        if lease is None or lease.expires_at <= self.clock.now():
            return None
        return lease

    def last_known_state(self, workspace_id: str) -> dict[str, Any] | None:
        """The lock state as of the last document seen (no I/O): right after this server
        wrote it, it is the current one."""
        seen = self._seen.get(workspace_id)
        return seen.effective.public(self.clock.now()) if seen else None

    def last_known_holder(self, workspace_id: str) -> dict[str, str] | None:
        """The first live holder in the last lock document seen, for error messages."""
        seen = self._seen.get(workspace_id)
        live = seen.effective.live(self.clock.now()) if seen else []
        return live[0].public() if live else None

    def holds(self, workspace_id: str, user: str) -> bool:
        return self.lease_for(workspace_id, user) is not None

    def held_workspaces(self) -> list[str]:
        """Workspaces with at least one unexpired lease on this server."""
        self._drop_expired()
        return list(self.held)

    def held_users(self, workspace_id: str) -> list[str]:
        self._drop_expired()
        return sorted(self.held.get(workspace_id, {}))

    def generation(self, workspace_id: str, *, margin: float = 0.0) -> int | None:
        """The newest generation this server holds for a Workspace (the fencing token),
        or None when no lease on it is live, or none will be for ``margin`` more seconds
        (in the store's time): a write must not start under a lease about to run out."""
        self._drop_expired()
        leases = self.held.get(workspace_id)
        if not leases:
            return None
        limit = self.clock.now() + timedelta(seconds=margin)
        live = [lease.generation for lease in leases.values() if lease.expires_at > limit]
        return max(live) if live else None

    async def verify(self, workspace_id: str) -> int | None:
        """Read the lock and check that a lease of this server is still in it and live:
        before destructive work (deletes), a lease that was taken over or released by an
        admin is dropped here and None is returned. Raises StoreError when unreachable."""
        if not self.held.get(workspace_id):
            return self.generation(workspace_id)
        doc, _ = await self._read(workspace_id)
        now = self.clock.now()
        live = {h.token for h in doc.live(now)} if doc else set()
        holder = doc.live(now)[0].user if doc and doc.live(now) else None
        for user, lease in list(self.held.get(workspace_id, {}).items()):
            if lease.token not in live:
                by = f" by {holder}" if holder else ""
                self._drop(
                    workspace_id,
                    user,
                    f"the lease of {user} was taken over{by} or released; this server's "
                    "later backups and deletes are refused; reopen the Workspace here to "
                    "back up what changed since",
                )
        return self.generation(workspace_id)
