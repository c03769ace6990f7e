"""The file-id service (jupyter-server-fileid) maps paths to ids and back: neither way may
tell an outsider about a Workspace's files, however the query is spelt."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api
from test_core_read_isolation import IDC, workspace_with_files


@pytest.fixture
def studio_config(studio_config: dict[str, Any]) -> dict[str, Any]:
    return {**studio_config, **IDC}


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["ServerApp"]["jpserver_extensions"]["jupyter_server_fileid"] = True
    return jp_server_config


async def test_an_outsider_learns_no_file_id_or_path_of_a_workspace(
    api: Api, jp_fetch: Any, jp_serverapp: Any
) -> None:
    wid = await workspace_with_files(api)
    path = f"workspaces/{wid}/a.txt"
    file_id = jp_serverapp.web_app.settings["file_id_manager"].index(path)

    async def get(route: str, user: str, **params: str) -> int:
        r = await jp_fetch(
            "api", "fileid", route, params=params, headers={"X-Test-User": user}, raise_error=False
        )
        return int(r.code)

    # tornado's get_argument strips whitespace around the value the handler reads
    for spelling in (path, f" {path}", f"{path}\t", f"\u00a0{path}"):
        assert await get("id", "dave", path=spelling) == 403, repr(spelling)
        assert await get("id", "bob", path=spelling) == 200, repr(spelling)
    assert await get("path", "dave", id=file_id) == 403
    assert await get("path", "bob", id=file_id) == 200
