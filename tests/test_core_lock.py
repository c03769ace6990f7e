"""The lease lock has no side doors: legacy session bodies, session PATCH/DELETE, kernel
channels/restart/interrupt, symlinks into a Workspace, a kernel started by a route the
lock does not know, and respellings of ``c.Studio.workspaces_dir``. alice holds the
Workspace; bob, on the same server, does not."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient
import tornado.websocket
from conftest import Api, Response
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web
from traitlets.config import Config

from jupyter_emr_workspace.errors import ConfigError
from jupyter_emr_workspace.folders import WorkspaceFolders
from jupyter_emr_workspace.studio import Studio

TEXT = {"type": "file", "format": "text", "content": "hello"}


async def open_workspace(api: Api, user: str = "alice", name: str = "w") -> str:
    wid = (await api("POST", "workspaces", {"name": name}, user=user)).json["id"]
    assert (await api("POST", f"workspaces/{wid}/open", user=user)).code == 200
    return str(wid)


def assert_refused(r: Response, status: int = 423) -> None:
    assert r.code == status, r
    if status == 423:
        assert (
            "read-only for you" in r.json["message"] or "open on this server" in (r.json["message"])
        ), r


async def jupyter(api: Api, method: str, path: str, body: Any = None, user: str = "alice") -> Any:
    return await api(method, path, body, user=user, base="api")


async def start_session(api: Api, folder: str, user: str = "alice") -> dict[str, Any]:
    body = {
        "path": f"{folder}/nb.ipynb",
        "type": "notebook",
        "name": "nb.ipynb",
        "kernel": {"name": "python3"},
    }
    r = await jupyter(api, "POST", "sessions", body, user=user)
    assert r.code == 201, r
    return dict(r.json)


async def kernel_ids(api: Api) -> list[str]:
    return [k["id"] for k in (await jupyter(api, "GET", "kernels")).json]


async def test_non_holder_cannot_start_a_kernel_with_the_legacy_session_body(api: Api) -> None:
    wid = await open_workspace(api)
    for notebook in ({"path": f"workspaces/{wid}/x.ipynb"}, {"name": f"workspaces/{wid}/x.ipynb"}):
        body = {"notebook": notebook, "kernel": {"name": "python3"}}
        assert_refused(await jupyter(api, "POST", "sessions", body, user="bob"))
        # the legacy field wins over "path", as jupyter_server reads it
        body["path"] = "outside.ipynb"
        body["type"] = "notebook"
        assert_refused(await jupyter(api, "POST", "sessions", body, user="bob"))
    assert (await jupyter(api, "GET", "sessions")).json == []
    assert await kernel_ids(api) == []


async def test_non_holder_cannot_patch_or_delete_the_holders_session(api: Api) -> None:
    wid = await open_workspace(api)
    session = await start_session(api, f"workspaces/{wid}")
    sid, kid = session["id"], session["kernel"]["id"]

    assert_refused(
        await jupyter(api, "PATCH", f"sessions/{sid}", {"kernel": {"name": "python3"}}, "bob")
    )
    assert_refused(
        await jupyter(api, "PATCH", f"sessions/{sid}", {"path": "elsewhere.ipynb"}, "bob")
    )
    assert_refused(await jupyter(api, "DELETE", f"sessions/{sid}", user="bob"))
    # nothing changed: the same session and kernel, and no second kernel
    assert (await jupyter(api, "GET", f"sessions/{sid}", user="bob")).json["kernel"]["id"] == kid
    assert await kernel_ids(api) == [kid]
    # a session outside the Workspace cannot be moved in, or rebound to its kernel
    outside = await start_session(api, "")
    moved = {"path": f"workspaces/{wid}/stolen.ipynb"}
    assert_refused(await jupyter(api, "PATCH", f"sessions/{outside['id']}", moved, "bob"))
    rebound = {"kernel": {"id": kid}}
    assert_refused(await jupyter(api, "PATCH", f"sessions/{outside['id']}", rebound, "bob"))
    assert (await jupyter(api, "DELETE", f"sessions/{outside['id']}", user="bob")).code == 204

    # the holder may do all of it
    r = await jupyter(api, "PATCH", f"sessions/{sid}", {"kernel": {"name": "python3"}})
    assert r.code == 200 and r.json["kernel"]["id"] != kid, r
    assert (await jupyter(api, "DELETE", f"sessions/{sid}")).code == 204


async def test_non_holder_cannot_restart_interrupt_or_stop_the_holders_kernel(api: Api) -> None:
    wid = await open_workspace(api)
    kid = (await start_session(api, f"workspaces/{wid}"))["kernel"]["id"]
    assert_refused(await jupyter(api, "POST", f"kernels/{kid}/restart", {}, "bob"))
    assert_refused(await jupyter(api, "POST", f"kernels/{kid}/interrupt", {}, "bob"))
    assert_refused(await jupyter(api, "DELETE", f"kernels/{kid}", user="bob"))
    assert await kernel_ids(api) == [kid]
    assert (await jupyter(api, "POST", f"kernels/{kid}/interrupt", {})).code == 204


def execute_request(code: str) -> tuple[str, str]:
    msg_id = uuid.uuid4().hex
    msg = {
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "test",
            "session": uuid.uuid4().hex,
            "date": "",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False},
        "channel": "shell",
        "buffers": [],
    }
    return msg_id, json.dumps(msg)


async def execute(ws: Any, code: str) -> dict[str, Any] | None:
    """Run code on a kernel's channels; the execute_reply, or None if the socket closed."""
    msg_id, message = execute_request(code)
    await ws.write_message(message)
    while True:
        raw = await asyncio.wait_for(ws.read_message(), 60)
        if raw is None:
            return None
        reply = json.loads(raw)
        if reply.get("parent_header", {}).get("msg_id") == msg_id and reply["msg_type"] == (
            "execute_reply"
        ):
            return dict(reply["content"])


