"""Nothing lost, on one real jupyter-server (pytest-jupyter) and moto over HTTP: deletes
are fenced like uploads, a lease that ran out stops backups, a failed open leaves no lock,
restore goes on past keys it cannot write, and close refuses tokens it does not know.

The cross-server stories (takeover after an S3 cut, collaborating servers, restart) are
in ``test_storage_takeover.py``; the lease rules without a server are tested at the end.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.proxy import DelayProxy
from storage_helpers import cell_text, keys, nb_model, notebook, read, until

from jupyter_emr_workspace.contents.state import QueuedDelete, WorkspaceState
from jupyter_emr_workspace.errors import LeaseLost, WorkspaceInUse
from jupyter_emr_workspace.layout import Layout
from jupyter_emr_workspace.leases import LeaseManager
from jupyter_emr_workspace.store.local import LocalStore


@pytest.fixture
def proxy(moto: MotoHttp) -> Any:
    p = DelayProxy(moto.server.server_port).start()
    yield p
    p.close()


@pytest.fixture
def studio_config(tmp_path: Path, bucket: str, proxy: DelayProxy) -> dict[str, Any]:
    return {
        "id": "es-fence",
        "backup_uri": f"s3://{bucket}/backups",
        "endpoint_url": proxy.url,
        "autosave_interval": 1,
        "backup_max_backoff": 1.0,
        "storage_state_dir": str(tmp_path / "state"),
    }


@pytest.fixture
def jp_server_config(studio_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_emr_workspace": True},
            "identity_provider_class": "emrws_testing.identity.HeaderIdentityProvider",
        },
        "Studio": {"audit_log_path": str(tmp_path / "audit.jsonl"), **studio_config},
        "FileContentsManager": {"delete_to_trash": False, "always_delete_dir": True},
    }


@pytest.fixture
def s3(moto: MotoHttp) -> Any:
    return client(moto.url, "s3")


async def create(api: Any, name: str = "ws") -> str:
    r = await api("POST", "workspaces", {"name": name})
    assert r.code == 201, r
    return str(r.json["id"])


async def open_(api: Any, ws_id: str, user: str = "alice") -> Any:
    return await api("POST", f"workspaces/{ws_id}/open", user=user)


async def status(api: Any, ws_id: str) -> dict[str, Any]:
    r = await api("GET", f"workspaces/{ws_id}/backup")
    assert r.code == 200, r
    return r.json  # type: ignore[no-any-return]


async def settled(api: Any, ws_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        s = await status(api, ws_id)
        return s if not s["pending"] and not s["pending_deletes"] and s["last_backup_at"] else None

    return await until(check, "backups to settle")  # type: ignore[no-any-return]


def put_as_another_server(s3: Any, bucket: str, key: str, text: str, generation: int) -> None:
    """What the server that took the lease over writes (same metadata as a backup)."""
    body = json.dumps(notebook(text)).encode()
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        Metadata={
            "generation": str(generation),
            "md5": hashlib.md5(body).hexdigest(),
            "writer": "bob",
            "server": "server-b",
        },
    )


async def test_a_queued_delete_never_removes_a_backup_written_under_a_newer_generation(
    api: Any, services: Any, s3: Any, bucket: str, proxy: DelayProxy
) -> None:
    ws_id = await create(api)
    opened = await open_(api, ws_id)
    path = opened.json["path"]
    r = await api("PUT", f"{path}/f.ipynb", nb_model("mine"), base="api/contents")
    assert r.code == 201, r
    await settled(api, ws_id)
    ours = services.leases.generation(ws_id)

    proxy.stop()  # S3 away: the delete is queued
    r = await api("DELETE", f"{path}/f.ipynb", base="api/contents")
    assert r.code == 204, r
    assert (await status(api, ws_id))["pending_deletes"] >= 1  # the file (and checkpoints)
    # meanwhile the Workspace's backup is written again under a newer lease
    key = f"backups/{ws_id}/f.ipynb"
    put_as_another_server(s3, bucket, key, "theirs", ours + 1)

    proxy.start()
    s = await until(
        lambda: _no_pending_deletes(status(api, ws_id)), "the queued delete to run", limit=60
    )
    assert cell_text(read(s3, bucket, key)) == "theirs"  # kept, not deleted
    [refused] = [c for c in s["conflicts"] if c["kind"] == "delete-refused"]
    assert refused["path"] == "f.ipynb" and "bob" in refused["message"]


async def _no_pending_deletes(pending: Any) -> dict[str, Any] | None:
    s = await pending
    return s if s["pending_deletes"] == 0 else None


async def test_a_delete_removes_the_backup_this_lease_wrote(
    api: Any, services: Any, s3: Any, bucket: str
) -> None:
    """The fence refuses only newer work: an ordinary delete and rename still follow."""
    ws_id = await create(api)
    path = (await open_(api, ws_id)).json["path"]
    for name in ("gone", "moved"):
        r = await api("PUT", f"{path}/{name}.ipynb", nb_model(name), base="api/contents")
        assert r.code == 201, r
    await settled(api, ws_id)
    assert (await api("DELETE", f"{path}/gone.ipynb", base="api/contents")).code == 204
    r = await api(
        "PATCH", f"{path}/moved.ipynb", {"path": f"{path}/new.ipynb"}, base="api/contents"
    )
    assert r.code == 200, r
    await until(
        lambda: sorted(keys(s3, bucket, f"backups/{ws_id}/")) == [f"backups/{ws_id}/new.ipynb"],
        "the delete and the rename in the backup",
    )
    assert (await settled(api, ws_id))["conflicts"] == []


async def test_a_lease_that_ran_out_is_dropped_and_backs_nothing_up(
    api: Any, services: Any, s3: Any, bucket: str
) -> None:
    ws_id = await create(api)
    path = (await open_(api, ws_id)).json["path"]
    r = await api("PUT", f"{path}/a.ipynb", nb_model("before"), base="api/contents")
    assert r.code == 201, r
    await settled(api, ws_id)

    # no heartbeat came (the browser is gone, or S3 was unreachable): the lease runs out
    lease = services.leases.held[ws_id]["alice"]
    lease.expires_at = datetime.now(UTC) - timedelta(seconds=5)
    folder = services.folders.local_path(ws_id)
    (folder / "a.ipynb").write_text(json.dumps(notebook("after")))  # e.g. a kernel wrote it
    storage = services.storage
    puts = storage.store.requests["put_object"]
    assert await storage.scheduler.backup(ws_id, force=True) is False  # nothing held
    assert storage.store.requests["put_object"] == puts
    assert ws_id not in services.leases.held
    s = await status(api, ws_id)
    assert s["active"] is False and "expired" in s["lease_lost"]
    assert "expired" in s["last_error"]
    assert cell_text(read(s3, bucket, f"backups/{ws_id}/a.ipynb")) == "before"
    # reopening takes it back, and what changed meanwhile goes up then
    assert (await open_(api, ws_id)).code == 200
    await until(
        lambda: cell_text(read(s3, bucket, f"backups/{ws_id}/a.ipynb")) == "after",
        "the change backed up after reopening",
    )
    assert (await status(api, ws_id))["lease_lost"] is None


async def test_close_with_an_unknown_token_is_refused_and_audited(api: Any) -> None:
    ws_id = await create(api)
    token = (await open_(api, ws_id)).json["lease"]["token"]
    r = await api("POST", f"workspaces/{ws_id}/close", {"token": "not-a-token"}, user="bob")
    assert r.code == 409 and r.error["code"] == "LeaseLost", r
    # alice's lease is untouched; closing it works once, and a second time is refused
    assert (await api("GET", f"workspaces/{ws_id}")).json["lock"]["holders"][0]["user"] == "alice"
    assert (await api("POST", f"workspaces/{ws_id}/close", {"token": token})).code == 204
    r = await api("POST", f"workspaces/{ws_id}/close", {"token": token})
    assert r.code == 409 and r.error["code"] == "LeaseLost", r
    events = (await api("GET", "events")).json["events"]
    stops = [
        (e["user"], e["outcome"], e["error_code"])
        for e in events
        if e["action"] == "elasticmapreduce:StopEditor"
    ]
    assert stops[:3] == [
        ("alice", "failure", "LeaseLost"),
        ("alice", "success", None),
        ("bob", "failure", "LeaseLost"),
    ], stops


class _FailingHook:
    """A part whose open hook fails (a bug, or a dependency that went away)."""

    async def on_open(self, ws: Any, lease: Any) -> dict[str, Any]:
        raise RuntimeError("compute could not attach")

    async def on_close(self, ws: Any) -> None:
        return None

    async def on_delete(self, ws: Any, delete_notebooks: bool) -> dict[str, Any]:
        return {}


async def test_a_failed_open_releases_the_lease_and_answers_a_clear_error(
    api: Any, services: Any
) -> None:
    ws_id = await create(api)
    hook = _FailingHook()
    services.hooks.add(hook)
    try:
        r = await open_(api, ws_id)
        assert r.code == 502 and r.error["code"] == "OpenFailed", r
        assert "released" in r.error["message"]
        assert (await api("GET", f"workspaces/{ws_id}")).json["lock"] is None
        assert ws_id not in services.leases.held
    finally:
        services.hooks.hooks.remove(hook)
    # nobody is locked out: another user opens it at once
    r = await open_(api, ws_id, user="bob")
    assert r.code in (200, 403), r  # 403 only if bob may not open it at all
    if r.code == 403:
        assert (await open_(api, ws_id)).code == 200


async def test_restore_refuses_keys_it_cannot_write_and_goes_on(
    api: Any, services: Any, s3: Any, bucket: str
) -> None:
    ws_id = await create(api)
    prefix = f"backups/{ws_id}/"
    for rel in ("d", "d/f.txt", "x", "ok.txt"):
        s3.put_object(Bucket=bucket, Key=prefix + rel, Body=rel.encode())
    folder = services.folders.local_path(ws_id)
    (folder / "x").mkdir(parents=True)  # a folder where the backup has a file
    (folder / "x" / "inner.txt").write_text("local")
    for _ in range(2):  # and again: the lock is not left behind
        r = await open_(api, ws_id)
        assert r.code == 200, r
        refused = {x["key"]: x["reason"] for x in r.json["refused"]}
        assert set(refused) == {f"{ws_id}/d", f"{ws_id}/x"}, refused
        assert "folder" in refused[f"{ws_id}/d"]
        r = await api("POST", f"workspaces/{ws_id}/close", {"token": r.json["lease"]["token"]})
        assert r.code == 204, r
    assert (folder / "d" / "f.txt").read_text() == "d/f.txt"
    assert (folder / "ok.txt").read_text() == "ok.txt"
    # the local folder stays (written while this server never held the Workspace, its
    # file is set aside as a no-lease conflict copy beside where it was: nothing is lost)
    kept = [p for p in (folder / "x").iterdir() if p.read_text() == "local"]
    assert len(kept) == 1 and kept[0].name.startswith("inner"), kept


# -- the lease rules, without a server --------------------------------------------------


async def test_the_same_user_on_a_new_server_takes_the_lease_over_at_once(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path / "store")
    layout = Layout("es-unit")
    old, new = (LeaseManager(store, layout, sid, 60) for sid in ("host-1a2b", "host-3c4d"))
    first = await old.acquire("e-1", "alice", shared=False, may_share=False)
    # another user is refused while the lease lives, even if its server went quiet
    other = LeaseManager(store, layout, "host-5e6f", 60)
    with pytest.raises(WorkspaceInUse):
        await other.acquire("e-1", "bob", shared=False, may_share=False)
    # the same user from another server (a restart gets a new random id): taken over
    second = await new.acquire("e-1", "alice", shared=False, may_share=False)
    assert second.generation > first.generation and second.token != first.token
    with pytest.raises(LeaseLost):
        await old.renew("e-1", first.token)
    assert old.generation("e-1") is None and "taken over" in old.lost["e-1"]
    state = await new.state("e-1")
    assert state is not None and [h["user"] for h in state["holders"]] == ["alice"]
    with pytest.raises(WorkspaceInUse):
        await other.acquire("e-1", "bob", shared=False, may_share=False)


async def test_verify_drops_a_lease_that_was_taken_over(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    layout = Layout("es-unit")
    old, new = (LeaseManager(store, layout, sid, 60) for sid in ("s-old", "s-new"))
    await old.acquire("e-1", "alice", shared=False, may_share=False)
    assert await old.verify("e-1") is not None
    taken = await new.acquire("e-1", "alice", shared=False, may_share=False)
    assert await old.verify("e-1") is None  # before its time is up
    assert "e-1" not in old.held and "taken over by alice" in old.lost["e-1"]
    assert await new.verify("e-1") == taken.generation


async def test_open_reports_restore_error_when_s3_refuses_the_backups_and_still_opens(
    api: Any, services: Any, s3: Any, bucket: str, proxy: DelayProxy
) -> None:
    ws_id = await create(api)
    opened = (await open_(api, ws_id)).json
    r = await api("PUT", f"{opened['path']}/kept.ipynb", nb_model("local"), base="api/contents")
    assert r.code == 201, r
    await settled(api, ws_id)
    r = await api("POST", f"workspaces/{ws_id}/close", {"token": opened["lease"]["token"]})
    assert r.code == 204, r

    # the lock is reachable, the backup listing is not (S3 refuses that prefix)
    listing = f"prefix=backups%2F{ws_id}%2F"
    proxy.refuse = lambda line: "list-type=2" in line and listing in line
    r = await open_(api, ws_id)
    assert r.code == 200, r
    assert "SlowDown" in r.json["restore_error"] or "503" in r.json["restore_error"], r
    assert r.json["restored"] == 0 and r.json["refused"] == []
    folder = services.folders.local_path(ws_id)
    assert cell_text((folder / "kept.ipynb").read_bytes()) == "local"  # local files stay
    proxy.refuse = None


async def test_deletes_queued_while_s3_is_away_run_when_it_is_back(
    api: Any, s3: Any, bucket: str, proxy: DelayProxy
) -> None:
    ws_id = await create(api)
    path = (await open_(api, ws_id)).json["path"]
    for name in ("a", "b"):
        r = await api("PUT", f"{path}/{name}.ipynb", nb_model(name), base="api/contents")
        assert r.code == 201, r
    await settled(api, ws_id)
    prefix = f"backups/{ws_id}/"

    proxy.stop()
    assert (await api("DELETE", f"{path}/a.ipynb", base="api/contents")).code == 204
    r = await api("PATCH", f"{path}/b.ipynb", {"path": f"{path}/c.ipynb"}, base="api/contents")
    assert r.code == 200, r
    s = await status(api, ws_id)
    assert s["pending_deletes"] >= 2 and "c.ipynb" in s["pending"], s
    assert sorted(keys(s3, bucket, prefix)) == [f"{prefix}a.ipynb", f"{prefix}b.ipynb"]

    proxy.start()
    await until(
        lambda: sorted(keys(s3, bucket, prefix)) == [f"{prefix}c.ipynb"],
        "the queued delete and rename to reach S3",
        limit=60,
    )
    s = await settled(api, ws_id)
    assert s["conflicts"] == [] and s["last_error"] is None


async def test_the_delete_half_of_a_rename_and_checkpoint_deletes_are_fenced_too(
    api: Any, services: Any, s3: Any, bucket: str
) -> None:
    ws_id = await create(api)
    path = (await open_(api, ws_id)).json["path"]
    for name in ("r", "c"):
        r = await api("PUT", f"{path}/{name}.ipynb", nb_model(name), base="api/contents")
        assert r.code == 201, r
    r = await api("POST", f"{path}/c.ipynb/checkpoints", base="api/contents")
    assert r.code == 201, r
    await settled(api, ws_id)
    ours = services.leases.generation(ws_id)
    # the next holder's work, written under a newer generation (as after a takeover)
    put_as_another_server(s3, bucket, f"backups/{ws_id}/r.ipynb", "theirs", ours + 1)
    cps = f"backups/.emr-workspace/checkpoints/{ws_id}/c.ipynb/"
    put_as_another_server(s3, bucket, f"{cps}29991231T000000000000Z", "their cp", ours + 1)

    r = await api("PATCH", f"{path}/r.ipynb", {"path": f"{path}/moved.ipynb"}, base="api/contents")
    assert r.code == 200, r
    assert (await api("DELETE", f"{path}/c.ipynb", base="api/contents")).code == 204
    await until(
        lambda: text_of(s3, bucket, f"backups/{ws_id}/moved.ipynb") == "r", "the rename's upload"
    )
    s = await settled(api, ws_id)
    assert text_of(s3, bucket, f"backups/{ws_id}/r.ipynb") == "theirs"  # not deleted
    assert keys(s3, bucket, cps) == [f"{cps}29991231T000000000000Z"]  # only ours went
    refused = sorted(c["path"] for c in s["conflicts"] if c["kind"] == "delete-refused")
    assert refused == [f"{cps}29991231T000000000000Z"[len("backups/") :], "r.ipynb"], refused


async def test_a_delete_keeps_an_older_leases_late_backup_it_never_saw_as_a_conflict_copy(
    api: Any, services: Any, s3: Any, bucket: str
) -> None:
    """Found by the lock soak: the server a lease was taken from backs up a save it
    acknowledged before it learns of the takeover, after the new holder restored; the new
    holder then deletes or renames the file as it knows it. That save must not go with
    it: the backup it never saw is kept as a conflict copy, as a write would keep it."""
    ws_id = await create(api)
    path = (await open_(api, ws_id)).json["path"]
    for name in ("gone", "moved"):
        r = await api("PUT", f"{path}/{name}.ipynb", nb_model("restored"), base="api/contents")
        assert r.code == 201, r
    await settled(api, ws_id)
    ours = services.leases.generation(ws_id)
    # the previous holder's late backups of saves it acknowledged: an older generation
    prefix = f"backups/{ws_id}/"
    for name in ("gone", "moved"):
        put_as_another_server(s3, bucket, f"{prefix}{name}.ipynb", f"late {name}", ours - 1)

    assert (await api("DELETE", f"{path}/gone.ipynb", base="api/contents")).code == 204
    r = await api(
        "PATCH", f"{path}/moved.ipynb", {"path": f"{path}/new.ipynb"}, base="api/contents"
    )
    assert r.code == 200, r
    s = await settled(api, ws_id)
    texts = {k[len(prefix) :]: text_of(s3, bucket, k) for k in keys(s3, bucket, prefix)}
    assert "gone.ipynb" not in texts and "moved.ipynb" not in texts  # the deletes ran
    assert texts.get("new.ipynb") == "restored"
    copies = sorted(t or "" for k, t in texts.items() if ".conflict-bob-" in k)
    assert copies == ["late gone", "late moved"], texts
    kept = sorted(c["path"] for c in s["conflicts"] if c["kind"] == "superseded")
    assert kept == ["gone.ipynb", "moved.ipynb"], s["conflicts"]


def text_of(s3: Any, bucket: str, key: str) -> str | None:
    try:
        return cell_text(read(s3, bucket, key))
    except ValueError:
        return None


def test_queued_deletes_saved_before_fencing_may_remove_only_unfenced_backups() -> None:
    """A state file from before deletes carried a generation still loads; such a delete
    is taken as decided under generation 0 by no server, so it never removes a backup
    that any lease wrote."""
    state = WorkspaceState.from_json(
        {"deletes": ["e-1/old.ipynb", {"key": "e-1/d/", "generation": 4, "server": "s-1"}]}
    )
    assert state.deletes == [
        QueuedDelete("e-1/old.ipynb", 0, ""),
        QueuedDelete("e-1/d/", 4, "s-1"),
    ]
    again = WorkspaceState.from_json(json.loads(json.dumps(state.to_json())))
    assert again.deletes == state.deletes
