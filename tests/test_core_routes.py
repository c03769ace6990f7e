"""Every route the server serves is classified, and every route that can change a
Workspace or run code in it refuses a user who does not hold the lease.

The server runs with every server extension the environment enables (read from the
installed ``jupyter_server_config.d``, as ``jupyter server`` reads it), so a route added
by a newly installed extension, or by a new release of one, fails
``test_every_served_route_is_classified`` until a row below says what it is.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient
import tornado.websocket
from jupyter_core.paths import ENV_CONFIG_PATH, SYSTEM_CONFIG_PATH
from jupyter_server.extension.manager import ExtensionManager
from pycrdt import Doc, Text, create_sync_message, create_update_message, handle_sync_message


def installed_extensions() -> dict[str, bool]:
    """The server extensions this environment enables (read before pytest-jupyter
    points the config path at a temporary folder)."""
    enabled: dict[str, bool] = {}
    for folder in [*SYSTEM_CONFIG_PATH, *ENV_CONFIG_PATH]:
        for path in sorted(glob.glob(os.path.join(folder, "jupyter_server_config.d", "*.json"))):
            with open(path) as f:
                enabled.update(json.load(f).get("ServerApp", {}).get("jpserver_extensions", {}))
    return enabled


INSTALLED = installed_extensions()

KERNEL_ACTION = r"/api/kernels/(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)/(?P<action>restart|interrupt)$"
READS = "reads only"
GUARDED = "guarded: changes a Workspace or runs code there"
OUTSIDE = "outside Workspaces"

#: Route pattern (after the base URL) → (class, why). Guarded rows have a probe below.
ROUTES: dict[str, tuple[str, str]] = {
    # jupyter_server
    r"/(robots\.txt)$": (OUTSIDE, "static file"),
    r"/(favicon\.ico)$": (OUTSIDE, "static file"),
    r"/static/(.*)$": (OUTSIDE, "static files of the server"),
    r"/api/spec.yaml$": (OUTSIDE, "the REST spec"),
    r"/api/status$": (OUTSIDE, "server status"),
    r"/api/me$": (OUTSIDE, "the caller's identity"),
    r"/api/resolvePath$": (READS, "turns a path into a kernel/server path; no content"),
    r"/api/config/(?P<section_name>\w+)$": (OUTSIDE, "frontend config in the user's config dir"),
    r"/api/contents(?P<path>(?:(?:/[^/]+)+|/?))/checkpoints$": (GUARDED, "creates checkpoints"),
    r"/api/contents(?P<path>(?:(?:/[^/]+)+|/?))/checkpoints/(?P<checkpoint_id>[\w-]+)$": (
        GUARDED,
        "restores or deletes a checkpoint",
    ),
    r"/api/contents(?P<path>(?:(?:/[^/]+)+|/?))/trust$": (GUARDED, "signs a notebook"),
    r"/api/contents(?P<path>(?:(?:/[^/]+)+|/?))$": (GUARDED, "save, upload, rename, delete"),
    r"/api/notebooks/?(.*)$": (OUTSIDE, "a redirect to /api/contents"),
    r"/api/kernels$": (GUARDED, "starts a kernel in a folder"),
    r"/api/kernels/(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)$": (GUARDED, "stops a kernel"),
    r"/api/kernels/(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)/(?P<action>restart|interrupt)$": (
        GUARDED,
        "restarts or interrupts a kernel",
    ),
    r"/api/kernels/(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)/channels$": (GUARDED, "runs code"),
    r"/kernelspecs/(?P<kernel_name>[\w\.\-%]+)/(?P<path>.*)$": (OUTSIDE, "kernelspec files"),
    r"/api/kernelspecs$": (OUTSIDE, "kernelspecs"),
    r"/api/kernelspecs/(?P<kernel_name>[\w\.\-%]+)$": (OUTSIDE, "kernelspecs"),
    r"/nbconvert/(?P<format>\w+)$": (OUTSIDE, "converts the notebook in the request body"),
    r"/nbconvert/(?P<format>\w+)(?P<path>(?:(?:/[^/]+)+|/?))$": (READS, "converts a file"),
    r"/api/nbconvert$": (OUTSIDE, "lists exporters"),
    r"/api/security/csp-report$": (OUTSIDE, "logs a CSP report"),
    r"/api/sessions/(?P<session_id>\w+-\w+-\w+-\w+-\w+)$": (GUARDED, "rebinds or stops a kernel"),
    r"/api/sessions$": (GUARDED, "starts a kernel in a notebook's folder"),
    r"/api/shutdown$": (OUTSIDE, "stops the server (the server's own authorizer decides)"),
    r"/view(?P<path>(?:(?:/[^/]+)+|/?))$": (READS, "a page showing a file"),
    r"/api/events$": (OUTSIDE, "emits a client event"),
    r"/api/events/subscribe$": (OUTSIDE, "server events"),
    r"/files/(.*)$": (READS, "file download"),
    r"/login$": (OUTSIDE, "login"),
    r"/logout$": (OUTSIDE, "logout"),
    r"/.*/$": (OUTSIDE, "trailing-slash redirect"),
    r"/api$": (OUTSIDE, "API version"),
    r"/(robots\.txt|favicon\.ico)$": (OUTSIDE, "static file"),
    r"/metrics$": (OUTSIDE, "Prometheus metrics"),
    r"/$": (OUTSIDE, "redirect to the default app"),
    r"(.*)$": (OUTSIDE, "404 page"),
    # this extension's API: each service checks policies and the lease itself
    r"/emr-workspace/api/studio/?$": (OUTSIDE, "Studio settings"),
    r"/emr-workspace/api/studio/session-mappings/?$": (OUTSIDE, "policy assignments"),
    r"/emr-workspace/api/workspaces/?$": (OUTSIDE, "lists and creates Workspaces"),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/?$": (
        GUARDED,
        "deletes a Workspace (and its folder)",
    ),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/open/?$": (GUARDED, "takes the lease"),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/heartbeat/?$": (
        GUARDED,
        "renews a lease",
    ),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/close/?$": (GUARDED, "ends a lease"),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/lock/?$": (
        OUTSIDE,
        "force release: the policy emr-workspace:ForceReleaseLock decides (test_core_policies)",
    ),
    r"/emr-workspace/api/events/?$": (OUTSIDE, "audit events"),
    r"/emr-workspace/api/openapi.yaml/?$": (OUTSIDE, "the API document"),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/share/?$": (
        GUARDED,
        "lets collaborators into this server",
    ),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/backup/?$": (
        READS,
        "copies the files as they are to the backup location, under the holder's lease, as "
        "the periodic scan does; changes no file",
    ),
    r"/emr-workspace/api/clusters/?$": (OUTSIDE, "lists and creates clusters"),
    r"/emr-workspace/api/templates/?$": (OUTSIDE, "cluster templates"),
    r"/emr-workspace/api/execution-roles/?$": (OUTSIDE, "execution roles the caller may pass"),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/attach/?$": (
        GUARDED,
        "rewrites the Workspace's sparkmagic config",
    ),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/detach/?$": (
        GUARDED,
        "rewrites the Workspace's sparkmagic config",
    ),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/restart-kernels/?$": (
        GUARDED,
        "restarts the Workspace's kernels",
    ),
    # notebook executions (executions/part.py): a snapshot runs with its own kernel in a
    # temporary folder, never in a Workspace's; StartNotebookExecution etc. decide, and
    # this server's runner runs only its owner's executions
    r"/emr-workspace/api/executions/?$": (OUTSIDE, "lists and submits executions"),
    r"/emr-workspace/api/executions/(?P<execution_id>[^/]+)/?$": (OUTSIDE, "one execution"),
    r"/emr-workspace/api/executions/(?P<execution_id>[^/]+)/stop/?$": (
        OUTSIDE,
        "stops an execution (StopNotebookExecution decides)",
    ),
    r"/emr-workspace/api/schedules/?$": (OUTSIDE, "lists and creates schedules"),
    r"/emr-workspace/api/schedules/(?P<schedule_id>[^/]+)/?$": (
        OUTSIDE,
        "one schedule (emr-workspace:ManageSchedules decides)",
    ),
    # Spark UI and driver log links (compute/app_ui.py): GET only; the lease holder only,
    # another user 403 (tests/test_compute_app_ui.py)
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/app-ui/?$": (
        READS,
        "lists the links to the Spark UI and logs of the Workspace's cluster",
    ),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/app-ui/open/?$": (
        READS,
        "redirects to EMR's presigned URL of the cluster's UI",
    ),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/driver-log/(?P<session_id>\d+)/?$": (
        READS,
        "a local Spark session's log",
    ),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/spark-ui/(?P<session_id>\d+)/?$": (
        READS,
        "a local Spark session's UI, proxied (GET and HEAD only): its first page",
    ),
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/spark-ui/(?P<session_id>\d+)"
    r"/(?P<ui_path>.+)/?$": (READS, "a local Spark session's UI, proxied (GET and HEAD only)"),
    r"/emr-workspace/api/.*$": (OUTSIDE, "404 in JSON"),
    # jupyter-lsp
    r"/lsp/status$": (OUTSIDE, "language servers available"),
    r"/lsp/ws/(?P<language_server>.*)$": (GUARDED, "starts a language server process"),
    # jupyter_server_fileid
    r"/api/fileid/id$": (READS, "path → file id"),
    r"/api/fileid/path$": (READS, "file id → path"),
    # jupyter_server_terminals (guard: helper "rooms")
    r"/terminals/websocket/(\w+)$": (GUARDED, "a shell"),
    r"/api/terminals$": (GUARDED, "starts a shell"),
    r"/api/terminals/(\w+)$": (OUTSIDE, "stops a shell"),
    # jupyter-collaboration (guard of changes: hub/rooms.py)
    r"/api/collaboration/fork/(.*)$": (GUARDED, "merges a fork into a document"),
    r"/api/collaboration/room/(.*)$": (GUARDED, "edits a document"),
    r"/api/collaboration/session/(.*)$": (READS, "gives a document's room id"),
    r"/api/collaboration/timeline/(.*)$": (READS, "a document's history, as a fork"),
    r"/api/collaboration/undo_redo/(.*)$": (
        READS,
        "moves in a timeline fork; only merging the fork changes the document",
    ),
    # jupyterlab, jupyterlab_server
    r"/lab/api/build$": (OUTSIDE, "builds JupyterLab's assets (server administration)"),
    r"/lab/api/extensions$": (OUTSIDE, "installs extensions (server administration)"),
    r"/lab/api/plugins$": (OUTSIDE, "enables plugins in the user's settings"),
    r"/lab/api/update$": (OUTSIDE, "update check"),
    r"/lab/api/news$": (OUTSIDE, "news"),
    r"/(?P<mode>lab|doc)(?P<workspace>/workspaces/[a-zA-Z0-9\-\_]+)?(?P<tree>/tree/.*)?$": (
        OUTSIDE,
        "the JupyterLab page",
    ),
    r"/lab/extensions/(.*)$": (OUTSIDE, "extension assets"),
    r"/lab/api/settings/?$": (OUTSIDE, "user settings"),
    r"/lab/api/settings/(?P<schema_name>.+)$": (OUTSIDE, "user settings"),
    r"/lab/api/translations/?$": (OUTSIDE, "translations"),
    r"/lab/api/translations/(?P<locale>.*)$": (OUTSIDE, "translations"),
    r"/lab/api/workspaces/?$": (OUTSIDE, "JupyterLab layouts (not EMR Workspaces)"),
    r"/lab/api/workspaces/(?P<space_name>.+)$": (OUTSIDE, "JupyterLab layouts"),
    r"/lab/api/listings/(.*)$": (OUTSIDE, "extension listings"),
    r"/lab/api/themes/(.*)$": (OUTSIDE, "themes"),
    r"/lab/api/licenses/(.*)$": (OUTSIDE, "licenses"),
    r"/lab/.*$": (OUTSIDE, "404 page"),
    r"/static/lab/(.*)$": (OUTSIDE, "JupyterLab assets"),
    # notebook 7 pages (the documents load through the routes above)
    r"/tree(.*)$": (OUTSIDE, "a page"),
    r"/notebooks(.*)$": (OUTSIDE, "a page"),
    r"/edit(.*)$": (OUTSIDE, "a page"),
    r"/consoles/(.*)$": (OUTSIDE, "a page"),
    r"/terminals/(.*)$": (OUTSIDE, "a page"),
    r"/custom/custom.css$": (OUTSIDE, "a stylesheet"),
    r"/static/notebook/(.*)$": (OUTSIDE, "notebook assets"),
}

REFUSED = {403, 409, 423}


@pytest.fixture
def jp_server_config(
    jp_server_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    jp_server_config["ServerApp"]["jpserver_extensions"].update(INSTALLED)
    # notebook_shim replaces ExtensionManager.sorted_extensions for the whole process
    # (fine in a server, not in a test run): put it back after this server
    monkeypatch.setattr(ExtensionManager, "sorted_extensions", ExtensionManager.sorted_extensions)
    return jp_server_config


def served_routes(serverapp: Any, base_url: str) -> dict[str, str]:
    """Pattern (without the base URL) → handler class, for every rule of every router."""
    found: dict[str, str] = {}

    def walk(router: Any) -> None:
        for rule in router.rules:
            target = rule.target
            if hasattr(target, "rules"):
                walk(target)
                continue
            pattern = rule.matcher.regex.pattern
            prefix = base_url.rstrip("/")
            if pattern.startswith(prefix + "/"):
                pattern = pattern[len(prefix) :]
            name = getattr(target, "__qualname__", repr(target))
            found.setdefault(pattern, f"{getattr(target, '__module__', '')}.{name}")

    walk(serverapp.web_app.wildcard_router)
    walk(serverapp.web_app.default_router)
    return found


async def test_every_served_route_is_classified(jp_serverapp: Any, jp_base_url: str) -> None:
    served = served_routes(jp_serverapp, jp_base_url)
    # the extensions this environment installs are really loaded
    for module in ("jupyterlab", "jupyter_server_ydoc", "jupyter_server_fileid"):
        if INSTALLED.get(module):
            assert any(h.startswith(module) for h in served.values()), module
    unclassified = {p: h for p, h in served.items() if p not in ROUTES}
    assert not unclassified, (
        "routes nobody has classified (add a row to ROUTES, and a probe if it can change a "
        f"Workspace or run code in one): {json.dumps(unclassified, indent=1)}"
    )
    guarded = {p for p in served if ROUTES[p][0] == GUARDED}
    assert guarded <= set(PROBES), f"guarded routes without a probe: {guarded - set(PROBES)}"


# -- the probes: alice holds the Workspace, bob tries ------------------------------------
class Scene:
    def __init__(self, fetch: Any, ws_fetch: Any, server: Any, root: Path, url: str, auth: Any):
        self.fetch, self.ws_fetch, self.server, self.root = fetch, ws_fetch, server, root
        self.url, self.auth = url, auth  # for collaboration: room ids in the URL unescaped
        self.wid = self.folder = self.session = self.kernel = self.checkpoint = ""

    async def raw(self, method: str, path: str, body: Any = None, user: str = "bob") -> Any:
        request = tornado.httpclient.HTTPRequest(
            self.url + path,
            method=method,
            body=json.dumps(body) if body is not None else None,
            headers={**self.auth, "X-Test-User": user},
            allow_nonstandard_methods=True,
        )
        r = await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        return int(r.code), (json.loads(r.body) if r.body else None)

    async def raw_connect(self, path: str, user: str) -> Any:
        request = tornado.httpclient.HTTPRequest(
            self.url.replace("http://", "ws://", 1) + path,
            headers={**self.auth, "X-Test-User": user},
        )
        try:
            return await tornado.websocket.websocket_connect(request)
        except tornado.httpclient.HTTPClientError as e:
            return int(e.code)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        user: str = "bob",
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else None
        if payload is None and method in {"POST", "PUT", "PATCH"}:
            payload = b"{}" if method != "PUT" else b""
        r = await self.fetch(
            *[p for p in path.split("/") if p],
            method=method,
            body=payload,
            headers={"X-Test-User": user},
            params=params or {},
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        try:
            data = json.loads(r.body) if r.body else None
        except ValueError:
            data = None
        return int(r.code), data

    async def connect(self, path: str, user: str = "bob", **params: str) -> Any:
        """An open websocket, or the HTTP status that refused it."""
        try:
            return await self.ws_fetch(
                *[p for p in path.split("/") if p], headers={"X-Test-User": user}, params=params
            )
        except tornado.httpclient.HTTPClientError as e:
            return int(e.code)

    async def setup(self) -> None:
        code, ws = await self.call("POST", "emr-workspace/api/workspaces", {"name": "w"}, "alice")
        assert code == 201, ws
        self.wid, self.folder = ws["id"], f"workspaces/{ws['id']}"
        code, _ = await self.call(
            "POST", f"emr-workspace/api/workspaces/{self.wid}/open", user="alice"
        )
        assert code == 200
        text = {"type": "file", "format": "text", "content": "alice's"}
        assert (await self.call("PUT", f"api/contents/{self.folder}/a.txt", text, "alice"))[
            0
        ] == 201
        nb = {
            "type": "notebook",
            "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        }
        assert (await self.call("PUT", f"api/contents/{self.folder}/nb.ipynb", nb, "alice"))[
            0
        ] == 201
        code, cp = await self.call(
            "POST", f"api/contents/{self.folder}/a.txt/checkpoints", None, "alice"
        )
        assert code == 201, cp
        self.checkpoint = cp["id"]
        body = {
            "path": f"{self.folder}/nb.ipynb",
            "type": "notebook",
            "kernel": {"name": "python3"},
        }
        code, session = await self.call("POST", "api/sessions", body, "alice")
        assert code == 201, session
        self.session, self.kernel = session["id"], session["kernel"]["id"]

    def unchanged(self) -> str | None:
        a = self.root / self.folder / "a.txt"
        if not a.exists() or a.read_text() != "alice's":
            return "a.txt changed"
        names = sorted(
            p.name for p in (self.root / self.folder).iterdir() if not p.name.startswith(".")
        )
        return None if names == ["a.txt", "nb.ipynb"] else f"folder is now {names}"


Probe = Callable[[Scene], Awaitable[list[Any]]]


async def contents(s: Scene) -> list[Any]:
    f = f"api/contents/{s.folder}"
    text = {"type": "file", "format": "text", "content": "bob's"}
    return [
        (await s.call("PUT", f"{f}/a.txt", text))[0],
        (await s.call("PUT", f"{f}/b.txt", text))[0],
        (await s.call("PATCH", f"{f}/a.txt", {"path": "stolen.txt"}))[0],
        (await s.call("DELETE", f"{f}/a.txt"))[0],
        (await s.call("POST", f, {"type": "file"}))[0],
    ]


async def checkpoints(s: Scene) -> list[Any]:
    return [(await s.call("POST", f"api/contents/{s.folder}/a.txt/checkpoints"))[0]]


async def checkpoint(s: Scene) -> list[Any]:
    path = f"api/contents/{s.folder}/a.txt/checkpoints/{s.checkpoint}"
    return [(await s.call("POST", path))[0], (await s.call("DELETE", path))[0]]


async def trust(s: Scene) -> list[Any]:
    return [(await s.call("POST", f"api/contents/{s.folder}/nb.ipynb/trust"))[0]]


async def kernels(s: Scene) -> list[Any]:
    return [(await s.call("POST", "api/kernels", {"name": "python3", "path": s.folder}))[0]]


async def kernel(s: Scene) -> list[Any]:
    return [(await s.call("DELETE", f"api/kernels/{s.kernel}"))[0]]


async def kernel_action(s: Scene) -> list[Any]:
    return [
        (await s.call("POST", f"api/kernels/{s.kernel}/restart"))[0],
        (await s.call("POST", f"api/kernels/{s.kernel}/interrupt"))[0],
    ]


def refused_or_accepted(ws: Any) -> Any:
    """The status that refused a websocket, or "accepted" (and the socket closed)."""
    if isinstance(ws, int):
        return ws
    ws.close()
    return "accepted"


async def channels(s: Scene) -> list[Any]:
    return [refused_or_accepted(await s.connect(f"api/kernels/{s.kernel}/channels"))]


async def sessions(s: Scene) -> list[Any]:
    legacy = {"notebook": {"path": f"{s.folder}/x.ipynb"}, "kernel": {"name": "python3"}}
    modern = {"path": f"{s.folder}/y.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    return [
        (await s.call("POST", "api/sessions", legacy))[0],
        (await s.call("POST", "api/sessions", modern))[0],
    ]


async def session(s: Scene) -> list[Any]:
    path = f"api/sessions/{s.session}"
    return [
        (await s.call("PATCH", path, {"kernel": {"name": "python3"}}))[0],
        (await s.call("DELETE", path))[0],
    ]


async def lsp(s: Scene) -> list[Any]:
    return [refused_or_accepted(await s.connect("lsp/ws/pylsp"))]


async def workspace(s: Scene) -> list[Any]:
    return [(await s.call("DELETE", f"emr-workspace/api/workspaces/{s.wid}"))[0]]


async def open_(s: Scene) -> list[Any]:
    return [(await s.call("POST", f"emr-workspace/api/workspaces/{s.wid}/open"))[0]]


async def heartbeat(s: Scene) -> list[Any]:
    return [
        (await s.call("POST", f"emr-workspace/api/workspaces/{s.wid}/heartbeat", {"token": "x"}))[0]
    ]


async def close(s: Scene) -> list[Any]:
    return [
        (await s.call("POST", f"emr-workspace/api/workspaces/{s.wid}/close", {"token": "x"}))[0]
    ]


async def share(s: Scene) -> list[Any]:
    return [(await s.call("POST", f"emr-workspace/api/workspaces/{s.wid}/share", {}))[0]]


async def attach(s: Scene) -> list[Any]:
    body = {"type": "local", "cluster_id": "local"}
    return [(await s.call("POST", f"emr-workspace/api/workspaces/{s.wid}/attach", body))[0]]


async def detach(s: Scene) -> list[Any]:
    return [(await s.call("POST", f"emr-workspace/api/workspaces/{s.wid}/detach", {}))[0]]


async def restart_kernels(s: Scene) -> list[Any]:
    return [(await s.call("POST", f"emr-workspace/api/workspaces/{s.wid}/restart-kernels", {}))[0]]


async def terminals(s: Scene) -> list[Any]:
    return [(await s.call("POST", "api/terminals", {"cwd": s.folder}))[0]]


async def terminal(s: Scene) -> list[Any]:
    manager = s.server.web_app.settings["terminal_manager"]
    name = manager.create(cwd=str(s.root / s.folder))["name"]
    try:
        ws = await s.connect(f"terminals/websocket/{name}")
        if isinstance(ws, int):
            return [ws]
        try:  # refused messages, or a shell that runs them
            await ws.write_message(json.dumps(["stdin", "echo bob-$((6*7))\r"]))
            while True:
                message = await asyncio.wait_for(ws.read_message(), 10)
                if message is None:
                    return ["closed"]
                if "bob-42" in message:
                    return ["ran bob's input"]
        except TimeoutError:
            return ["dropped"]
        finally:
            ws.close()
    finally:
        await manager.terminate(name, force=True)


async def room(s: Scene) -> list[Any]:
    """bob edits a Workspace document through its collaboration room; alice, syncing
    after bob's update was handled, must not see it."""
    code, info = await s.call(
        "PUT",
        f"api/collaboration/session/{s.folder}/a.txt",
        {"format": "text", "type": "file"},
        "alice",
    )
    assert code in (200, 201), info
    room_id = f"text:file:{info['fileId']}"

    async def sync(user: str, update: bytes | None) -> str:
        ws = await s.raw_connect(
            f"api/collaboration/room/{room_id}?sessionId={info['sessionId']}", user
        )
        if isinstance(ws, int):
            return f"refused {ws}"
        doc = Doc()
        text = doc.get("source", type=Text)
        try:
            if update is not None:
                await ws.write_message(create_update_message(update), binary=True)
            await ws.write_message(create_sync_message(doc), binary=True)
            while True:  # messages are handled in order: the reply follows bob's update
                message = await asyncio.wait_for(ws.read_message(), 20)
                if isinstance(message, bytes) and message[:2] == b"\x00\x01":
                    handle_sync_message(message[1:], doc)
                    return str(text)
        finally:
            ws.close()

    theirs = Doc()
    theirs.get("source", type=Text).insert(0, "bob was here ")
    await sync("bob", theirs.get_update())
    seen = await sync("alice", None)
    return ["dropped" if "bob was here" not in seen else f"document is {seen!r}"]