async def test_non_holder_cannot_run_code_on_the_holders_kernel(
    api: Api, jp_ws_fetch: Any, jp_root_dir: Path
) -> None:
    wid = await open_workspace(api)
    kid = (await start_session(api, f"workspaces/{wid}"))["kernel"]["id"]
    target = jp_root_dir / "workspaces" / wid / "pwned.txt"
    code = "open('pwned.txt', 'w').write('bob was here')"

    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await jp_ws_fetch("api", "kernels", kid, "channels", headers={"X-Test-User": "bob"})
    assert refused.value.code == 423, refused.value

    # the holder runs code there; once the lease is given up, the same connection stops
    ws = await jp_ws_fetch("api", "kernels", kid, "channels", headers={"X-Test-User": "alice"})
    try:
        reply = await execute(ws, "open('mine.txt', 'w').write('alice')")
        assert reply is not None and reply["status"] == "ok", reply
        assert (target.parent / "mine.txt").read_text() == "alice"
        lease = (await api("POST", f"workspaces/{wid}/open")).json["lease"]
        closed = await api("POST", f"workspaces/{wid}/close", {"token": lease["token"]})
        assert closed.code == 204, closed
        assert await execute(ws, code) is None
    finally:
        ws.close()
    assert not target.exists()


async def test_a_symlink_into_a_workspace_is_that_workspace(api: Api, jp_root_dir: Path) -> None:
    wid = await open_workspace(api)
    folder = jp_root_dir / "workspaces" / wid
    (folder / "a.txt").write_text("alice's")
    os.symlink(folder, jp_root_dir / "link")
    os.symlink(folder / "a.txt", jp_root_dir / "a-link.txt")

    async def contents(method: str, path: str, body: Any = None, user: str = "bob") -> Any:
        return await api(method, path, body, user=user, base="api/contents")

    assert_refused(await contents("PUT", "link/a.txt", TEXT))
    assert_refused(await contents("PUT", "link/new.txt", TEXT))
    assert_refused(await contents("PUT", "a-link.txt", TEXT))
    assert_refused(await contents("DELETE", "link/a.txt"))
    assert_refused(await contents("PATCH", "link/a.txt", {"path": "stolen.txt"}))
    assert_refused(await contents("PATCH", "outside.txt", {"path": "link/in.txt"}))
    assert_refused(await contents("POST", "link", {"type": "file"}))
    body = {"path": "link/nb.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    assert_refused(await jupyter(api, "POST", "sessions", body, "bob"))
    assert_refused(
        await jupyter(api, "POST", "kernels", {"name": "python3", "path": "link"}, "bob")
    )
    assert (folder / "a.txt").read_text() == "alice's"
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt"]
    # the holder writes through it
    assert (await contents("PUT", "link/a.txt", TEXT, user="alice")).code == 200
    assert (folder / "a.txt").read_text() == "hello"


@pytest.fixture
def studio_config(studio_config: dict[str, Any], request: pytest.FixtureRequest) -> Any:
    return {**studio_config, **getattr(request, "param", {})}


@pytest.mark.parametrize(
    "studio_config",
    [
        {"workspaces_dir": "./workspaces"},
        {"workspaces_dir": "workspaces/"},
        {"workspaces_dir": "x/../workspaces"},
    ],
    indirect=True,
)
async def test_respelled_workspaces_dir_keeps_the_lock(api: Api) -> None:
    wid = await open_workspace(api)
    r = await api("PUT", f"workspaces/{wid}/a.txt", TEXT, user="bob", base="api/contents")
    assert_refused(r)
    assert (await api("PUT", f"workspaces/{wid}/a.txt", TEXT, base="api/contents")).code == 201


@pytest.mark.parametrize(
    ("value", "normal"),
    [("./workspaces", "workspaces"), ("workspaces/", "workspaces"), ("a//b/./c", "a/b/c")],
)
def test_workspaces_dir_has_one_spelling(value: str, normal: str) -> None:
    studio = Studio(config=Config({"Studio": {"workspaces_dir": value}}))
    studio.validate()
    assert studio.workspaces_dir == normal
    assert WorkspaceFolders("/tmp", value).workspaces_dir == normal


@pytest.mark.parametrize("value", ["", ".", "./", "..", "../x", "/abs", "~/x", "a\\b", "x/../.."])
def test_workspaces_dir_outside_the_root_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"c\.Studio\.workspaces_dir"):
        Studio(config=Config({"Studio": {"workspaces_dir": value}})).validate()


