"""Attacks on the lease lock and the read isolation that the first tests did not try:
request bodies that jupyter_server reads differently from a plain ``json.loads``, paths
the file system cannot hold, and the event stream. alice holds the Workspace; bob, on
the same server, does not."""

from __future__ import annotations

import asyncio
import json
import os
import traceback
from collections.abc import Awaitable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import tornado.httpclient
from conftest import Api
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async
from test_core_lock import TEXT, jupyter, kernel_ids, open_workspace, start_session
from test_core_read_isolation import IAM, IDC, workspace_with_files
from tornado import web

from jupyter_emr_workspace.errors import Forbidden
from jupyter_emr_workspace.read_access import ReadAccess
from jupyter_emr_workspace.studio import Identity


@pytest.fixture
def studio_config(studio_config: dict[str, Any], request: pytest.FixtureRequest) -> Any:
    return {**studio_config, **getattr(request, "param", {})}


@pytest.fixture
def raw(jp_http_port: int, jp_base_url: str, jp_auth_header: Any) -> Any:
    """``await raw("PATCH", "api/contents/x", b"...", user="bob")``: the URL and body
    exactly as given (no re-encoding), any status."""

    async def call(method: str, path: str, body: bytes | None = None, user: str = "bob") -> Any:
        request = tornado.httpclient.HTTPRequest(
            f"http://localhost:{jp_http_port}{jp_base_url}{path}",
            method=method,
            body=body,
            headers={**jp_auth_header, "X-Test-User": user},
            allow_nonstandard_methods=True,
        )
        return await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)

    return call


#: jupyter_server strips ASCII whitespace from a body before parsing it; JSON does not
#: count form feed or vertical tab as whitespace, so ``json.loads`` refuses these bodies.
PREFIXES = [b"\x0c", b"\x0b", b" \x0c\n"]


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_non_holder_cannot_rename_into_a_workspace_with_a_body_json_refuses(
    api: Api, raw: Any, jp_root_dir: Path, prefix: bytes
) -> None:
    wid = await open_workspace(api)
    assert (await api("PUT", "out.txt", TEXT, user="bob", base="api/contents")).code == 201
    move = prefix + json.dumps({"path": f"workspaces/{wid}/evil.txt"}).encode()
    r = await raw("PATCH", "api/contents/out.txt", move)
    assert r.code == 423, r.body
    assert os.listdir(jp_root_dir / "workspaces" / wid) == []
    assert (jp_root_dir / "out.txt").read_text() == "hello"


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_non_holder_cannot_move_a_session_or_start_a_kernel_with_a_body_json_refuses(
    api: Api, raw: Any, prefix: bytes
) -> None:
    wid = await open_workspace(api)
    own = await start_session(api, "")  # a session outside the Workspace
    moved = prefix + json.dumps({"path": f"workspaces/{wid}/stolen.ipynb"}).encode()
    r = await raw("PATCH", f"api/sessions/{own['id']}", moved)
    assert r.code == 423, r.body
    assert (await jupyter(api, "GET", f"sessions/{own['id']}")).json["path"] == own["path"]
    new = {"path": f"workspaces/{wid}/x.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    r = await raw("POST", "api/sessions", prefix + json.dumps(new).encode())
    assert r.code == 423, r.body  # refused by the lock, not a 500 from the kernel start
    assert await kernel_ids(api) == [own["kernel"]["id"]]


@pytest.mark.parametrize("studio_config", [IAM], indirect=True)
async def test_a_reader_denied_describe_editor_cannot_copy_out_with_a_body_json_refuses(
    api: Api, raw: Any, jp_root_dir: Path
) -> None:
    secret = await workspace_with_files(api, {"team": "secret"})
    copy = b"\x0c" + json.dumps({"copy_from": f"workspaces/{secret}/a.txt"}).encode()
    r = await raw("POST", "api/contents/", copy)
    assert r.code == 403, r.body
    assert os.listdir(jp_root_dir) == ["workspaces"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "api/contents/a%00b"),
        ("PUT", "api/contents/a%00b"),
        ("GET", "api/contents/workspaces/{wid}%00"),
        ("PUT", "api/contents/workspaces/{wid}/a%00.txt"),
        ("GET", "files/workspaces/{wid}/a%00.txt"),
        ("DELETE", "api/contents/workspaces/{wid}%00/x"),
    ],
)
async def test_a_path_no_file_can_have_is_a_clean_refusal(
    api: Api, raw: Any, jp_root_dir: Path, method: str, path: str
) -> None:
    """A NUL byte in a path: the lock must answer (or let jupyter_server answer) 4xx,
    never an unhandled 500, and change nothing."""
    wid = await open_workspace(api)
    body = json.dumps(TEXT).encode() if method == "PUT" else None
    r = await raw(method, path.format(wid=wid), body)
    assert 400 <= r.code < 500, r.body
    assert os.listdir(jp_root_dir / "workspaces" / wid) == []