async def fork(s: Scene) -> list[Any]:
    """bob forks a Workspace document (allowed: a fork is a copy) and merges it back."""
    body = {"format": "text", "type": "file"}
    code, info = await s.call("PUT", f"api/collaboration/session/{s.folder}/a.txt", body, "alice")
    assert code in (200, 201), info
    room_id = f"text:file:{info['fileId']}"
    alice = await s.connect(
        f"api/collaboration/room/{room_id}", "alice", sessionId=info["sessionId"]
    )
    assert not isinstance(alice, int), alice
    try:
        await alice.read_message()  # the room exists once its first client is in
        code, made = await s.raw("PUT", f"api/collaboration/fork/{room_id}", {}, "bob")
        assert code == 201, made
        path = f"api/collaboration/fork/{made['fork_roomid']}?merge=true"
        return [(await s.raw("DELETE", path, user="bob"))[0]]
    finally:
        alice.close()


PROBES: dict[str, Probe] = {
    r"/api/contents(?P<path>(?:(?:/[^/]+)+|/?))$": contents,
    r"/api/contents(?P<path>(?:(?:/[^/]+)+|/?))/checkpoints$": checkpoints,
    r"/api/contents(?P<path>(?:(?:/[^/]+)+|/?))/checkpoints/(?P<checkpoint_id>[\w-]+)$": checkpoint,
    r"/api/contents(?P<path>(?:(?:/[^/]+)+|/?))/trust$": trust,
    r"/api/kernels$": kernels,
    r"/api/kernels/(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)$": kernel,
    KERNEL_ACTION: kernel_action,
    r"/api/kernels/(?P<kernel_id>\w+-\w+-\w+-\w+-\w+)/channels$": channels,
    r"/api/sessions$": sessions,
    r"/api/sessions/(?P<session_id>\w+-\w+-\w+-\w+-\w+)$": session,
    r"/lsp/ws/(?P<language_server>.*)$": lsp,
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/?$": workspace,
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/open/?$": open_,
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/heartbeat/?$": heartbeat,
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/close/?$": close,
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/share/?$": share,
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/attach/?$": attach,
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/detach/?$": detach,
    r"/emr-workspace/api/workspaces/(?P<workspace_id>[^/]+)/restart-kernels/?$": restart_kernels,
    r"/api/terminals$": terminals,
    r"/terminals/websocket/(\w+)$": terminal,
    r"/api/collaboration/room/(.*)$": room,
    r"/api/collaboration/fork/(.*)$": fork,
}