class KernelStarter(APIHandler):
    """A route from a future extension that starts kernels without asking the lock."""

    @web.authenticated
    async def post(self) -> None:
        model = self.get_json_body() or {}
        kid = await self.kernel_manager.start_kernel(kernel_name="python3", path=model["path"])
        self.finish(json.dumps({"id": kid}))


class Writer(APIHandler):
    """A route from a future extension that writes a file, asking the authorizer."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        model = self.get_json_body() or {}
        target = Path(self.contents_manager.root_dir, model["path"])
        await asyncio.to_thread(target.write_text, "written")
        self.finish("{}")


@pytest.fixture
def future_routes(jp_serverapp: Any, jp_base_url: str) -> None:
    jp_serverapp.web_app.add_handlers(
        ".*$",
        [
            (f"{jp_base_url}future/start", KernelStarter),
            (f"{jp_base_url}future/write", Writer),
        ],
    )


async def test_a_route_the_lock_does_not_know_cannot_change_a_workspace(
    api: Api, future_routes: None, jp_root_dir: Path
) -> None:
    wid = await open_workspace(api)
    folder = f"workspaces/{wid}"
    r = await api("POST", "start", {"path": folder}, user="bob", base="future")
    assert_refused(r)
    r = await api("POST", "write", {"path": f"{folder}/a.txt"}, user="bob", base="future")
    assert r.code == 403 and "not known to respect" in r.json["message"], r
    assert not (jp_root_dir / folder / "a.txt").exists()
    assert await kernel_ids(api) == []
    # outside the Workspaces folder such routes work as before
    assert (await api("POST", "write", {"path": "a.txt"}, user="bob", base="future")).code == 200


async def test_code_cannot_run_beside_a_workspace_someone_else_holds(api: Api) -> None:
    await open_workspace(api)
    # bob's kernel outside the Workspace could still write into it
    r = await jupyter(api, "POST", "kernels", {"name": "python3"}, "bob")
    assert r.code == 423 and "open on this server by alice" in r.json["message"], r
    assert await kernel_ids(api) == []
    r = await jupyter(api, "POST", "kernels", {"name": "python3"})
    assert r.code == 201, r
    assert (await jupyter(api, "DELETE", f"kernels/{r.json['id']}")).code == 204


def test_places_follow_the_file_system(tmp_path: Path) -> None:
    """Unit rules of folders.places: symlinks anywhere on the way, dangling ones, a
    Workspaces folder that is itself a symlink, and the link entry itself."""
    wid = "e-" + "A" * 25
    disk = tmp_path / "disk"
    (disk / wid / "sub").mkdir(parents=True)
    root = tmp_path / "root"
    root.mkdir()
    (root / "workspaces").symlink_to(disk)  # the admin keeps Workspaces on another disk
    (root / "dir").mkdir()
    (root / "dir" / "deep").symlink_to(disk / wid / "sub")
    (root / "dangling").symlink_to(disk / wid / "not-yet.txt")
    (root / "loop").symlink_to(root / "loop")
    folders = WorkspaceFolders(root, "workspaces")
    assert folders.places(f"workspaces/{wid}/sub/a.txt") == [(wid, "sub/a.txt")]
    assert folders.places("dir/deep/a.txt") == [(wid, "sub/a.txt")]
    assert folders.places("dir/deep/../x") == [(None, "dir/x")]  # '..' as the API reads it
    assert folders.places("dangling") == [(wid, "not-yet.txt")]
    assert folders.places("workspaces") == [("", "")]
    assert folders.places("dir/a.txt") == [(None, "dir/a.txt")]
    assert folders.places("loop/x") == [(None, "loop/x")]
    assert folders.places("") == [(None, "")]


@pytest.mark.parametrize(
    ("spelling", "status"),
    [
        ("workspaces%2F{wid}%2Fa.txt", 423),
        ("workspaces/%2e%2e/workspaces/{wid}/a.txt", 423),
        ("x/..%2F..%2Fworkspaces/{wid}/a.txt", 423),
        ("%77orkspaces/{wid}/a.txt", 423),
        ("workspaces//{wid}/./a.txt", 404),  # tornado's router matches no route
    ],
)
async def test_encoded_paths_are_judged_decoded(
    api: Api,
    spelling: str,
    status: int,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: Any,
) -> None:
    """A regression guard: tornado hands handlers decoded paths, and so must the lock."""
    wid = await open_workspace(api)
    url = f"http://localhost:{jp_http_port}{jp_base_url}api/contents/{spelling.format(wid=wid)}"
    request = tornado.httpclient.HTTPRequest(
        url, method="PUT", body=json.dumps(TEXT), headers={**jp_auth_header, "X-Test-User": "bob"}
    )
    r = await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
    assert r.code == status, r.body
    listing = (await api("GET", f"workspaces/{wid}", base="api/contents")).json
    assert listing["content"] == []


class KernelDriver(APIHandler):
    """A future extension's route that acts on a kernel by id, asking the authorizer."""

    auth_resource = "kernels"

    @web.authenticated
    @authorized
    async def post(self, kernel_id: str) -> None:
        await self.kernel_manager.interrupt_kernel(kernel_id)
        self.finish("{}")


