"""The admin's contents manager wins over the extension's own choice (in-process server).

These are the tests of the conflict, so they set ``contents_manager_class``; the only
other test that does is the same conflict on a real process
(``test_storage_as_installed.py``: an admin's own manager turns backups off). A plain
install (none set) is the rest of ``test_storage_as_installed.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from jupyter_emr_workspace.contents.manager import WorkspaceContentsManager


class AdminsManager(WorkspaceContentsManager):
    """An admin's own subclass (e.g. to add a pre-save hook)."""


STOCK = "jupyter_server.services.contents.largefilemanager.AsyncLargeFileManager"


@pytest.fixture
def jp_server_config(
    jp_server_config: dict[str, Any], request: pytest.FixtureRequest
) -> dict[str, Any]:
    """A test's ``indirect`` param is the admin's choice; without one, nothing is chosen."""
    if hasattr(request, "param"):
        jp_server_config["ServerApp"]["contents_manager_class"] = request.param
    return jp_server_config


@pytest.mark.parametrize("jp_server_config", [AdminsManager], indirect=True)
async def test_a_chosen_subclass_of_the_workspace_manager_is_kept_with_backups_on(
    api: Any, jp_serverapp: Any
) -> None:
    assert type(jp_serverapp.contents_manager) is AdminsManager
    r = await api("GET", "studio")
    assert r.json["backups"] == {
        "enabled": True,
        "reason": None,
        "contents_manager": f"{__name__}.AdminsManager",
    }


@pytest.mark.parametrize("jp_server_config", [STOCK], indirect=True)
async def test_the_stock_manager_chosen_explicitly_is_kept_with_backups_off(
    api: Any, jp_serverapp: Any
) -> None:
    assert type(jp_serverapp.contents_manager) is AsyncLargeFileManager
    r = await api("GET", "studio")
    backups = r.json["backups"]
    assert backups["enabled"] is False and backups["contents_manager"] == STOCK
    assert STOCK in backups["reason"]


async def test_outside_workspaces_checkpoints_are_the_stock_file_checkpoints(
    jp_serverapp: Any, jp_root_dir: Path
) -> None:
    """Same class family, same config, same place on disk as stock checkpoints."""
    manager = jp_serverapp.contents_manager
    assert isinstance(manager, WorkspaceContentsManager)
    assert isinstance(manager.checkpoints, AsyncFileCheckpoints)
    await manager.save({"type": "file", "format": "text", "content": "x"}, "plain.txt")
    checkpoint = await manager.create_checkpoint("plain.txt")
    on_disk = jp_root_dir / ".ipynb_checkpoints" / f"plain-{checkpoint['id']}.txt"
    assert on_disk.read_text() == "x"
    assert on_disk == Path(manager.checkpoints.checkpoint_path(checkpoint["id"], "plain.txt"))
