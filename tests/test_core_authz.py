"""Server-side lock enforcement through the jupyter_server Authorizer: the contents,
sessions and kernels APIs refuse writes in a Workspace's folder to anyone who does not
hold its lease, and the Authorizer only narrows the one already configured."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api, Response
from jupyter_server.auth.authorizer import AllowAllAuthorizer

TEXT = {"type": "file", "format": "text", "content": "hello"}


class InnerAuthorizer(AllowAllAuthorizer):
    """The authorizer already configured (JupyterHub's, say): carol may only read."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (user.username == "carol" and action != "read")


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], request: pytest.FixtureRequest) -> dict:
    if getattr(request, "param", None) == "inner":
        jp_server_config["ServerApp"]["authorizer_class"] = f"{__name__}.InnerAuthorizer"
    return jp_server_config


@pytest.fixture
def contents(api: Api) -> Any:
    async def call(method: str, path: str, body: Any = None, *, user: str = "alice") -> Response:
        return await api(method, path, body, user=user, base="api/contents")

    return call


async def open_workspace(api: Api, user: str = "alice", name: str = "w") -> str:
    wid = (await api("POST", "workspaces", {"name": name}, user=user)).json["id"]
    assert (await api("POST", f"workspaces/{wid}/open", user=user)).code == 200
    return str(wid)


def assert_locked(r: Response, holder: str = "alice") -> None:
    assert r.code == 423, r
    message = r.json["message"]
    assert "read-only for you" in message and holder in message, message


async def test_others_cannot_write_in_an_open_workspace(api: Api, contents: Any) -> None:
    wid = await open_workspace(api)
    folder = f"workspaces/{wid}"
    assert (await contents("PUT", f"{folder}/a.txt", TEXT)).code == 201
    assert (await contents("PUT", "outside.txt", TEXT, user="bob")).code == 201

    # bob: every kind of write is refused, naming alice
    assert_locked(await contents("PUT", f"{folder}/a.txt", TEXT, user="bob"))
    assert_locked(await contents("PUT", f"{folder}/new.txt", TEXT, user="bob"))
    assert_locked(await contents("PUT", f"{folder}/sub", {"type": "directory"}, user="bob"))
    assert_locked(
        await contents("PATCH", f"{folder}/a.txt", {"path": f"{folder}/b.txt"}, user="bob")
    )
    assert_locked(await contents("PATCH", f"{folder}/a.txt", {"path": "stolen.txt"}, user="bob"))
    assert_locked(await contents("PATCH", "outside.txt", {"path": f"{folder}/in.txt"}, user="bob"))
    assert_locked(await contents("DELETE", f"{folder}/a.txt", user="bob"))
    assert_locked(await contents("POST", folder, {"type": "file"}, user="bob"))
    assert_locked(await contents("POST", folder, {"copy_from": "outside.txt"}, user="bob"))
    assert_locked(await contents("POST", f"{folder}/a.txt/checkpoints", user="bob"))
    # nothing changed
    listing = (await contents("GET", folder, user="bob")).json
    assert sorted(c["name"] for c in listing["content"]) == ["a.txt"]

    # reading stays open, and so does copying out of the Workspace
    r = await contents("GET", f"{folder}/a.txt", user="bob")
    assert r.code == 200 and r.json["content"] == "hello"
    r = await contents("POST", "", {"copy_from": f"{folder}/a.txt"}, user="bob")
    assert r.code == 201, r

    # kernels and sessions in the folder are refused too
    session = {
        "path": f"{folder}/nb.ipynb",
        "type": "notebook",
        "name": "nb.ipynb",
        "kernel": {"name": "python3"},
    }
    assert_locked(await api("POST", "sessions", session, user="bob", base="api"))
    assert_locked(
        await api("POST", "kernels", {"name": "python3", "path": folder}, user="bob", base="api")
    )
    assert (await api("GET", "sessions", user="bob", base="api")).json == []

    # alice, who holds the lease, may do all of it
    assert (await contents("PUT", f"{folder}/a.txt", {**TEXT, "content": "v2"})).code == 200
    assert (await contents("POST", f"{folder}/a.txt/checkpoints")).code == 201
    assert (await contents("PATCH", f"{folder}/a.txt", {"path": f"{folder}/b.txt"})).code == 200
    assert (await contents("POST", folder, {"copy_from": "outside.txt"})).code == 201
    assert (await contents("POST", folder, {"type": "file"})).code == 201
    assert (await contents("DELETE", f"{folder}/b.txt")).code == 204
    r = await api("POST", "sessions", session, base="api")
    assert r.code == 201, r
    assert (await api("DELETE", f"sessions/{r.json['id']}", base="api")).code == 204


