"""Terminals are the server owner's, and what a shell writes into a Workspace while the
lease is not held never becomes its backup.

A real ``jupyter server`` started as installed (terminals on, as jupyter_server_terminals
enables itself), the test header identity with ``c.Studio.server_owner = "alice"``, real
terminado websockets; and an in-process server whose routes are enumerated.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket
from emrws_testing.servers import ServerProcess
from emrws_testing.ydoc import notebook_model, ws_headers, ws_url

MARK = "TERMINAL-WROTE-THIS"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("terminals")
    studio = {
        "id": "es-terminals",
        "backup_uri": str(base / "store"),
        "autosave_interval": 1,
        "lease_seconds": 60,
        "server_owner": "alice",
    }
    proc = ServerProcess(base / "root", studio, name="terminals")
    try:
        yield proc.start()
    finally:
        proc.stop()


def store_dir(server: ServerProcess) -> Path:
    return server.root.parent / "store"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Shell:
    """A terminal as JupyterLab drives it: terminado's JSON messages over a websocket."""

    def __init__(self, server: ServerProcess, name: str, user: str) -> None:
        self.ws = websocket.create_connection(
            ws_url(server, f"/terminals/websocket/{name}"),
            header=ws_headers(server, user),
            timeout=10,
        )
        self.output = ""

    def run(self, command: str, until: str, timeout: float = 20) -> str:
        self.ws.send(json.dumps(["stdin", command + "\r"]))
        deadline = time.monotonic() + timeout
        while until not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {until!r} in the terminal's output: {self.output!r}")
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            kind, *data = json.loads(self.ws.recv())
            if kind == "stdout":
                self.output += data[0]
        return self.output

    def close(self) -> None:
        self.ws.close()


def new_terminal(server: ServerProcess, user: str = "alice") -> str:
    r = server.request("POST", "/api/terminals", user=user)
    assert r.status_code == 200, r.text
    return str(r.json()["name"])


def test_only_the_server_owner_may_use_terminals(server: ServerProcess) -> None:
    assert server.request("POST", "/api/terminals", user="bob").status_code == 403
    assert server.request("GET", "/api/terminals", user="bob").status_code == 403
    name = new_terminal(server)
    try:
        r = server.request("GET", f"/api/terminals/{name}", user="bob")
        assert r.status_code == 403 and "only for its owner (alice)" in r.text, r.text
        assert server.request("DELETE", f"/api/terminals/{name}", user="bob").status_code == 403
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(
                ws_url(server, f"/terminals/websocket/{name}"),
                header=ws_headers(server, "bob"),
                timeout=10,
            )
        assert refused.value.status_code == 403
        # the owner's terminal is still there and works
        shell = Shell(server, name, "alice")
        try:
            shell.run("echo owner-$((40+2))", "owner-42")
        finally:
            shell.close()
    finally:
        assert server.request("DELETE", f"/api/terminals/{name}").status_code == 204


def test_the_owners_shell_writes_without_the_lease_never_reach_the_backups(
    server: ServerProcess,
) -> None:
    r = server.api("POST", "/workspaces", json={"name": f"ws-{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 201, r.text
    wid, folder = r.json()["id"], r.json()["path"]
    local = server.root / folder
    backups = store_dir(server) / wid
    opened = server.api("POST", f"/workspaces/{wid}/open")
    assert opened.status_code == 200, opened.text
    r = server.request("PUT", f"/api/contents/{folder}/nb.ipynb", json=notebook_model("x = 1"))
    assert r.status_code in (200, 201), r.text
    name = new_terminal(server)
    shell = Shell(server, name, "alice")
    try:
        # while alice holds the lease, what her shell writes is hers and is backed up
        shell.run(f"cd {local} && echo held-$((1+1)) > held.txt && echo ok-$((1+2))", "ok-3")
        wait_for(lambda: (backups / "held.txt").is_file(), "the held write's backup")
        wait_for(lambda: b"x = 1" in (backups / "nb.ipynb").read_bytes(), "nb.ipynb's backup")
        r = server.api(
            "POST", f"/workspaces/{wid}/close", json={"token": opened.json()["lease"]["token"]}
        )
        assert r.status_code == 204, r.text

        # no lease: the shell rewrites the notebook and adds a file
        notebook = json.dumps(notebook_model(MARK)["content"])
        shell.run(
            f"printf '%s' '{notebook}' > nb.ipynb && echo {MARK} > new.txt && echo ok-$((2+2))",
            "ok-4",
        )
        assert MARK in (local / "nb.ipynb").read_text()

        # reopening sets both aside instead of backing them up as the Workspace's content
        reopened = server.api("POST", f"/workspaces/{wid}/open")
        assert reopened.status_code == 200, reopened.text
        r = server.api("POST", f"/workspaces/{wid}/backup")  # back up now, then look
        assert r.status_code == 200, r.text
        assert r.json()["pending"] == [], r.json()
        leaked = [p for p in store_dir(server).rglob("*") if p.is_file() and MARK in _text(p)]
        assert leaked == [], leaked
        assert b"x = 1" in (backups / "nb.ipynb").read_bytes()
        aside = {c["path"]: c for c in reopened.json()["conflicts"] if c["kind"] == "no-lease"}
        assert set(aside) == {"nb.ipynb", "new.txt"}, reopened.json()
        # nothing lost: the backup's notebook is back, the shell's versions are beside it
        assert "x = 1" in (local / "nb.ipynb").read_text()
        assert not (local / "new.txt").exists()
        for fact in aside.values():
            assert MARK in (local / fact["conflict_path"]).read_text()
        server.api(
            "POST", f"/workspaces/{wid}/close", json={"token": reopened.json()["lease"]["token"]}
        )
    finally:
        shell.close()
        server.request("DELETE", f"/api/terminals/{name}")


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


# -- every terminal route the server serves, enumerated in process ---------------------------
@pytest.fixture
def studio_config(tmp_path: Path) -> dict[str, Any]:
    return {"backup_uri": str(tmp_path / "store"), "id": "es-test", "server_owner": "alice"}


@pytest.fixture
def jp_server_config(studio_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """conftest's server, with terminals loaded as the installed jupyter_server_terminals
    config file loads them (pytest-jupyter isolates the config path)."""
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "jupyter_emr_workspace": True,
                "jupyter_server_terminals": True,
            },
            "identity_provider_class": "emrws_testing.identity.HeaderIdentityProvider",
        },
        "EmrWorkspaceApp": {"server_id": "server-a"},
        "Studio": {"audit_log_path": str(tmp_path / "audit.jsonl"), **studio_config},
    }


