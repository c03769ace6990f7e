"""Storage across real server processes: restore on another server, and a server killed
with SIGKILL in the middle of a backup resumes the pending files when it comes back (with
the installed default server_id: the restarted server is a new one for the lease lock)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.proxy import DelayProxy
from emrws_testing.servers import ServerProcess
from storage_helpers import cell_text, keys, nb_model, read, wait_sync


def server(root: Path, studio: dict[str, Any], name: str) -> ServerProcess:
    """A server process as installed: the extension picks its own contents manager."""
    return ServerProcess(root, studio, name=name)


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for proc in started:
        proc.stop()


def studio(bucket: str, endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "es-mp",
        "backup_uri": f"s3://{bucket}/backups",
        "endpoint_url": endpoint,
        "autosave_interval": 1,
        "backup_max_backoff": 2.0,
        **extra,
    }


def open_ws(proc: ServerProcess, ws_id: str) -> dict[str, Any]:
    r = proc.api("POST", f"/workspaces/{ws_id}/open")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def save(proc: ServerProcess, path: str, text: str) -> None:
    r = proc.request("PUT", f"/api/contents/{path}", json=nb_model(text))
    assert r.status_code in (200, 201), r.text


def test_a_second_server_restores_the_workspace(
    tmp_path: Path, moto: MotoHttp, bucket: str, servers: list[ServerProcess]
) -> None:
    config = studio(bucket, moto.url)
    a = server(tmp_path / "a-root", config, "a").start()
    servers.append(a)
    ws_id = a.api("POST", "/workspaces", json={"name": "travels"}).json()["id"]
    opened = open_ws(a, ws_id)
    r = a.request("PUT", f"/api/contents/{opened['path']}/sub", json={"type": "directory"})
    assert r.status_code == 201, r.text
    for i in range(5):
        save(
            a,
            f"{opened['path']}/sub/n{i}.ipynb" if i % 2 else f"{opened['path']}/n{i}.ipynb",
            f"n{i}",
        )
    r = a.api("POST", f"/workspaces/{ws_id}/close", json={"token": opened["lease"]["token"]})
    assert r.status_code == 204, r.text  # close flushed the backups
    assert len(keys(client(moto.url, "s3"), bucket, f"backups/{ws_id}/")) == 5

    b = server(tmp_path / "b-root", config, "b").start()
    servers.append(b)
    reopened = open_ws(b, ws_id)
    assert reopened["restored"] == 5 and reopened["conflicts"] == [] and reopened["refused"] == []
    folder = tmp_path / "b-root" / "workspaces" / ws_id
    for i in range(5):
        rel = f"sub/n{i}.ipynb" if i % 2 else f"n{i}.ipynb"
        assert (folder / rel).read_bytes() == (
            tmp_path / "a-root" / "workspaces" / ws_id / rel
        ).read_bytes()
    # restored files are known to be backed up: nothing pending, nothing re-sent
    status = b.api("GET", f"/workspaces/{ws_id}/backup").json()
    assert status["pending"] == [] and status["failed"] == []


def test_a_server_killed_mid_backup_resumes_after_restart(
    tmp_path: Path, moto: MotoHttp, bucket: str, servers: list[ServerProcess]
) -> None:
    proxy = DelayProxy(moto.server.server_port, delay=0.25).start()
    try:
        config = studio(bucket, proxy.url, backup_concurrency=1)
        root = tmp_path / "root"
        a = server(root, config, "a").start()
        servers.append(a)
        ws_id = a.api("POST", "/workspaces", json={"name": "crashy"}).json()["id"]
        opened = open_ws(a, ws_id)
        first_id = a.api("GET", "/studio").json()["server_id"]
        for i in range(10):
            save(a, f"{opened['path']}/k{i}.ipynb", f"k{i}")
        s3 = client(moto.url, "s3")
        prefix = f"backups/{ws_id}/"
        wait_sync(lambda: 1 <= len(keys(s3, bucket, prefix)) < 10, "a backup under way")
        a.stop(sig=signal.SIGKILL)
        assert len(keys(s3, bucket, prefix)) < 10

        proxy.delay = 0.0
        again = server(root, config, "a").start()
        servers.append(again)
        # the pending set survived the crash (it is on disk, not only in memory)
        status = again.api("GET", f"/workspaces/{ws_id}/backup").json()
        assert status["pending"], status
        assert again.api("GET", "/studio").json()["server_id"] != first_id
        # the dead run's lease has not expired, yet its user takes it back at once
        reopened = open_ws(again, ws_id)
        assert reopened["lease"]["generation"] > opened["lease"]["generation"]
        wait_sync(
            lambda: all(
                cell_text(read(s3, bucket, f"{prefix}k{i}.ipynb")) == f"k{i}" for i in range(10)
            ),
            "every file backed up after the restart",
        )
        wait_sync(
            lambda: not again.api("GET", f"/workspaces/{ws_id}/backup").json()["pending"],
            "nothing pending",
        )
    finally:
        proxy.close()


def test_stopping_the_server_flushes_pending_backups(
    tmp_path: Path, moto: MotoHttp, bucket: str, servers: list[ServerProcess]
) -> None:
    a = server(tmp_path / "root", studio(bucket, moto.url, autosave_interval=3600), "a").start()
    servers.append(a)
    ws_id = a.api("POST", "/workspaces", json={"name": "flushed"}).json()["id"]
    opened = open_ws(a, ws_id)
    for i in range(3):
        save(a, f"{opened['path']}/s{i}.ipynb", f"s{i}")
    s3 = client(moto.url, "s3")
    # isolated: the next backup round is an hour away, so only the shutdown can send them
    status = a.api("GET", f"/workspaces/{ws_id}/backup").json()
    assert status["pending"] == [f"s{i}.ipynb" for i in range(3)] and status["active"]
    assert keys(s3, bucket, f"backups/{ws_id}/") == []
    a.stop()  # SIGTERM: the extension stops, the storage part flushes
    assert sorted(keys(s3, bucket, f"backups/{ws_id}/")) == [
        f"backups/{ws_id}/s{i}.ipynb" for i in range(3)
    ]
