"""The store contract, run against both stores (local folder and S3 on moto over HTTP),
and the lease manager on top of it, including clock skew judged by the store's clock."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.config
import pytest
from conftest import make_bucket
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.servers import free_port

from jupyter_emr_workspace.errors import LeaseLost, WorkspaceInUse
from jupyter_emr_workspace.layout import Layout
from jupyter_emr_workspace.leases import LeaseManager
from jupyter_emr_workspace.store import (
    BlobStore,
    ObjectNotFound,
    PreconditionFailed,
    StoreUnavailable,
)
from jupyter_emr_workspace.store.local import LocalStore
from jupyter_emr_workspace.store.s3 import S3Store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
        return
    moto: MotoHttp = request.getfixturevalue("moto")
    s3 = S3Store(client(moto.url, "s3"), f"s3://{make_bucket(moto.url)}/prefix")
    yield s3
    s3._executor.shutdown(wait=False)


async def test_put_get_head_list_delete(store: BlobStore) -> None:
    w1 = await store.put("a/one.json", b'{"x": 1}', metadata={"generation": "3"})
    w2 = await store.put("a/b/two", b"2")
    await store.put("other", b"o")
    blob = await store.get("a/one.json")
    assert blob.data == b'{"x": 1}' and blob.etag == w1.etag
    assert blob.metadata == {"generation": "3"}
    assert abs(blob.store_time - datetime.now(UTC)) < timedelta(minutes=1)
    assert (await store.head("a/b/two")).etag == w2.etag
    listed = await store.list("a/")
    assert [(i.key, i.etag) for i in listed] == [("a/b/two", w2.etag), ("a/one.json", w1.etag)]
    assert [i.key for i in await store.list("a/o")] == ["a/one.json"]
    assert await store.list("nothing/") == []
    # an overwrite changes the ETag
    w3 = await store.put("a/one.json", b"new")
    assert w3.etag != w1.etag and (await store.get("a/one.json")).data == b"new"
    await store.delete("a/one.json")
    with pytest.raises(ObjectNotFound):
        await store.get("a/one.json")
    with pytest.raises(ObjectNotFound):
        await store.head("a/one.json")
    await store.delete("a/one.json")  # deleting a missing object is fine
    assert [i.key for i in await store.list("")] == ["a/b/two", "other"]


async def test_create_only(store: BlobStore) -> None:
    first = await store.put("lock", b"1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        await store.put("lock", b"2", if_none_match=True)
    blob = await store.get("lock")
    assert blob.data == b"1" and blob.etag == first.etag


async def test_replace_if_etag(store: BlobStore) -> None:
    v1 = await store.put("k", b"1")
    v2 = await store.put("k", b"2", if_match=v1.etag)
    with pytest.raises(PreconditionFailed):
        await store.put("k", b"3", if_match=v1.etag)  # stale
    assert (await store.get("k")).data == b"2"
    with pytest.raises(PreconditionFailed):
        await store.put("missing", b"x", if_match=v2.etag)  # gone counts as changed
    with pytest.raises(ObjectNotFound):
        await store.get("missing")


async def test_delete_if_etag(store: BlobStore) -> None:
    v1 = await store.put("k", b"1")
    v2 = await store.put("k", b"2")
    with pytest.raises(PreconditionFailed):
        await store.delete("k", if_match=v1.etag)
    assert (await store.get("k")).data == b"2"
    await store.delete("k", if_match=v2.etag)
    with pytest.raises(ObjectNotFound):
        await store.get("k")
    with pytest.raises(PreconditionFailed):
        await store.delete("k", if_match=v2.etag)


@pytest.mark.parametrize(
    "key", ["..", "../escape", "a/../../b", "/abs", "a\x00b", "a\\b", "", "a//b", "./a", "a/."]
)
async def test_keys_that_escape_are_refused(store: BlobStore, key: str, tmp_path: Path) -> None:
    for call in (
        lambda: store.get(key),
        lambda: store.put(key, b"x"),
        lambda: store.delete(key),
        lambda: store.head(key),
    ):
        with pytest.raises(ValueError):
            await call()
    assert not (tmp_path / "escape").exists() and not (tmp_path / "b").exists()
    assert await store.list("") == []


async def test_concurrent_creates_have_one_winner(store: BlobStore) -> None:
    async def create(i: int) -> int | None:
        try:
            await store.put("race", str(i).encode(), if_none_match=True)
            return i
        except PreconditionFailed:
            return None

    winners = [w for w in await asyncio.gather(*(create(i) for i in range(10))) if w is not None]
    assert len(winners) == 1
    assert (await store.get("race")).data == str(winners[0]).encode()


async def test_s3_list_pages_beyond_1000_keys(moto: MotoHttp) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    bucket = make_bucket(moto.url)
    keys = [f"p/many/{i:05d}" for i in range(1005)]
    # moto serves from this process: fill its bucket directly (1,005 PUTs over HTTP are slow)
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for k in keys:
        backend.put_object(bucket, k, b"x")
    store = S3Store(client(moto.url, "s3"), f"s3://{bucket}/p")
    try:
        listed = await store.list("many/")
        assert [i.key for i in listed] == [k[2:] for k in keys]
        assert store.requests["list_objects_v2"] == 2
        assert await store.delete_prefix("many/") == 1005
        assert await store.list("many/") == []
    finally:
        store._executor.shutdown(wait=False)


async def test_s3_store_down_is_store_unavailable() -> None:
    cfg = botocore.config.Config(
        retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1
    )
    down = client(f"http://127.0.0.1:{free_port()}", "s3", config=cfg)
    store = S3Store(down, "s3://bucket/prefix")
    try:
        for call in (
            lambda: store.get("k"),
            lambda: store.put("k", b"x", if_none_match=True),
            lambda: store.list(""),
            lambda: store.delete("k"),
        ):
            with pytest.raises(StoreUnavailable):
                await call()
    finally:
        store._executor.shutdown(wait=False)


# -- the lease manager ----------------------------------------------------------------------
WID = "e-" + "L" * 25


class SkewedStore(BlobStore):
    """A store whose clock (the ``Date`` of its answers) differs from this machine's."""

    def __init__(self, inner: BlobStore, skew: timedelta) -> None:
        super().__init__()
        self.inner, self.skew, self.uri = inner, skew, inner.uri

    async def get(self, key: str) -> Any:
        blob = await self.inner.get(key)
        return dataclasses.replace(blob, store_time=blob.store_time + self.skew)

    async def put(self, key: str, data: bytes, **kw: Any) -> Any:
        result = await self.inner.put(key, data, **kw)
        return dataclasses.replace(result, store_time=result.store_time + self.skew)

    async def head(self, key: str) -> Any:
        return await self.inner.head(key)

    async def delete(self, key: str, **kw: Any) -> None:
        await self.inner.delete(key, **kw)

    async def list(self, prefix: str) -> Any:
        return await self.inner.list(prefix)