@pytest.mark.parametrize("studio_config", [IDC], indirect=True)
async def test_the_event_stream_does_not_name_files_of_workspaces_one_cannot_read(
    api: Api, jp_ws_fetch: Any
) -> None:
    """/api/events/subscribe relays jupyter_server's contents events (the path of each
    file read, saved, renamed): an unassigned user must not learn a Workspace's file
    names from it; a member still sees them."""
    wid = await workspace_with_files(api)
    sockets = {
        user: await jp_ws_fetch("api", "events", "subscribe", headers={"X-Test-User": user})
        for user in ("dave", "bob")
    }
    try:
        inside = f"workspaces/{wid}/plans-for-q3.txt"
        assert (await api("PUT", inside, TEXT, base="api/contents")).code == 201
        assert (await api("PUT", "public.txt", TEXT, base="api/contents")).code == 201

        async def paths(user: str) -> list[str]:
            seen: list[str] = []
            while not seen or "public.txt" not in seen[-1]:
                raw = await asyncio.wait_for(sockets[user].read_message(), 30)
                assert raw is not None
                seen.append(json.loads(raw).get("path", ""))
            return seen

        assert all("workspaces" not in p for p in await paths("dave"))
        assert any("plans-for-q3" in p for p in await paths("bob"))
    finally:
        for ws in sockets.values():
            ws.close()


@pytest.mark.parametrize("studio_config", [{"workspaces_dir": "team/workspaces"}], indirect=True)
async def test_non_holder_cannot_move_or_delete_a_folder_that_holds_the_workspaces(
    api: Api, jp_root_dir: Path
) -> None:
    """``c.Studio.workspaces_dir`` may be nested: renaming or deleting a folder above it
    moves or deletes every Workspace, held or not."""
    wid = await open_workspace(api)
    folder = jp_root_dir / "team" / "workspaces" / wid
    assert (await api("PUT", f"team/workspaces/{wid}/a.txt", TEXT, base="api/contents")).code
    for user in ("bob", "alice"):
        r = await api("PATCH", "team", {"path": "moved"}, user=user, base="api/contents")
        assert r.code == 403, r
        r = await api("DELETE", "team", user=user, base="api/contents")
        assert r.code == 403, r
        r = await api("PATCH", "team/workspaces", {"path": "x"}, user=user, base="api/contents")
        assert r.code == 403, r
    os.symlink(jp_root_dir, jp_root_dir / "up")  # the same folder, spelt through a link
    r = await api("PATCH", "up/team", {"path": "moved"}, user="bob", base="api/contents")
    assert r.code == 403, r
    assert (folder / "a.txt").read_text() == "hello"
    # other folders beside it are ordinary
    assert (await api("PUT", "team/notes", {"type": "directory"}, base="api/contents")).code
    r = await api("PATCH", "team/notes", {"path": "team/notes2"}, user="bob", base="api/contents")
    assert r.code == 200, r


