"""Writes into a Workspace folder made while this server did not hold the lease never
become the Workspace's backup, however the lease ended (a real jupyter-server in process,
the folder store; the writes come from this test process, as any shell's would)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from conftest import Api
from storage_helpers import notebook

MARK = "WRITTEN-WITHOUT-THE-LEASE"


async def create(api: Api) -> str:
    r = await api("POST", "workspaces", {"name": "unleased"})
    assert r.code == 201, r
    return str(r.json["id"])


async def open_(api: Api, wid: str) -> dict[str, Any]:
    r = await api("POST", f"workspaces/{wid}/open")
    assert r.code == 200, r
    return r.json  # type: ignore[no-any-return]


async def backup_now(api: Api, wid: str) -> None:
    r = await api("POST", f"workspaces/{wid}/backup")
    assert r.code == 200, r
    assert r.json["pending"] == [] and r.json["failed"] == [], r.json


def in_store(store: Path, text: str) -> list[Path]:
    return [p for p in store.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


async def test_writes_after_a_forced_release_are_set_aside(
    api: Api, services: Any, tmp_path: Path
) -> None:
    wid = await create(api)
    opened = await open_(api, wid)
    r = await api(
        "PUT",
        f"{opened['path']}/a.ipynb",
        {"type": "notebook", "content": notebook("v1")},
        base="api/contents",
    )
    assert r.code == 201, r
    await backup_now(api, wid)
    # the lease ends without a close (an admin breaks the lock; a lost or expired lease
    # looks the same to this server)
    r = await api("DELETE", f"workspaces/{wid}/lock")
    assert r.code == 204, r
    folder = services.folders.local_path(wid)
    (folder / "a.ipynb").write_text(json.dumps(notebook(MARK)))
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text(MARK)

    reopened = await open_(api, wid)
    await backup_now(api, wid)
    assert in_store(tmp_path / "store", MARK) == []
    aside = {c["path"]: c["conflict_path"] for c in reopened["conflicts"]}
    assert set(aside) == {"a.ipynb", "sub/b.txt"}, reopened
    assert aside["sub/b.txt"].startswith("sub/b.conflict-no-lease-")
    assert "v1" in (folder / "a.ipynb").read_text()  # the backup's version is back
    for copy in aside.values():
        assert MARK in (folder / copy).read_text()  # and nothing was lost


async def test_files_in_a_folder_never_held_here_are_set_aside(
    api: Api, services: Any, tmp_path: Path
) -> None:
    wid = await create(api)
    folder = services.folders.ensure(wid)  # a shell got there before the first open
    (folder / "early.py").write_text(MARK)
    opened = await open_(api, wid)
    await backup_now(api, wid)
    assert in_store(tmp_path / "store", MARK) == []
    [fact] = opened["conflicts"]
    assert fact["kind"] == "no-lease" and fact["path"] == "early.py", fact
    assert (folder / fact["conflict_path"]).read_text() == MARK


async def test_a_holders_edit_of_a_set_aside_copy_is_backed_up(
    api: Api, services: Any, tmp_path: Path
) -> None:
    """The copy is the holder's to keep: once they edit it under the lease, it is theirs."""
    wid = await create(api)
    folder = services.folders.ensure(wid)
    (folder / "early.txt").write_text(MARK)
    opened = await open_(api, wid)
    [fact] = opened["conflicts"]
    r = await api(
        "PUT",
        f"{opened['path']}/{fact['conflict_path']}",
        {"type": "file", "format": "text", "content": "kept by the holder"},
        base="api/contents",
    )
    assert r.code == 200, r
    await backup_now(api, wid)
    assert in_store(tmp_path / "store", MARK) == []
    assert [p.name for p in in_store(tmp_path / "store", "kept by the holder")] == [
        Path(fact["conflict_path"]).name
    ]


def test_a_lapsed_lease_renewed_before_anyone_took_it_holds_again(tmp_path: Path) -> None:
    """A laptop that slept past its lease and renews it (nobody took it meanwhile) keeps
    backing up; a lease that lapsed and is not renewed stops backups until the next open."""
    from datetime import timedelta

    from jupyter_emr_workspace.contents.backup import BackupScheduler
    from jupyter_emr_workspace.contents.state import StateFiles
    from jupyter_emr_workspace.contents.unleased import UnleasedWrites
    from jupyter_emr_workspace.folders import WorkspaceFolders
    from jupyter_emr_workspace.layout import Layout
    from jupyter_emr_workspace.leases import LeaseManager
    from jupyter_emr_workspace.store.local import LocalStore

    async def scenario() -> None:
        leases = LeaseManager(LocalStore(tmp_path / "store"), Layout("es-t"), "srv", 30)
        folders = WorkspaceFolders(tmp_path / "root", "workspaces")
        files = StateFiles(tmp_path / "state", "es-t", folders.root)
        scheduler = BackupScheduler(
            leases.store, folders, leases, files, interval=60, concurrency=1, max_backoff=1
        )
        unleased = UnleasedWrites(scheduler, leases)
        wid = "e-ABCDEFGHIJKLMNOPQRSTUVWXY"
        lease = await leases.acquire(wid, "alice", shared=False, may_share=True)
        unleased.held(wid)
        st = scheduler.state(wid)
        assert st.released_at is None

        leases.clock.offset = timedelta(seconds=60)  # the lease runs out (store's clock)
        unleased.check()
        assert st.released_at is not None
        (folders.ensure(wid) / "late.txt").write_text(MARK)
        await scheduler.backup(wid)  # not held: not even scanned
        assert st.pending == {} and st.manifest == {}

        await leases.renew(wid, lease.token)  # nobody took it: the same lease again
        unleased.check()
        assert st.released_at is None

        await leases.release(wid, lease.token)
        unleased.check()
        assert st.released_at is not None
        await leases.store.close()

    asyncio.run(scenario())