async def test_an_unknown_route_acting_on_a_kernel_is_judged_by_its_folder(
    api: Api, jp_serverapp: Any, jp_base_url: str
) -> None:
    jp_serverapp.web_app.add_handlers(
        ".*$", [(rf"{jp_base_url}future/kernels/(?P<kernel_id>[\w-]+)", KernelDriver)]
    )
    wid = await open_workspace(api)
    kid = (await start_session(api, f"workspaces/{wid}"))["kernel"]["id"]
    assert_refused(await api("POST", f"kernels/{kid}", {}, user="bob", base="future"))
    assert (await api("POST", f"kernels/{kid}", {}, base="future")).code == 200
    # asking what one may do is not doing it
    r = await api(
        "GET", "me", user="bob", base="api", params={"permissions": '{"kernels": ["execute"]}'}
    )
    assert r.code == 200, r


async def test_opening_a_workspace_stops_kernels_of_users_who_may_no_longer_run_code(
    api: Api,
) -> None:
    """bob starts a kernel while nothing is held (allowed); a thread in it could write
    into any folder. When alice opens a Workspace, bob's kernel is stopped before her
    files are restored; alice's own kernel keeps running."""
    r = await jupyter(api, "POST", "kernels", {"name": "python3"}, user="bob")
    assert r.code == 201, r
    bobs = r.json["id"]
    r = await jupyter(api, "POST", "kernels", {"name": "python3"}, user="alice")
    assert r.code == 201, r
    alices = r.json["id"]
    wid = (await api("POST", "workspaces", {"name": "w"})).json["id"]
    r = await api("POST", f"workspaces/{wid}/open")
    assert r.code == 200 and r.json["stopped_kernels"] == 1, r
    assert (await jupyter(api, "GET", f"kernels/{bobs}", user="bob")).code == 404
    assert (await jupyter(api, "GET", f"kernels/{alices}")).code == 200
    # reopening (a second tab) stops nothing more
    r = await api("POST", f"workspaces/{wid}/open")
    assert r.code == 200 and "stopped_kernels" not in r.json, r