async def test_read_decisions_stay_bounded_when_all_are_fresh() -> None:
    """Unit rule: callers with ever new keys (source IPs taken from X-Forwarded-For, say)
    do not grow the cache past its bound (it was pruned of stale entries only, so with all
    entries fresh it grew, and each request copied the whole table)."""

    class Guard:
        asked = 0

        async def require(self, *args: Any, **kwargs: Any) -> None:
            Guard.asked += 1

        def on_studio(self, *args: Any, **kwargs: Any) -> Awaitable[None]:
            return self.require()

    studio = SimpleNamespace(studio=lambda: "arn:studio")
    services = SimpleNamespace(access=SimpleNamespace(open_mode=False), guard=Guard(), arns=studio)
    reads = ReadAccess(services)
    reads.MAX_ENTRIES = 100
    for i in range(1000):
        await reads.require(Identity(name="bob", source_ip=f"10.0.{i // 256}.{i % 256}"), "")
        assert len(reads._decided) <= reads.MAX_ENTRIES
    assert Guard.asked == 1000  # every new caller is decided, none served another's answer
    await reads.require(Identity(name="bob", source_ip="10.0.3.231"), "")
    assert Guard.asked == 1000  # the latest decision is still kept


@pytest.mark.parametrize("studio_config", [IDC], indirect=True)
async def test_sessions_do_not_name_notebooks_of_workspaces_one_cannot_read(api: Api) -> None:
    wid = await workspace_with_files(api)
    inside = await start_session(api, f"workspaces/{wid}")
    outside = await start_session(api, "")
    listed = (await jupyter(api, "GET", "sessions", user="dave")).json
    assert [s["id"] for s in listed] == [outside["id"]], listed
    assert (await jupyter(api, "GET", f"sessions/{inside['id']}", user="dave")).code == 403
    assert (await jupyter(api, "GET", f"sessions/{outside['id']}", user="dave")).code == 200
    # a member sees both
    listed = (await jupyter(api, "GET", "sessions", user="bob")).json
    assert sorted(s["id"] for s in listed) == sorted([inside["id"], outside["id"]])
    assert (await jupyter(api, "GET", f"sessions/{inside['id']}", user="bob")).code == 200


class ReadSayingWriter(APIHandler):
    """A future extension's POST that asks the authorizer for "read" and then writes."""

    auth_resource = "contents"

    @web.authenticated
    async def post(self) -> None:
        user = self.current_user
        if not await ensure_async(self.authorizer.is_authorized(self, user, "read", "contents")):
            raise web.HTTPError(403)
        model = self.get_json_body() or {}
        target = Path(self.contents_manager.root_dir, model["path"])
        await asyncio.to_thread(target.write_text, "written")
        self.finish("{}")


async def test_a_route_that_asks_for_read_but_posts_cannot_change_a_workspace(
    api: Api, jp_serverapp: Any, jp_base_url: str, jp_root_dir: Path
) -> None:
    jp_serverapp.web_app.add_handlers(".*$", [(f"{jp_base_url}future/note", ReadSayingWriter)])
    wid = await open_workspace(api)
    path = f"workspaces/{wid}/a.txt"
    r = await api("POST", "note", {"path": path}, user="bob", base="future")
    assert r.code == 403 and "not known to respect" in r.json["message"], r
    assert not (jp_root_dir / path).exists()
    assert (await api("POST", "note", {"path": "a.txt"}, user="bob", base="future")).code == 200