def terminal_routes(app: Any) -> list[tuple[str, type]]:
    """(path regex, handler) of every served route whose handler acts on terminals."""
    out = []

    def walk(router: Any) -> None:
        for rule in getattr(router, "rules", []):
            target = rule.target
            if hasattr(target, "rules"):
                walk(target)
            elif getattr(target, "auth_resource", None) == "terminals":
                out.append((rule.matcher.regex.pattern, target))

    walk(app.default_router)
    return out


async def test_every_terminal_route_refuses_a_non_owner(jp_fetch: Any, jp_serverapp: Any) -> None:
    created = await jp_fetch("api", "terminals", method="POST", body=b"")
    name = json.loads(created.body)["name"]
    routes = {route_path(p, name): handler for p, handler in terminal_routes(jp_serverapp.web_app)}
    known = {"api/terminals", f"api/terminals/{name}", f"terminals/websocket/{name}"}
    assert known <= set(routes), routes
    checked = 0
    for path, handler in routes.items():
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method.lower() not in methods_of(handler):
                continue
            r = await jp_fetch(
                *path.split("/"),
                method=method,
                body=b"" if method in {"POST", "PUT", "PATCH"} else None,
                headers={"X-Test-User": "bob"},
                raise_error=False,
                allow_nonstandard_methods=True,
            )
            assert r.code == 403, (method, path, r.code, r.body[:200])
            checked += 1
    assert checked >= 5, routes
    r = await jp_fetch("api", "terminals", name, method="GET")  # the owner still has it
    assert r.code == 200
    await jp_fetch("api", "terminals", name, method="DELETE")


def route_path(pattern: str, name: str) -> str:
    """A route's regex as a concrete path below the base URL, groups filled with ``name``."""
    found = re.search(r"(api/terminals.*|terminals/.*)$", pattern)
    assert found, pattern
    return re.sub(r"\([^)]*\)", name, found.group(1)).rstrip("$").rstrip("/")


def methods_of(handler: type) -> set[str]:
    """The HTTP methods a handler class (or its bases) defines itself."""
    names: set[str] = set()
    for cls in handler.__mro__:
        if cls.__module__.startswith("tornado"):
            continue
        names |= set(vars(cls))
    return names


# -- who the owner is ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "environ", "owner"),
    [
        ({"server_owner": "carol", "local_user_name": "me"}, {"JUPYTERHUB_USER": "alice"}, "carol"),
        ({"local_user_name": "me"}, {"JUPYTERHUB_USER": "alice"}, "alice"),
        ({"local_user_name": "me"}, {}, "me"),
    ],
)
def test_the_server_owner_is_configured_then_the_hub_user_then_the_local_user(
    config: dict[str, str], environ: dict[str, str], owner: str
) -> None:
    from traitlets.config import Config

    from jupyter_emr_workspace.studio import Studio
    from jupyter_emr_workspace.terminals import server_owner

    assert server_owner(Studio(config=Config({"Studio": config})), environ) == owner


def test_under_jupyterhub_only_the_spawned_user_owns_terminals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jupyter_server.auth.authorizer import AllowAllAuthorizer
    from jupyter_server.auth.identity import IdentityProvider, User

    from jupyter_emr_workspace.studio import Studio
    from jupyter_emr_workspace.terminals import TerminalOwnerAuthorizer, server_owner

    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    studio = Studio()
    inner = AllowAllAuthorizer(identity_provider=IdentityProvider())
    authorizer = TerminalOwnerAuthorizer(inner, studio, server_owner(studio))

    def hub_user(name: str) -> User:
        user = User(username=name)
        user.hub_user = {"name": name, "groups": []}  # type: ignore[attr-defined]
        return user

    anonymous = User(username=uuid.uuid4().hex, name="Anonymous Io")
    assert authorizer.is_owner(hub_user("alice"))
    assert not authorizer.is_owner(hub_user("bob"))  # a collaborator she shared with
    assert not authorizer.is_owner(anonymous)  # token users are not owners under a hub
    monkeypatch.delenv("JUPYTERHUB_USER")
    plain = TerminalOwnerAuthorizer(inner, Studio(local_user_name=""), "")
    assert plain.is_owner(anonymous)  # a plain server: holding the token is owning it
