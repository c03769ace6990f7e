"""What a listing (``GET /workspaces``: the registry's list and the lock states) costs in
S3 requests, and that it stays right: counted against moto over HTTP.

A renewal rewrites the lock's bytes, so its ETag stays and only ``LastModified`` moves:
a warm refresh is two LISTs whatever the number of open leases, and still shows when a
lease ran out. A cold listing reads the Studio's listing index instead of one object per
Workspace, and stays right when the index is missing, stale or corrupt, and when two
servers create, rename and delete at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_bucket
from emrws_testing.moto_servers import MotoHttp, client

from jupyter_emr_workspace.layout import Layout
from jupyter_emr_workspace.leases import Holder, LeaseManager, LockDoc
from jupyter_emr_workspace.listing_index import ListingIndex
from jupyter_emr_workspace.store import BlobStore
from jupyter_emr_workspace.store.local import LocalStore
from jupyter_emr_workspace.store.s3 import S3Store
from jupyter_emr_workspace.workspace_registry import WorkspaceRegistry

STUDIO = "es-cost"


@dataclass
class Server:
    """What one server builds (``app.build_services``): one store, one shared index."""

    store: BlobStore
    registry: WorkspaceRegistry
    leases: LeaseManager

    async def listing(self) -> tuple[list[Any], dict[str, Any]]:
        return await asyncio.gather(self.registry.list(), self.leases.states())

    def count(self) -> Counter[str]:
        return Counter(self.store.requests)


def server(store: BlobStore, name: str, lease_seconds: int = 90, max_age: float = 0) -> Server:
    """As ``app.build_services`` wires them (``max_age``: ``c.Studio.listing_max_age``)."""
    layout = Layout(STUDIO)
    index = ListingIndex(store, layout)
    return Server(
        store,
        WorkspaceRegistry(store, layout, STUDIO, index=index, max_age=max_age),
        LeaseManager(store, layout, name, lease_seconds, index=index, listing_max_age=max_age / 2),
    )


@pytest.fixture
def s3_uri(moto_serial: MotoHttp) -> str:
    return f"s3://{make_bucket(moto_serial.url)}/studio"


@pytest.fixture
def servers(moto_serial: MotoHttp, s3_uri: str) -> Iterator[Any]:
    """A factory of servers, each with its own S3Store (and request counters)."""
    made: list[S3Store] = []

    def make(name: str, lease_seconds: int = 90, max_age: float = 0) -> Server:
        store = S3Store(client(moto_serial.url, "s3"), s3_uri)
        made.append(store)
        return server(store, name, lease_seconds, max_age)

    yield make
    for store in made:
        store._executor.shutdown(wait=False)


def delta(before: Counter[str], s: Server) -> dict[str, int]:
    return {k: v for k, v in (s.count() - before).items() if v}


async def test_a_warm_refresh_costs_two_lists_whatever_the_open_leases(servers: Any) -> None:
    """30 Workspaces, 20 open on 20 servers that keep renewing: a warm refresh is the two
    LISTs, no GET (before: one GET per renewed lock), and shows every holder."""
    owner = servers("owner")
    ids = [(await owner.registry.create(f"ws-{i:02d}", "owner")).id for i in range(30)]
    holders = [servers(f"holder{i}") for i in range(20)]
    leases = [
        await h.leases.acquire(wid, f"user{i}", shared=False, may_share=False)
        for i, (h, wid) in enumerate(zip(holders, ids, strict=False))
    ]
    panel = servers("panel")
    await panel.listing()  # cold: fills the panel's cache

    for h, lease in zip(holders, leases, strict=True):  # a round of heartbeats
        before = h.count()
        await h.leases.renew(lease.workspace_id, lease.token)
        assert delta(before, h) == {"put_object": 1}  # a heartbeat is still one PUT

    before = panel.count()
    workspaces, locks = await panel.listing()
    assert delta(before, panel) == {"list_objects_v2": 2}
    assert sorted(ws.id for ws in workspaces) == sorted(ids)
    for i, wid in enumerate(ids[:20]):
        assert [h["user"] for h in locks[wid]["holders"]] == [f"user{i}"]
    # and the listing agrees with a read of each lock
    for wid in ids[:20]:
        assert locks[wid] == await owner.leases.state(wid)


async def test_a_listing_sees_a_renewal_and_an_expiry_without_reading_the_lock(
    servers: Any,
) -> None:
    """The lease's expiry comes from the lock's LastModified in the LIST: a warm refresh
    shows a renewed lease held (its new expiry) and, once it ran out, free; no GET."""
    owner = servers("owner")
    wid = (await owner.registry.create("short", "owner")).id
    holder = servers("holder", lease_seconds=2)
    lease = await holder.leases.acquire(wid, "alice", shared=False, may_share=False)
    panel = servers("panel")
    first = (await panel.listing())[1][wid]
    assert first is not None

    await asyncio.sleep(1.1)  # LastModified has one-second resolution on S3
    lease = await holder.leases.renew(wid, lease.token)
    renewed_at = time.time()
    before = panel.count()
    held = (await panel.listing())[1][wid]
    assert held is not None and held["holders"][0]["expires_at"] > first["holders"][0]["expires_at"]
    assert held["generation"] == first["generation"]

    # no more heartbeats: once the lease time has passed since the renewal, it is free
    await asyncio.sleep(max(0.0, renewed_at + 2.05 - time.time()))
    assert (await panel.listing())[1][wid] is None
    assert delta(before, panel) == {"list_objects_v2": 4}
    # a lock operation agrees: bob may open it now
    bob = servers("bob-server")
    assert (await bob.leases.acquire(wid, "bob", shared=False, may_share=False)).generation == 2


async def test_a_cold_listing_reads_the_index_not_each_workspace(servers: Any) -> None:
    """A new server's first listing of 60 Workspaces (40 open) reads the index once:
    2 LISTs + 1 GET (before: 2 + 60 + 40)."""
    owner = servers("owner")
    ids = [(await owner.registry.create(f"ws-{i:02d}", "owner")).id for i in range(60)]
    holder = servers("holder")
    for i, wid in enumerate(ids[:40]):
        await holder.leases.acquire(wid, f"user{i}", shared=False, may_share=False)
    # lock writes do not touch the index (a heartbeat stays one PUT): the first cold
    # listing after these opens reads the locks and repairs the index
    first = servers("first")
    before = first.count()
    await first.listing()
    assert delta(before, first) == {"list_objects_v2": 2, "get_object": 41, "put_object": 1}

    cold = servers("cold")
    before = cold.count()
    workspaces, locks = await cold.listing()
    assert delta(before, cold) == {"list_objects_v2": 2, "get_object": 1}
    assert sorted(ws.id for ws in workspaces) == sorted(ids)
    assert sum(1 for wid in ids if locks.get(wid)) == 40


@pytest.mark.parametrize("damage", ["missing", "corrupt", "stale"])
async def test_a_cold_listing_is_right_when_the_index_is_missing_corrupt_or_stale(
    servers: Any, damage: str
) -> None:
    owner = servers("owner")
    ids = [(await owner.registry.create(f"ws-{i}", "owner")).id for i in range(8)]
    await owner.listing()
    key = Layout(STUDIO).index
    if damage == "missing":
        await owner.store.delete(key)
    elif damage == "corrupt":
        await owner.store.put(key, b"{not json")
    else:  # the index as it was before a rename and a delete by a server that died
        stale = await owner.store.get(key)
        renamed = await owner.registry.update(ids[0], lambda ws: setattr(ws, "name", "renamed"))
        await owner.registry.delete(await owner.registry.get(ids[1]))
        await owner.store.put(key, stale.data)
        assert renamed.name == "renamed"

    cold = servers("cold")
    workspaces, _ = await cold.listing()
    names = {ws.id: ws.name for ws in workspaces}
    expected = {ws.id: ws.name for ws in [await owner.registry.get(w) for w in ids[2:]]}
    if damage == "stale":
        expected[ids[0]] = "renamed"
    else:
        expected.update({ids[0]: "ws-0", ids[1]: "ws-1"})
    assert names == expected
    # the listing repaired the index: the next cold listing reads only it
    again = servers("again")
    before = again.count()
    assert {ws.id: ws.name for ws in (await again.listing())[0]} == expected
    assert delta(before, again) == {"list_objects_v2": 2, "get_object": 1}


async def test_two_servers_creating_renaming_and_deleting_at_once_list_each_workspace_once(
    servers: Any,
) -> None:
    """Two servers on one S3 write metadata and the index at the same time; afterwards
    every Workspace is listed exactly once with its last name, by a cold server and by
    both writers."""
    a, b = servers("a"), servers("b")
    kept_a = [await a.registry.create(f"a-{i}", "alice") for i in range(6)]
    kept_b = [await b.registry.create(f"b-{i}", "bob") for i in range(6)]

    async def create(s: Server, prefix: str) -> list[str]:
        return [(await s.registry.create(f"{prefix}-{i}", "u")).id for i in range(8)]

    async def rename(s: Server, workspaces: list[Any], tag: str) -> None:
        for ws in workspaces:
            await s.registry.update(ws.id, lambda w, tag=tag: setattr(w, "name", f"{w.name}-{tag}"))

    async def delete(s: Server, workspaces: list[Any]) -> None:
        for ws in workspaces:
            await s.registry.delete(ws)

    created_a, created_b, *_ = await asyncio.gather(
        create(a, "new-a"),
        create(b, "new-b"),
        rename(a, kept_b[:3], "by-a"),  # each renames the other's
        rename(b, kept_a[:3], "by-b"),
        delete(a, kept_b[3:5]),  # and deletes some of them
        delete(b, kept_a[3:5]),
    )
    expected = {
        **{ws.id: f"{ws.name}-by-b" for ws in kept_a[:3]},
        **{ws.id: f"{ws.name}-by-a" for ws in kept_b[:3]},
        kept_a[5].id: kept_a[5].name,
        kept_b[5].id: kept_b[5].name,
        **{wid: f"new-a-{i}" for i, wid in enumerate(created_a)},
        **{wid: f"new-b-{i}" for i, wid in enumerate(created_b)},
    }
    for s in (servers("cold"), a, b):
        listed = (await s.listing())[0]
        assert len(listed) == len({ws.id for ws in listed})  # each once
        assert {ws.id: ws.name for ws in listed} == expected
    # the writers kept the index whole: a cold listing needs nothing else
    cold = servers("cold2")
    before = cold.count()
    assert {ws.id: ws.name for ws in (await cold.listing())[0]} == expected
    assert delta(before, cold) == {"list_objects_v2": 2, "get_object": 1}


# -- refreshes within c.Studio.listing_max_age ----------------------------------------------
async def test_a_refresh_within_the_max_age_costs_nothing_and_shows_this_servers_changes(
    servers: Any,
) -> None:
    """The panel's refreshes reuse the last listing for ``listing_max_age``; what this
    server itself creates, renames, deletes, opens and closes shows at once."""
    me = servers("me", max_age=120)
    other = servers("other")
    theirs = await other.registry.create("theirs", "bob")
    await me.listing()
    before = me.count()
    mine = await me.registry.create("mine", "alice")
    gone = await me.registry.create("gone", "alice")
    writes = me.count() - before
    workspaces, locks = await me.listing()
    assert me.count() - before == writes  # the refresh itself: no request
    assert {ws.name for ws in workspaces} == {"theirs", "mine", "gone"}

    lease = await me.leases.acquire(mine.id, "alice", shared=False, may_share=False)
    await me.registry.update(mine.id, lambda ws: setattr(ws, "name", "renamed"))
    await me.registry.delete(gone)
    before = me.count()
    workspaces, locks = await me.listing()
    assert me.count() == before
    assert {ws.name for ws in workspaces} == {"theirs", "renamed"}
    assert [h["user"] for h in locks[mine.id]["holders"]] == ["alice"]
    assert locks.get(theirs.id) is None
    await me.leases.release(mine.id, lease.token)
    assert (await me.listing())[1][mine.id] is None and me.count() == before + Counter(
        {"get_object": 1, "put_object": 1}
    )

    # another server's change shows once the max age has passed (here: forced to 0)
    await other.registry.update(theirs.id, lambda ws: setattr(ws, "name", "theirs-2"))
    assert "theirs-2" not in {ws.name for ws in (await me.listing())[0]}
    assert "theirs-2" in {ws.name for ws in await me.registry.list(max_age=0)}


async def test_a_lease_that_may_have_been_renewed_is_listed_again_before_it_is_shown_free(
    servers: Any,
) -> None:
    """From memory, a lease whose time ran out since the last LIST may have been renewed
    after it: the refresh lists the locks again (one LIST) rather than show it free; a
    lease that really ran out then shows free."""
    owner = servers("owner")
    wid = (await owner.registry.create("w", "owner")).id
    holder = servers("holder", lease_seconds=2)
    lease = await holder.leases.acquire(wid, "alice", shared=False, may_share=False)
    panel = servers("panel", max_age=600)
    assert (await panel.listing())[1][wid] is not None
    deadline = time.time() + 3.5
    while time.time() < deadline:  # alice keeps renewing; the panel keeps showing her
        await asyncio.sleep(0.5)
        lease = await holder.leases.renew(wid, lease.token)
        assert (await panel.listing())[1][wid] is not None
    assert panel.count()["list_objects_v2"] > 2  # it had to list the locks again
    renewed_at = time.time()
    await asyncio.sleep(max(0.0, renewed_at + 2.05 - time.time()))
    before = panel.count()
    assert (await panel.listing())[1][wid] is None
    assert delta(before, panel) == {"list_objects_v2": 1}  # the locks only


async def test_get_workspaces_shows_another_servers_change_when_asked_fresh(
    api: Any, studio_config: dict[str, Any]
) -> None:
    """As installed (``listing_max_age`` 120 s), the panel's refreshes reuse the last
    listing; ``GET /workspaces?fresh=true`` (the refresh button) lists the store now."""
    assert (await api("GET", "workspaces")).json["workspaces"] == []
    studio = studio_config["id"]  # another server on the same store
    other = WorkspaceRegistry(LocalStore(studio_config["backup_uri"]), Layout(studio), studio)
    await other.create("made-elsewhere", "bob")
    assert (await api("GET", "workspaces")).json["workspaces"] == []  # within the max age
    fresh = (await api("GET", "workspaces", params={"fresh": "true"})).json["workspaces"]
    assert [w["name"] for w in fresh] == ["made-elsewhere"]
    bad = await api("GET", "workspaces", params={"fresh": "maybe"})
    assert bad.code == 400 and "fresh" in bad.error["message"]


# -- the lock's expiry from LastModified: units ------------------------------------------
def _doc(expires: datetime) -> LockDoc:
    h = Holder("alice", "A", "tok", "2026-01-01T00:00:00.000Z", expires.isoformat())
    return LockDoc([h], 3, {"token": "tok", "seconds": 90.0})


def test_a_renewed_lease_runs_from_its_last_modified() -> None:
    t = datetime(2026, 1, 1, 12, tzinfo=UTC)
    doc = _doc(t).effective(t + timedelta(minutes=5), t + timedelta(minutes=5))
    assert doc.live(t + timedelta(minutes=6)) and not doc.live(t + timedelta(minutes=7))


def test_a_last_modified_ahead_of_the_stores_date_does_not_keep_a_lease_alive() -> None:
    """A LastModified in the future of the same answer's Date is impossible on a sound
    store: believing it would keep a dead lease held; the written expiry stands."""
    t = datetime(2026, 1, 1, 12, tzinfo=UTC)
    doc = _doc(t).effective(t + timedelta(hours=1), t + timedelta(seconds=10))
    assert not doc.live(t + timedelta(seconds=10))


def test_only_the_renewing_holder_is_extended_by_last_modified() -> None:
    t = datetime(2026, 1, 1, 12, tzinfo=UTC)
    other = Holder("bob", "B", "other", "2026-01-01T00:00:00.000Z", t.isoformat())
    doc = _doc(t)
    doc.holders.append(other)
    later = t + timedelta(minutes=1)
    assert [h.user for h in doc.effective(later, later).live(later)] == ["alice"]


# -- the local folder store does the same ------------------------------------------------
async def test_local_store_rewriting_identical_bytes_keeps_the_etag_and_moves_last_modified(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path)
    first = await store.put("locks/x.json", b'{"a": 1}')
    info = (await store.list("locks/"))[0]
    await asyncio.sleep(0.02)
    again = await store.put("locks/x.json", b'{"a": 1}', if_match=first.etag)
    after = (await store.list("locks/"))[0]
    assert again.etag == first.etag == after.etag
    assert after.last_modified is not None and info.last_modified is not None
    assert after.last_modified > info.last_modified
    changed = await store.put("locks/x.json", b'{"a": 2}', if_match=again.etag)
    assert changed.etag != first.etag
    # an object with metadata (a backup) keeps a per-version ETag
    b1 = await store.put("ws/f", b"x", metadata={"generation": "1"})
    b2 = await store.put("ws/f", b"x", metadata={"generation": "1"})
    assert b1.etag != b2.etag and (await store.head("ws/f")).etag == b2.etag


async def test_local_store_warm_refresh_is_two_lists(tmp_path: Path) -> None:
    owner, holder = server(LocalStore(tmp_path), "o"), server(LocalStore(tmp_path), "h")
    ids = [(await owner.registry.create(f"ws-{i}", "owner")).id for i in range(5)]
    leases = [await holder.leases.acquire(w, "alice", shared=False, may_share=False) for w in ids]
    panel = server(LocalStore(tmp_path), "p")
    await panel.listing()
    for lease in leases:
        await holder.leases.renew(lease.workspace_id, lease.token)
    before = panel.count()
    _, locks = await panel.listing()
    assert delta(before, panel) == {"list": 2}
    assert all(locks[w] for w in ids)


def test_the_index_object_is_plain_json(tmp_path: Path) -> None:
    """Admins may read (or delete) it: a format number and the objects by key."""

    async def go() -> dict[str, Any]:
        s = server(LocalStore(tmp_path), "o")
        ws = await s.registry.create("one", "owner")
        data = json.loads((tmp_path / Layout(STUDIO).index).read_bytes())
        assert data["objects"][Layout(STUDIO).workspace(ws.id)]["body"]["name"] == "one"
        return data

    assert asyncio.run(go())["format"] == 1