async def test_the_v1_kernel_protocol_is_guarded_like_the_legacy_one(
    api: Api, jp_ws_fetch: Any
) -> None:
    """The channels' v1 subprotocol (binary messages) goes through the same checks:
    refused at connect for a non-holder, closed at the next message once the holder
    gives the lease up."""
    v1 = "v1.kernel.websocket.jupyter.org"
    wid = await open_workspace(api)
    kid = (await start_session(api, f"workspaces/{wid}"))["kernel"]["id"]
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await jp_ws_fetch(
            "api", "kernels", kid, "channels", headers={"X-Test-User": "bob"}, subprotocols=[v1]
        )
    assert refused.value.code == 423
    ws = await jp_ws_fetch(
        "api", "kernels", kid, "channels", headers={"X-Test-User": "alice"}, subprotocols=[v1]
    )
    try:
        assert ws.selected_subprotocol == v1
        lease = (await api("POST", f"workspaces/{wid}/open")).json["lease"]
        assert (await api("POST", f"workspaces/{wid}/close", {"token": lease["token"]})).code
        await ws.write_message(b"\x00" * 8, binary=True)
        while (message := await asyncio.wait_for(ws.read_message(), 30)) is not None:
            assert not isinstance(message, bytes) or b"execute_reply" not in message
        assert ws.close_code == 4423
    finally:
        ws.close()


@pytest.mark.parametrize("studio_config", [IDC], indirect=True)
@pytest.mark.parametrize(
    "spelling",
    [
        "files/workspaces%2F{wid}%2Fa.txt",
        "files/x/..%2Fworkspaces/{wid}/a.txt",
        "files/%77orkspaces/{wid}/./a.txt",
        "view/workspaces/{wid}/%61.txt",
        "nbconvert/html/workspaces%2F{wid}/nb.ipynb?download=true",
        "api/contents/workspaces/{wid}/a.txt/checkpoints",
        "api/contents/x/../workspaces/{wid}?content=1",
    ],
)
async def test_an_outsider_reads_nothing_through_odd_spellings(
    api: Api, raw: Any, spelling: str
) -> None:
    """A regression guard: the read routes judge the path as tornado decodes it."""
    wid = await workspace_with_files(api)
    r = await raw("GET", spelling.format(wid=wid), user="dave")
    assert r.code == 403, r.body[:300]
    assert (await raw("GET", spelling.format(wid=wid), user="bob")).code == 200


async def test_a_cached_denial_does_not_keep_the_frames_of_earlier_requests() -> None:
    """Unit rule: a denial served from the cache is raised afresh each time; raising the
    same exception object again grew its traceback (holding each request's frames)."""

    class Guard:
        async def require(self, *args: Any, **kwargs: Any) -> None:
            raise Forbidden("no")

        def on_studio(self, *args: Any, **kwargs: Any) -> Awaitable[None]:
            return self.require()

    studio = SimpleNamespace(studio=lambda: "arn:studio")
    services = SimpleNamespace(access=SimpleNamespace(open_mode=False), guard=Guard(), arns=studio)
    reads = ReadAccess(services)
    depths = []
    for _ in range(3):
        with pytest.raises(Forbidden) as denied:
            await reads.require(Identity(name="dave"), "")
        depths.append(len(traceback.extract_tb(denied.value.__traceback__)))
    assert depths[1] == depths[2], depths


class FormWriter(APIHandler):
    """A future extension's route that takes a form field, as ``get_argument`` reads it."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        target = Path(self.contents_manager.root_dir, self.get_argument("path"))
        await asyncio.to_thread(target.write_text, "written")
        self.finish("{}")


async def test_a_route_reading_a_form_field_cannot_change_a_workspace(
    api: Api, jp_serverapp: Any, jp_base_url: str, jp_root_dir: Path, raw: Any
) -> None:
    jp_serverapp.web_app.add_handlers(".*$", [(f"{jp_base_url}future/form", FormWriter)])
    wid = await open_workspace(api)
    for body in (f"path=workspaces/{wid}/a.txt", f"path=%20workspaces/{wid}/a.txt"):
        r = await raw("POST", "future/form", body.encode())
        assert r.code == 403, r.body
    assert os.listdir(jp_root_dir / "workspaces" / wid) == []
    assert (await raw("POST", "future/form", b"path=a.txt")).code == 200
