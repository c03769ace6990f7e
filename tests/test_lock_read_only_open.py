"""A user who does not hold a Workspace can open its files in JupyterLab and read them,
with and without jupyter-collaboration; every write stays refused (423).

When JupyterLab's document context opens a file it creates a checkpoint if the file has
none, unless the contents model says ``writable: false`` or the document is collaborative
(``@jupyterlab/docregistry`` ``Context._populate`` → ``_maybeCheckpoint``), and any
failure there other than 403 is a *File Load Error*. The lock refuses that checkpoint
with 423, so without collaboration the server must say ``writable: false`` to a
non-holder; with collaboration nothing changes (the refused save is then shown by the
panel, which needs JupyterLab to start it: see docs/panel.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import Api


async def jupyter(api: Api, method: str, path: str, body: Any = None, user: str = "alice") -> Any:
    return await api(method, path, body, user=user, base="api")


async def jupyterlab_opens(api: Api, path: str, user: str, collaborative: bool) -> dict[str, Any]:
    """What JupyterLab 4's document context does when it opens ``path`` (``_revert`` then
    ``_populate``): the model, then a checkpoint if it may save and the file has none.
    Raises AssertionError where JupyterLab would show "File Load Error"."""
    query = {"type": "notebook", "content": "1", "hash": "1"}
    r = await api("GET", f"contents/{path}", user=user, base="api", params=query)
    assert r.code == 200, r
    model: dict[str, Any] = r.json
    if model["writable"] and not collaborative:  # Context.canSave
        listed = await jupyter(api, "GET", f"contents/{path}/checkpoints", user=user)
        assert listed.code == 200, listed
        if not listed.json:
            made = await jupyter(api, "POST", f"contents/{path}/checkpoints", user=user)
            assert made.code in (201, 403), made  # 403: "a read-only folder", tolerated
    return model


@pytest.fixture(params=["without collaboration", "with collaboration"])
def collaboration(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "with collaboration")


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], collaboration: bool) -> dict[str, Any]:
    """The server as installed with jupyter-collaboration, or with its extension off."""
    jp_server_config["ServerApp"]["jpserver_extensions"].update(
        {"jupyter_server_fileid": collaboration, "jupyter_server_ydoc": collaboration}
    )
    return jp_server_config


def assert_locked(r: Any) -> None:
    assert r.code == 423, r
    assert "read-only for you" in r.json["message"], r
    assert "alice" in r.json["message"], r  # names who holds it


async def test_non_holder_opens_a_workspace_notebook_and_every_write_is_refused(
    api: Api, jp_serverapp: Any, jp_root_dir: Path, collaboration: bool
) -> None:
    assert ("jupyter_server_ydoc" in jp_serverapp.web_app.settings) is collaboration
    wid = (await api("POST", "workspaces", {"name": "w"})).json["id"]
    assert (await api("POST", f"workspaces/{wid}/open")).code == 200
    folder = f"workspaces/{wid}"
    path = f"{folder}/nb.ipynb"
    # a notebook with no checkpoint yet (restored from the backups, or written by a
    # kernel): a save through the contents API would make one in the background
    nbformat.write(nbformat.v4.new_notebook(), jp_root_dir / path)
    notebook = {"type": "notebook", "content": nbformat.v4.new_notebook()}

    # bob opens it as JupyterLab does: no File Load Error
    seen = await jupyterlab_opens(api, path, "bob", collaboration)
    assert seen["content"]["nbformat"] == 4
    # without collaboration JupyterLab must not try the checkpoint; with it, the
    # document is collaborative and the model stays as it was
    assert seen["writable"] is collaboration
    assert not (await jupyter(api, "GET", f"contents/{path}/checkpoints", user="bob")).json

    # the holder's model is writable, and her open makes the first checkpoint
    mine = await jupyterlab_opens(api, path, "alice", collaboration)
    assert mine["writable"] is True
    listed = (await jupyter(api, "GET", f"contents/{path}/checkpoints")).json
    assert len(listed) == (0 if collaboration else 1)
    checkpoint = listed[0]["id"] if listed else "20260101T000000000000Z"

    # every write of bob's is still refused, naming the holder
    edited = {"type": "notebook", "content": nbformat.v4.new_notebook(metadata={"bob": 1})}
    assert_locked(await jupyter(api, "PUT", f"contents/{path}", edited, user="bob"))
    assert_locked(await jupyter(api, "POST", f"contents/{path}/checkpoints", user="bob"))
    assert_locked(
        await jupyter(api, "POST", f"contents/{path}/checkpoints/{checkpoint}", user="bob")
    )
    assert_locked(
        await jupyter(api, "PATCH", f"contents/{path}", {"path": f"{folder}/b.ipynb"}, user="bob")
    )
    assert_locked(await jupyter(api, "DELETE", f"contents/{path}", user="bob"))
    assert_locked(await jupyter(api, "POST", f"contents/{folder}", {"type": "file"}, user="bob"))
    after = await api("GET", f"contents/{path}", base="api", params={"content": "1"})
    assert "bob" not in after.json["content"]["metadata"]
    assert (await jupyter(api, "GET", f"contents/{path}/checkpoints")).json == listed

    # outside the Workspace nothing changes for bob
    assert (await jupyter(api, "PUT", "contents/mine.ipynb", notebook, user="bob")).code == 201
    assert (await jupyterlab_opens(api, "mine.ipynb", "bob", collaboration))["writable"] is True


async def test_a_non_holder_who_takes_the_lease_may_save_what_was_read_only(
    api: Api, collaboration: bool
) -> None:
    """``writable`` follows the lease at each request: once alice closes and bob opens
    the Workspace, his next look at the file (a save, a reload) says he may write."""
    wid = (await api("POST", "workspaces", {"name": "w"})).json["id"]
    opened = await api("POST", f"workspaces/{wid}/open")
    assert opened.code == 200, opened
    path = f"workspaces/{wid}/a.txt"
    text = {"type": "file", "format": "text", "content": "x = 1\n"}
    assert (await jupyter(api, "PUT", f"contents/{path}", text)).code == 201
    before = (await jupyter(api, "GET", f"contents/{path}", user="bob")).json["writable"]
    assert before is collaboration
    closed = await api("POST", f"workspaces/{wid}/close", {"token": opened.json["lease"]["token"]})
    assert closed.code == 204, closed
    assert (await api("POST", f"workspaces/{wid}/open", user="bob")).code == 200
    assert (await jupyter(api, "GET", f"contents/{path}", user="bob")).json["writable"] is True
    assert (await jupyter(api, "GET", f"contents/{path}")).json["writable"] is collaboration
    saved = await jupyter(api, "PUT", f"contents/{path}", {**text, "content": "x = 2\n"}, "bob")
    assert saved.code == 200 and saved.json["writable"] is True, saved
