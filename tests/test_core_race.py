"""The lock race: 20 concurrent opens of one Workspace, fired by threads at several
``jupyter server`` processes as different users, against moto run single-threaded
(conditional writes atomic, as on S3). Exactly one holder, every round."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import make_bucket
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.servers import ServerProcess

SERVERS = 3
OPENS = 20
ROUNDS = 5


@pytest.fixture(scope="module")
def servers(
    moto_serial: MotoHttp, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[ServerProcess], str]]:
    bucket = make_bucket(moto_serial.url)
    base = tmp_path_factory.mktemp("race")
    cfg = {"id": "es-race", "backup_uri": f"s3://{bucket}/s", "endpoint_url": moto_serial.url}
    procs = [ServerProcess(base / f"s{i}" / "root", cfg, name=f"race-{i}") for i in range(SERVERS)]
    try:
        # start them side by side: each start costs seconds
        with ThreadPoolExecutor(SERVERS) as pool:
            list(pool.map(lambda p: p.start(), procs))
        yield procs, bucket
    finally:
        for p in procs:
            p.stop()


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_twenty_concurrent_opens_make_exactly_one_holder(servers, moto_serial, round_) -> None:
    procs, bucket = servers
    r = procs[0].api("POST", "/workspaces", user="owner", json={"name": f"race-{uuid.uuid4().hex}"})
    assert r.status_code == 201, r.text
    wid = r.json()["id"]

    barrier = threading.Barrier(OPENS)

    def fire(i: int) -> tuple[str, int, dict]:
        user = f"user{i:02d}"
        barrier.wait()
        resp = procs[i % SERVERS].api("POST", f"/workspaces/{wid}/open", user=user)
        return user, resp.status_code, resp.json()

    with ThreadPoolExecutor(OPENS) as pool:
        results = list(pool.map(fire, range(OPENS)))

    winners = [(u, body) for u, code, body in results if code == 200]
    losers = [(u, code, body) for u, code, body in results if code != 200]
    assert len(winners) == 1, [(u, c, b.get("error", {}).get("code")) for u, c, b in results]
    winner, body = winners[0]
    assert len(losers) == OPENS - 1
    for _user, code, lost in losers:
        assert code == 409, lost
        assert lost["error"]["code"] == "WorkspaceInUse", lost
        assert lost["error"]["holder"]["user"] == winner

    # the store agrees: one holder, the winner, with the generation the winner was given
    key = f"s/.emr-workspace/studios/es-race/locks/{wid}.json"
    doc = json.loads(
        client(moto_serial.url, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    )
    assert [h["user"] for h in doc["holders"]] == [winner]
    assert doc["generation"] == body["lease"]["generation"] == 1
    # and every server reports that holder
    for p in procs:
        lock = p.api("GET", f"/workspaces/{wid}", user="owner").json()["lock"]
        assert [h["user"] for h in lock["holders"]] == [winner]