def manager(store: BlobStore, server: str, seconds: int = 90) -> LeaseManager:
    return LeaseManager(store, Layout("es-t"), server, seconds)


async def test_leases_acquire_renew_release_and_generation(tmp_path: Path) -> None:
    base = LocalStore(tmp_path)
    a, b = manager(base, "A"), manager(base, "B")
    first = await a.acquire(WID, "alice", shared=False, may_share=False)
    assert first.generation == 1
    again = await a.acquire(WID, "alice", shared=False, may_share=False)
    assert again.token == first.token and again.generation == 1  # idempotent
    with pytest.raises(WorkspaceInUse) as e:
        await b.acquire(WID, "bob", shared=False, may_share=False)
    assert e.value.extra["holder"]["user"] == "alice"
    renewed = await a.renew(WID, first.token)
    assert renewed.expires_at >= first.expires_at and renewed.generation == 1
    assert await a.release(WID, first.token)
    bob = await b.acquire(WID, "bob", shared=False, may_share=False)
    assert bob.generation == 3  # alice's release and bob's take each changed the holders
    with pytest.raises(LeaseLost):
        await a.renew(WID, first.token)
    assert await b.force_release(WID) == 4
    with pytest.raises(LeaseLost):
        await b.renew(WID, bob.token)
    state = await a.state(WID)
    assert state is None


