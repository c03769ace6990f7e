"""Two real ``jupyter server`` processes sharing one S3 store (moto over HTTP), as two
users: the lease lock holds across processes, expires, fences stale holders and is
released when a server shuts down."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import make_bucket
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.servers import ServerProcess

LEASE_SECONDS = 10


def studio(moto_url: str, bucket: str) -> dict[str, Any]:
    return {
        "id": "es-multi",
        "backup_uri": f"s3://{bucket}/studio",
        "endpoint_url": moto_url,
        "lease_seconds": LEASE_SECONDS,
    }


@pytest.fixture(scope="module")
def pair(
    moto: MotoHttp, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess, str]]:
    """Server A (used by alice) and server B (used by bob), one store.

    Shared by the module's tests to start two servers once, not per test. No test
    depends on another: each creates its own Workspaces and leaves both servers running
    (the shutdown test stops a server of its own), so any one passes alone (``-k``) or
    in any order.
    """
    bucket = make_bucket(moto.url)
    base = tmp_path_factory.mktemp("multi")
    cfg = studio(moto.url, bucket)
    a = ServerProcess(base / "a" / "root", cfg, name="server-a")
    b = ServerProcess(base / "b" / "root", cfg, name="server-b")
    try:
        a.start()
        b.start()
        yield a, b, bucket
    finally:
        a.stop()
        b.stop()


def create(server: ServerProcess, user: str = "alice") -> str:
    r = server.api("POST", "/workspaces", user=user, json={"name": f"ws-{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def open_(server: ServerProcess, wid: str, user: str) -> Any:
    return server.api("POST", f"/workspaces/{wid}/open", user=user)


def lock_doc(moto: MotoHttp, bucket: str, wid: str) -> dict[str, Any]:
    s3 = client(moto.url, "s3")
    key = f"studio/.emr-workspace/studios/es-multi/locks/{wid}.json"
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())  # type: ignore[no-any-return]


def test_workspace_created_on_one_server_is_seen_by_the_other(pair) -> None:
    a, b, _ = pair
    wid = create(a)
    r = b.api("GET", f"/workspaces/{wid}", user="bob")
    assert r.status_code == 200 and r.json()["created_by"] == "alice"
    assert wid in [w["id"] for w in b.api("GET", "/workspaces", user="bob").json()["workspaces"]]


def test_second_open_gets_409_naming_the_first_then_the_lease_after_close(pair, moto) -> None:
    a, b, bucket = pair
    wid = create(a)
    first = open_(a, wid, "alice")
    assert first.status_code == 200, first.text
    lease = first.json()["lease"]

    r = open_(b, wid, "bob")
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "WorkspaceInUse"
    assert err["holder"]["user"] == "alice" and err["holder"]["since"] == lease["since"]
    assert "alice" in err["message"]
    # bob's server shows the lock (without the token) in the Workspace
    seen = b.api("GET", f"/workspaces/{wid}", user="bob").json()["lock"]
    assert [h["user"] for h in seen["holders"]] == ["alice"]
    assert lease["token"] not in json.dumps(seen)

    r = a.api("POST", f"/workspaces/{wid}/close", user="alice", json={"token": lease["token"]})
    assert r.status_code == 204, r.text
    second = open_(b, wid, "bob")
    assert second.status_code == 200, second.text
    assert second.json()["lease"]["generation"] > lease["generation"]
    doc = lock_doc(moto, bucket, wid)
    assert [h["user"] for h in doc["holders"]] == ["bob"]
    assert doc["holders"][0]["server_id"] == b.api("GET", "/studio", user="bob").json()["server_id"]

    # alice's stale token: LeaseLost, and the Workspace stays bob's
    r = a.api("POST", f"/workspaces/{wid}/heartbeat", user="alice", json={"token": lease["token"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "LeaseLost"
    assert [h["user"] for h in lock_doc(moto, bucket, wid)["holders"]] == ["bob"]
    tok = second.json()["lease"]["token"]
    assert b.api("POST", f"/workspaces/{wid}/close", user="bob", json={"token": tok}).ok


def test_expired_lease_is_taken_over_and_the_stale_holder_loses_it(pair, moto) -> None:
    a, b, bucket = pair
    wid = create(a)
    first = open_(a, wid, "alice")
    assert first.status_code == 200
    lease = first.json()["lease"]
    assert open_(b, wid, "bob").status_code == 409

    # no heartbeats: poll until the lease has expired and bob takes over
    deadline = time.monotonic() + LEASE_SECONDS * 4
    while True:
        r = open_(b, wid, "bob")
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        assert r.status_code == 409 and r.json()["error"]["code"] == "WorkspaceInUse"
        time.sleep(0.5)
    assert r.status_code == 200, r.text
    assert r.json()["lease"]["generation"] > lease["generation"]
    assert [h["user"] for h in lock_doc(moto, bucket, wid)["holders"]] == ["bob"]

    hb = a.api("POST", f"/workspaces/{wid}/heartbeat", user="alice", json={"token": lease["token"]})
    assert hb.status_code == 409, hb.text
    err = hb.json()["error"]
    assert err["code"] == "LeaseLost" and "bob" in err["message"]
    # bob's heartbeat works and alice cannot reopen while bob's lease lives
    tok = r.json()["lease"]["token"]
    assert b.api("POST", f"/workspaces/{wid}/heartbeat", user="bob", json={"token": tok}).ok
    assert open_(a, wid, "alice").status_code == 409
    assert b.api("POST", f"/workspaces/{wid}/close", user="bob", json={"token": tok}).ok


def test_a_server_that_shuts_down_releases_its_leases(pair, moto, tmp_path) -> None:
    """Server C (carol's, on the same store) stops with SIGTERM; bob on B can open at
    once. C is this test's own, so the shared pair keeps running for the others."""
    _, b, bucket = pair
    c = ServerProcess(tmp_path / "c" / "root", studio(moto.url, bucket), name="server-c")
    try:
        c.start()
        wids = [create(c, "carol") for _ in range(2)]
        before = {}
        for wid in wids:
            assert open_(c, wid, "carol").status_code == 200
            assert open_(b, wid, "bob").status_code == 409
            before[wid] = lock_doc(moto, bucket, wid)["generation"]
    finally:
        c.stop()  # SIGTERM
    assert c.proc is not None and c.proc.returncode is not None
    for wid in wids:
        doc = lock_doc(moto, bucket, wid)
        assert doc["holders"] == [] and doc["generation"] > before[wid]
        r = open_(b, wid, "bob")  # long before carol's lease would have expired
        assert r.status_code == 200, r.text
        tok = r.json()["lease"]["token"]
        assert b.api("POST", f"/workspaces/{wid}/close", user="bob", json={"token": tok}).ok