async def test_every_guarded_route_refuses_a_non_holder(
    jp_fetch: Any,
    jp_ws_fetch: Any,
    jp_serverapp: Any,
    jp_root_dir: Path,
    jp_base_url: str,
    jp_http_port: int,
    jp_auth_header: dict[str, str],
) -> None:
    url = f"http://localhost:{jp_http_port}{jp_base_url}"
    scene = Scene(jp_fetch, jp_ws_fetch, jp_serverapp, jp_root_dir, url, jp_auth_header)
    await scene.setup()
    served = served_routes(jp_serverapp, jp_base_url)
    failures = {}
    for pattern, probe in PROBES.items():
        if pattern not in served:
            continue  # an extension this environment does not install
        outcomes = await probe(scene)
        wrong = [o for o in outcomes if o not in REFUSED and o != "dropped"]
        changed = scene.unchanged()
        if wrong or changed:
            failures[pattern] = {"outcomes": outcomes, "changed": changed}
    # alice's lease, session and kernel survived all of it
    leases = jp_serverapp.web_app.settings["emr_workspace"].leases
    if not leases.holds(scene.wid, "alice"):
        failures["alice's lease"] = "lost"
    code, model = await scene.call("GET", f"api/sessions/{scene.session}", user="alice")
    if code != 200 or model["kernel"]["id"] != scene.kernel:
        failures["alice's session"] = f"{code} {model}"
    assert not failures, json.dumps(failures, indent=1)