async def test_collaboration_admits_several_holders(tmp_path: Path) -> None:
    base = LocalStore(tmp_path)
    a, b = manager(base, "A"), manager(base, "B")
    await a.acquire(WID, "alice", shared=True, may_share=True)
    await b.acquire(WID, "bob", shared=True, may_share=True)
    with pytest.raises(WorkspaceInUse):
        await b.acquire(WID, "mallory", shared=True, may_share=False)
    state = await a.state(WID)
    assert state is not None
    assert sorted(h["user"] for h in state["holders"]) == ["alice", "bob"]
    assert "token" not in str(state)


async def test_expired_lease_is_taken_over_and_release_all(tmp_path: Path) -> None:
    base = LocalStore(tmp_path)
    a, b = manager(base, "A", seconds=1), manager(base, "B", seconds=1)
    first = await a.acquire(WID, "alice", shared=False, may_share=False)
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            taken = await b.acquire(WID, "bob", shared=False, may_share=False)
            break
        except WorkspaceInUse:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
    assert taken.generation > first.generation
    with pytest.raises(LeaseLost):
        await a.renew(WID, first.token)
    other = "e-" + "M" * 25
    await b.acquire(other, "bob", shared=False, may_share=False)
    await b.release_all()
    assert await a.state(WID) is None and await a.state(other) is None


async def test_a_server_with_a_fast_clock_does_not_steal_a_live_lease(tmp_path: Path) -> None:
    """Both servers' clocks are 5 minutes ahead of the store's; the lease times are in
    the store's time. Judged by its own clock, B would think alice's lease long expired."""
    base = LocalStore(tmp_path)
    skew = -timedelta(minutes=5)  # the store's Date is 5 minutes behind the local clocks
    a = manager(SkewedStore(base, skew), "A")
    b = manager(SkewedStore(base, skew), "B")
    lease = await a.acquire(WID, "alice", shared=False, may_share=False)
    await a.renew(WID, lease.token)
    with pytest.raises(WorkspaceInUse):
        await b.acquire(WID, "bob", shared=False, may_share=False)
    assert (await b.state(WID) or {}).get("holders"), "B must see alice's lease as live"

    # the control: a server that trusts its own clock would steal it
    naive = manager(SkewedStore(base, skew), "N")
    naive.clock.observe = lambda store_time: None  # type: ignore[method-assign]
    stolen = await naive.acquire(WID, "mallory", shared=False, may_share=False)
    assert stolen.generation > lease.generation


async def test_a_server_with_a_slow_clock_does_not_create_a_lease_born_expired(
    tmp_path: Path,
) -> None:
    """A's clock is 5 minutes behind the store's and its first contact with the store is
    creating the lock: the lease must still last its full time in the store's clock."""
    base = LocalStore(tmp_path)
    skew = timedelta(minutes=5)  # the store's Date is 5 minutes ahead of the local clocks
    a = manager(SkewedStore(base, skew), "A")
    b = manager(SkewedStore(base, skew), "B")
    lease = await a.acquire(WID, "alice", shared=False, may_share=False)
    with pytest.raises(WorkspaceInUse):
        await b.acquire(WID, "bob", shared=False, may_share=False)
    # and alice's lease, as the store sees it, expires about 90 s from the store's now
    state = await b.state(WID)
    assert state is not None
    expires = datetime.fromisoformat(state["holders"][0]["expires_at"].replace("Z", "+00:00"))
    store_now = datetime.now(UTC) + skew
    assert timedelta(seconds=60) < expires - store_now <= timedelta(seconds=91)
    assert (await a.renew(WID, lease.token)).token == lease.token