async def test_after_close_nobody_writes_until_someone_opens(api: Api, contents: Any) -> None:
    wid = await open_workspace(api)
    folder = f"workspaces/{wid}"
    lease = (await api("POST", f"workspaces/{wid}/open")).json["lease"]
    assert (await api("POST", f"workspaces/{wid}/close", {"token": lease["token"]})).code == 204
    r = await contents("PUT", f"{folder}/a.txt", TEXT)
    assert r.code == 423 and "open it in the EMR Workspaces panel" in r.json["message"]
    assert (await api("POST", f"workspaces/{wid}/open", user="bob")).code == 200
    assert (await contents("PUT", f"{folder}/a.txt", TEXT, user="bob")).code == 201
    assert_locked(await contents("PUT", f"{folder}/a.txt", TEXT), holder="bob")


async def test_the_workspaces_folder_is_managed_by_the_extension(api: Api, contents: Any) -> None:
    wid = await open_workspace(api)
    for user in ("alice", "bob"):
        for r in (
            await contents("DELETE", f"workspaces/{wid}", user=user),
            await contents("PATCH", f"workspaces/{wid}", {"path": "renamed"}, user=user),
            await contents("PUT", "workspaces/x.txt", TEXT, user=user),
            await contents("PUT", "workspaces/e-NOTAWORKSPACE", {"type": "directory"}, user=user),
            await contents("POST", "workspaces", {"type": "directory"}, user=user),
            await contents("DELETE", "workspaces", user=user),
            await contents("PATCH", "workspaces", {"path": "elsewhere"}, user=user),
        ):
            assert r.code == 403, r
            assert "EMR Workspaces panel" in r.json["message"], r
    listing = (await contents("GET", "workspaces")).json
    assert [c["name"] for c in listing["content"]] == [wid]
    assert (await contents("GET", f"workspaces/{wid}", user="bob")).code == 200


async def test_files_outside_workspaces_are_unaffected(api: Api, contents: Any) -> None:
    await open_workspace(api)
    assert (await contents("PUT", "notes", {"type": "directory"}, user="bob")).code == 201
    assert (await contents("PUT", "notes/a.txt", TEXT, user="bob")).code == 201
    assert (await contents("PATCH", "notes/a.txt", {"path": "notes/b.txt"}, user="bob")).code == 200
    assert (await contents("PUT", "notes/b.txt", TEXT, user="carol")).code == 200
    assert (await contents("DELETE", "notes/b.txt", user="bob")).code == 204


@pytest.mark.parametrize("jp_server_config", ["inner"], indirect=True)
async def test_composes_with_the_configured_authorizer_and_never_widens_it(
    api: Api, contents: Any, jp_serverapp: Any
) -> None:
    from jupyter_emr_workspace.lock_authorizer import WorkspaceAuthorizer

    # the chain in effect: [parts' wrappers ->] ours -> the configured one, at the bottom
    chain = [jp_serverapp.web_app.settings["authorizer"]]
    while hasattr(chain[-1], "inner"):
        chain.append(chain[-1].inner)
    assert any(isinstance(a, WorkspaceAuthorizer) for a in chain), chain
    assert isinstance(chain[-1], InnerAuthorizer), chain

    # carol holds her Workspace's lease, but the inner authorizer lets her only read
    wid = await open_workspace(api, user="carol", name="carols")
    r = await contents("PUT", f"workspaces/{wid}/a.txt", TEXT, user="carol")
    assert r.code == 403, r
    assert (await contents("PUT", "c.txt", TEXT, user="carol")).code == 403
    assert (await contents("GET", f"workspaces/{wid}", user="carol")).code == 200
    # others are judged by both: alice writes outside, is locked out of carol's Workspace
    assert (await contents("PUT", "a.txt", TEXT)).code == 201
    assert_locked(await contents("PUT", f"workspaces/{wid}/a.txt", TEXT), holder="carol")
