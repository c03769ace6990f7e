"""Takeovers between real ``jupyter server`` processes on one moto S3 (single-threaded, so
conditional writes are atomic as on S3), each server reaching S3 through its own
stoppable proxy: what the docs promise about fencing, with the installed default
``server_id`` (random per start).

- a takeover after an S3 cut ends with a conflict copy, never an overwrite, and the old
  server reports that it lost the lease;
- a delete queued before a crash is checked again after the restart and never removes
  the newer work of the server that took over meanwhile;
- two servers holding one Workspace in collaboration mode never overwrite each other;
- checkpoints follow the Workspace to another server.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.proxy import DelayProxy
from emrws_testing.servers import ServerProcess
from storage_helpers import cell_text, keys, nb_model, read, wait_sync


def text(s3: Any, bucket: str, key: str) -> str | None:
    """The cell text of a backed-up notebook; None while absent or not a whole notebook."""
    try:
        return cell_text(read(s3, bucket, key))
    except ValueError:
        return None


class Node:
    """A server process and the proxy it reaches S3 through (stop it: S3 is cut off)."""

    def __init__(self, base: Path, name: str, moto: MotoHttp, studio: dict[str, Any]):
        self.proxy = DelayProxy(moto.server.server_port).start()
        config = {**studio, "endpoint_url": self.proxy.url}
        config["storage_state_dir"] = str(base / f"{name}-state")
        self.root = base / f"{name}-root"
        self.name = name
        self.server = ServerProcess(self.root, config, name=name)

    def start(self) -> Node:
        self.server.start()
        return self

    def close(self) -> None:
        self.server.stop()
        self.proxy.close()

    def api(self, method: str, path: str, **kw: Any) -> Any:
        return self.server.api(method, path, **kw)

    def request(self, method: str, path: str, **kw: Any) -> Any:
        return self.server.request(method, path, **kw)

    def open(self, ws_id: str, user: str = "alice") -> dict[str, Any]:
        r = self.api("POST", f"/workspaces/{ws_id}/open", user=user)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def save(self, path: str, text: str, user: str = "alice") -> None:
        r = self.request("PUT", f"/api/contents/{path}", json=nb_model(text), user=user)
        assert r.status_code in (200, 201), r.text

    def status(self, ws_id: str, user: str = "alice") -> dict[str, Any]:
        r = self.api("GET", f"/workspaces/{ws_id}/backup", user=user)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def nodes(tmp_path: Path, moto_serial: MotoHttp) -> Iterator[Any]:
    bucket = f"studio-{uuid.uuid4().hex[:12]}"
    client(moto_serial.url, "s3").create_bucket(Bucket=bucket)
    studio = {
        "id": "es-takeover",
        "backup_uri": f"s3://{bucket}/backups",
        "autosave_interval": 1,
        "backup_max_backoff": 1.0,
        "lease_seconds": 60,
    }
    made: list[Node] = []

    def make(name: str) -> Node:
        node = Node(tmp_path, name, moto_serial, studio)
        made.append(node)
        return node

    make.bucket = bucket  # type: ignore[attr-defined]
    make.s3 = client(moto_serial.url, "s3")  # type: ignore[attr-defined]
    yield make
    for node in made:
        node.close()


def test_a_takeover_after_an_s3_cut_ends_with_a_conflict_copy_never_an_overwrite(
    nodes: Any,
) -> None:
    a, b = nodes("a").start(), nodes("b").start()
    s3, bucket = nodes.s3, nodes.bucket
    ws_id = a.api("POST", "/workspaces", json={"name": "cut"}).json()["id"]
    first = a.open(ws_id)
    path, key = first["path"], f"backups/{ws_id}/f.ipynb"
    a.save(f"{path}/f.ipynb", "v1")
    wait_sync(lambda: text(s3, bucket, key) == "v1", "v1 backed up")

    a.proxy.stop()  # server A loses S3; its user keeps working
    a.save(f"{path}/f.ipynb", "v2 on a")
    wait_sync(lambda: a.status(ws_id)["failed"], "A's backup failing")
    # another user must wait for the lease to run out, even though A went quiet ...
    r = b.api("POST", f"/workspaces/{ws_id}/open", user="bob")
    assert r.status_code == 409 and r.json()["error"]["code"] == "WorkspaceInUse", r.text
    # ... but the same user moving to server B takes it over at once, with a newer generation
    second = b.open(ws_id)
    assert second["lease"]["generation"] > first["lease"]["generation"]
    assert second["restored"] == 1
    b.save(f"{path}/f.ipynb", "v3 on b")
    wait_sync(lambda: text(s3, bucket, key) == "v3 on b", "B's version backed up")

    a.proxy.start()  # A is back: its pending write is fenced
    status = wait_sync(lambda: _fenced(a.status(ws_id)), "A's write kept as a conflict copy")
    [conflict] = [c for c in status["conflicts"] if c["kind"] == "fenced"]
    copy = f"backups/{ws_id}/{conflict['conflict_path']}"
    assert text(s3, bucket, copy) == "v2 on a"
    assert text(s3, bucket, key) == "v3 on b"  # never overwritten
    # and A says why it stopped: its lease was taken over
    status = wait_sync(lambda: _lost(a.status(ws_id)), "A reporting the lost lease")
    assert status["active"] is False and "taken over" in status["lease_lost"]
    r = a.request("PUT", f"/api/contents/{path}/f.ipynb", json=nb_model("v4 on a"))
    assert r.status_code == 423, r.text  # A no longer holds it: nothing more is written
    b_status = b.status(ws_id)
    assert b_status["active"] and b_status["conflicts"] == []
    assert text(s3, bucket, key) == "v3 on b"


def _fenced(status: dict[str, Any]) -> dict[str, Any] | None:
    return status if any(c["kind"] == "fenced" for c in status["conflicts"]) else None


def _lost(status: dict[str, Any]) -> dict[str, Any] | None:
    return status if status["lease_lost"] else None


def test_a_delete_queued_before_a_crash_never_removes_the_newer_work_of_the_next_holder(
    nodes: Any,
) -> None:
    a, b = nodes("a").start(), nodes("b").start()
    s3, bucket = nodes.s3, nodes.bucket
    ws_id = a.api("POST", "/workspaces", json={"name": "crash"}).json()["id"]
    path = a.open(ws_id)["path"]
    key = f"backups/{ws_id}/g.ipynb"
    a.save(f"{path}/g.ipynb", "g1")
    wait_sync(lambda: text(s3, bucket, key) == "g1", "g1 backed up")

    a.proxy.stop()
    r = a.request("DELETE", f"/api/contents/{path}/g.ipynb")
    assert r.status_code == 204, r.text
    state = a.root.parent / "a-state"
    wait_sync(
        lambda: any(f"{ws_id}/g.ipynb" in p.read_text() for p in state.rglob(f"{ws_id}.json")),
        "the queued delete on disk",
    )
    a.server.stop(sig=signal.SIGKILL)  # crash with the delete still queued

    # the same user carries on on server B: g is restored and changed there
    opened = b.open(ws_id)
    assert opened["restored"] == 1
    b.save(f"{path}/g.ipynb", "g2 on b")
    wait_sync(lambda: text(s3, bucket, key) == "g2 on b", "B's g backed up")

    # A restarts (a new random server id) and its user opens the Workspace there again
    a.proxy.start()
    a.start()
    assert a.status(ws_id)["pending_deletes"] >= 1  # the queue survived the crash
    reopened = a.open(ws_id)  # taken over from B at once
    status = a.status(ws_id)
    assert status["pending_deletes"] == 0
    assert "g.ipynb" in [c["path"] for c in status["conflicts"] if c["kind"] == "delete-refused"]
    assert text(s3, bucket, key) == "g2 on b"  # B's work is still there
    assert reopened["restored"] == 1  # and came back to A
    assert cell_text((a.root / path / "g.ipynb").read_bytes()) == "g2 on b"


def test_collaborating_servers_keep_a_conflict_copy_instead_of_overwriting(
    nodes: Any,
) -> None:
    a, b = nodes("a").start(), nodes("b").start()
    s3, bucket = nodes.s3, nodes.bucket
    body = {"name": "pair", "collaboration": {"enabled": True, "collaborators": ["user:bob"]}}
    ws_id = a.api("POST", "/workspaces", json=body).json()["id"]
    alice = a.open(ws_id)
    bob = b.open(ws_id, user="bob")  # both hold the lease, on two servers
    hb = a.api("POST", f"/workspaces/{ws_id}/heartbeat", json={"token": alice["lease"]["token"]})
    assert hb.status_code == 200, hb.text
    assert hb.json()["lease"]["generation"] == bob["lease"]["generation"]  # the same one
    path, key = alice["path"], f"backups/{ws_id}/n.ipynb"

    a.save(f"{path}/n.ipynb", "alice's")
    wait_sync(lambda: text(s3, bucket, key) == "alice's", "alice's version")
    b.save(f"{path}/n.ipynb", "bob's", user="bob")
    status = wait_sync(lambda: _fenced(b.status(ws_id, user="bob")), "bob's conflict copy")
    [conflict] = status["conflicts"]
    assert conflict["conflict_path"].startswith("n.conflict-bob-")
    assert text(s3, bucket, f"backups/{ws_id}/{conflict['conflict_path']}") == "bob's"
    assert text(s3, bucket, key) == "alice's"  # first writer keeps the name
    # alice's next save still goes to the name: nobody overwrote her version
    a.save(f"{path}/n.ipynb", "alice's again")
    wait_sync(lambda: text(s3, bucket, key) == "alice's again", "alice's next")
    assert a.status(ws_id)["conflicts"] == []


def test_checkpoints_follow_the_workspace_to_another_server(nodes: Any) -> None:
    a, b = nodes("a").start(), nodes("b").start()
    ws_id = a.api("POST", "/workspaces", json={"name": "cps"}).json()["id"]
    opened = a.open(ws_id)
    nb = f"{opened['path']}/c.ipynb"
    a.save(nb, "checkpointed")
    r = a.request("POST", f"/api/contents/{nb}/checkpoints")
    assert r.status_code == 201, r.text
    checkpoint = r.json()["id"]
    a.save(nb, "later")
    r = a.api("POST", f"/workspaces/{ws_id}/close", json={"token": opened["lease"]["token"]})
    assert r.status_code == 204, r.text

    b.open(ws_id)
    listed = b.request("GET", f"/api/contents/{nb}/checkpoints").json()
    assert checkpoint in [c["id"] for c in listed]
    r = b.request("POST", f"/api/contents/{nb}/checkpoints/{checkpoint}")
    assert r.status_code == 204, r.text
    assert cell_text((b.root / nb).read_bytes()) == "checkpointed"
    assert keys(nodes.s3, nodes.bucket, f"backups/.emr-workspace/checkpoints/{ws_id}/")
