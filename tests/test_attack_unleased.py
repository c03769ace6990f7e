"""Side doors of the no-lease set-aside at open (a real jupyter-server in process, the
folder store): two opens of one Workspace on one server at the same time."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import Api
from storage_helpers import notebook
from test_lock_unleased import backup_now, create, in_store, open_

import jupyter_emr_workspace.contents.restore as restore_module

FILES = 5
MARK = "WRITTEN-WITHOUT-THE-LEASE"


def notebook_text(source: str) -> str:
    return json.dumps(notebook(source))


async def test_an_open_never_sets_aside_what_a_concurrent_open_restored(
    api: Api, services: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two opens at once (a double click, two tabs, two collaborators) on a server that
    has no record of the Workspace: the files one open restores must not look to the
    other like files written without the lease (they would be set aside as conflicts)."""
    wid = await create(api)
    opened = await open_(api, wid)
    for n in range(FILES):
        r = await api(
            "PUT",
            f"{opened['path']}/n{n}.ipynb",
            {"type": "notebook", "content": notebook(f"v{n}")},
            base="api/contents",
        )
        assert r.code == 201, r
    await backup_now(api, wid)
    r = await api("DELETE", f"workspaces/{wid}/lock")  # the lease ends here ...
    assert r.code == 204, r
    folder = services.folders.local_path(wid)
    for n in range(FILES):  # ... and the local copies go, with what this server knew of
        (folder / f"n{n}.ipynb").unlink()  # them (as on a new machine)
    storage = services.storage
    storage.scheduler.forget(wid)

    # The first open's restore pauses after its first file until the second open has
    # sorted the folder: the interleaving two concurrent opens can take.
    sorted_by_second = threading.Event()
    write = restore_module._write_atomic
    writes = 0

    def paused_write(target: Path, data: bytes) -> Any:
        nonlocal writes
        result = write(target, data)
        writes += 1
        if writes == 1:
            sorted_by_second.wait(3)  # with opens one at a time, nobody sets it
        return result

    monkeypatch.setattr(restore_module, "_write_atomic", paused_write)
    set_aside = storage.unleased.set_aside

    async def noted_set_aside(workspace_id: str, path: Path) -> Any:
        try:
            return await set_aside(workspace_id, path)
        finally:
            if any(folder.glob("n*.ipynb")):  # called while the first restore is paused
                sorted_by_second.set()

    monkeypatch.setattr(storage.unleased, "set_aside", noted_set_aside)
    first_task = asyncio.ensure_future(api("POST", f"workspaces/{wid}/open"))
    while writes == 0:
        assert not first_task.done(), first_task.result()
        await asyncio.sleep(0.01)
    second = await api("POST", f"workspaces/{wid}/open")
    sorted_by_second.set()
    first = await first_task
    assert first.code == 200 and second.code == 200, (first, second)
    aside = [c["conflict_path"] for r in (first, second) for c in r.json["conflicts"]]
    assert aside == [], aside
    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".ipynb")
    assert names == sorted(f"n{n}.ipynb" for n in range(FILES)), names


async def test_a_copy_that_keeps_an_old_mtime_is_set_aside_too(
    api: Api, services: Any, tmp_path: Path
) -> None:
    """`cp -p`, `rsync -t`, `tar x` and `unzip` write files with the mtime they had
    elsewhere: a file changed without the lease is no less changed for it."""
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
    r = await api("DELETE", f"workspaces/{wid}/lock")
    assert r.code == 204, r
    folder = services.folders.local_path(wid)
    old = (folder / "a.ipynb").stat().st_mtime_ns - 3_600 * 10**9  # an hour before
    for name in ("a.ipynb", "extracted.txt"):  # a changed file and a new one
        (folder / name).write_text(MARK if name.endswith(".txt") else notebook_text(MARK))
        os.utime(folder / name, ns=(old, old))

    reopened = await open_(api, wid)
    await backup_now(api, wid)
    assert in_store(tmp_path / "store", MARK) == []
    aside = {c["path"] for c in reopened["conflicts"] if c["kind"] == "no-lease"}
    assert aside == {"a.ipynb", "extracted.txt"}, reopened["conflicts"]
    assert "v1" in (folder / "a.ipynb").read_text()


async def test_reopening_a_workspace_one_holds_never_sets_aside_ones_own_edits(
    api: Api, services: Any, tmp_path: Path
) -> None:
    """A second tab or a page reload opens the Workspace again without closing it: edits
    saved under the lease and not yet backed up are the holder's, not no-lease writes."""
    wid = await create(api)
    opened = await open_(api, wid)
    path = f"{opened['path']}/a.ipynb"
    for version in ("v1", "v2"):
        r = await api(
            "PUT", path, {"type": "notebook", "content": notebook(version)}, base="api/contents"
        )
        assert r.code in (200, 201), r
        if version == "v1":
            await backup_now(api, wid)
    again = await open_(api, wid)
    assert again["conflicts"] == [], again["conflicts"]
    folder = services.folders.local_path(wid)
    assert "v2" in (folder / "a.ipynb").read_text()
    await backup_now(api, wid)
    assert [p.name for p in in_store(tmp_path / "store", "v2")] == ["a.ipynb"]
