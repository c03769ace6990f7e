"""The sharing service's decisions against a stand-in of the hub's REST API (fast; the
real hub is in test_hub_deployment.py): group expansion, revoking only what it granted,
keeping users another shared Workspace needs, errors that say what to fix."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from jupyter_emr_workspace.app import build_services
from jupyter_emr_workspace.errors import ApiError
from jupyter_emr_workspace.hub.hubapi import HubApiError, HubClient, HubEnv
from jupyter_emr_workspace.hub.part import SharingHooks
from jupyter_emr_workspace.hub.rooms import is_write
from jupyter_emr_workspace.hub.sharing import HubSharing
from jupyter_emr_workspace.studio import Identity, Studio

ALICE = Identity("alice")


class FakeHubApi:
    """Groups and the shares of alice's default server, as JupyterHub 6.1.1 answers."""

    def __init__(self) -> None:
        self.groups = {"analysts": ["bob", "dave"], "admins": ["alice"]}
        self.users = {"alice", "bob", "carol", "dave", "erin"}
        self.shares: set[str] = set()
        self.calls: list[tuple[str, str, Any]] = []
        self.refuse_shares = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else None

            def _route(self, method: str) -> None:
                body = self._body()
                path = self.path.split("?")[0]
                owner.calls.append((method, path, body))
                if self.headers.get("Authorization") != "token server-token":
                    return self._answer(403, {"status": 403, "message": "bad token"})
                if method == "GET" and path.startswith("/hub/api/groups/"):
                    name = path.rsplit("/", 1)[1]
                    if name not in owner.groups:
                        return self._answer(404, {"status": 404, "message": "Not Found"})
                    return self._answer(200, {"name": name, "users": owner.groups[name]})
                if path != "/hub/api/shares/alice/":
                    return self._answer(404, {"status": 404, "message": "Not Found"})
                if method == "GET":
                    items = [{"user": {"name": u}, "group": None} for u in sorted(owner.shares)]
                    return self._answer(200, {"items": items, "_pagination": {"next": None}})
                if owner.refuse_shares:
                    return self._answer(403, {"status": 403, "message": "Forbidden"})
                user = body["user"]
                if user not in owner.users:
                    return self._answer(400, {"status": 400, "message": f"No such user: {user}"})
                if method == "POST":
                    owner.shares.add(user)
                else:
                    owner.shares.discard(user)
                return self._answer(200, {})

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PATCH(self) -> None:
                self._route("PATCH")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_hub() -> Iterator[FakeHubApi]:
    hub = FakeHubApi()
    yield hub
    hub.close()


@pytest.fixture
def services(tmp_path: Path) -> Any:
    studio = Studio(backup_uri=str(tmp_path / "store"), audit_log_path=str(tmp_path / "a.jsonl"))
    return build_services(studio, str(tmp_path / "root"), "server-alice")


def sharing_for(services: Any, hub: FakeHubApi | None) -> HubSharing:
    env = HubEnv(api_url=hub.url, token="server-token", user="alice", service_prefix="/user/alice/")
    return HubSharing(services, HubClient(env) if hub else None)


async def new_shared_workspace(
    services: Any, name: str, collaborators: list[str], open_it: bool = True
) -> str:
    ws = await services.workspaces.create_workspace(
        ALICE, {"name": name, "collaboration": {"enabled": True, "collaborators": collaborators}}
    )
    if open_it:
        await services.workspaces.open(ALICE, ws["id"])
    return str(ws["id"])


def test_hub_env_only_under_jupyterhub() -> None:
    assert HubEnv.from_environ({}) is None
    env = HubEnv.from_environ(
        {
            "JUPYTERHUB_API_URL": "http://hub:8081/hub/api/",
            "JUPYTERHUB_API_TOKEN": "t",
            "JUPYTERHUB_USER": "alice",
            "JUPYTERHUB_SERVER_NAME": "gpu",
        }
    )
    assert env is not None and env.api_url == "http://hub:8081/hub/api"
    assert HubClient(env).share_path == "shares/alice/gpu"


def test_share_expands_groups_and_skips_the_owner_and_unknown_users(
    services: Any, fake_hub: FakeHubApi
) -> None:
    async def run() -> None:
        sharing = sharing_for(services, fake_hub)
        wid = await new_shared_workspace(
            services, "w", ["group:analysts", "group:admins", "user:erin", "user:ghost"]
        )
        result = await sharing.share(ALICE, wid)
        assert result["shared_with"] == ["bob", "dave", "erin"]
        assert result["skipped"] == [
            {
                "principal": "user:ghost",
                "reason": "JupyterHub refused POST shares/alice/: 400 No such user: ghost",
            }
        ]
        assert fake_hub.shares == {"bob", "dave", "erin"}
        assert result["server"] == {"owner": "alice", "name": "", "url": "/user/alice/"}
        status = await sharing.status(ALICE, wid)
        assert status["shared_with"] == ["bob", "dave", "erin"]

    asyncio.run(run())


def test_share_needs_the_owner_an_open_workspace_and_collaboration_on(
    services: Any, fake_hub: FakeHubApi
) -> None:
    async def run() -> None:
        sharing = sharing_for(services, fake_hub)
        closed = await new_shared_workspace(services, "closed", ["user:bob"], open_it=False)
        with pytest.raises(ApiError) as e:
            await sharing.share(ALICE, closed)
        assert e.value.code == "WorkspaceNotOpen"
        off = await services.workspaces.create_workspace(ALICE, {"name": "off"})
        with pytest.raises(ApiError) as e:
            await sharing.share(ALICE, off["id"])
        assert e.value.code == "CollaborationDisabled"
        with pytest.raises(ApiError) as e:
            await sharing.share(Identity("bob"), closed)
        assert e.value.status == 403 and "Only alice" in e.value.message
        assert fake_hub.shares == set()
        denied = [e for e in services.audit.recent(50) if e["outcome"] == "denied"]
        assert denied and denied[-1]["action"] == "elasticmapreduce:PutWorkspaceAccess"

    asyncio.run(run())


def test_missing_hub_scopes_are_named(services: Any, fake_hub: FakeHubApi) -> None:
    async def run() -> None:
        sharing = sharing_for(services, fake_hub)
        wid = await new_shared_workspace(services, "w", ["user:bob"])
        fake_hub.refuse_shares = True
        with pytest.raises(HubApiError) as e:
            await sharing.share(ALICE, wid)
        assert e.value.status == 502 and "shares!user" in e.value.message

    asyncio.run(run())


def test_not_under_a_hub_says_so(services: Any) -> None:
    async def run() -> None:
        sharing = HubSharing(services, None)
        wid = await new_shared_workspace(services, "w", ["user:bob"])
        with pytest.raises(ApiError) as e:
            await sharing.share(ALICE, wid)
        assert e.value.status == 409 and e.value.code == "NotUnderJupyterHub"
        with pytest.raises(ApiError) as e:
            await sharing.revoke(ALICE, wid)
        assert e.value.code == "NotUnderJupyterHub"
        # a PATCH outside a hub does nothing hub-related: with the sharing hooks installed
        # (as the part installs them) turning collaboration off still succeeds, and no
        # hub call is attempted (none could be: the hook has no hub client to call)
        services.hooks.add(SharingHooks(sharing))
        updated = await services.workspaces.update_workspace(
            ALICE, wid, {"collaboration": {"enabled": False, "collaborators": []}}
        )
        assert updated["collaboration"] == {"enabled": False, "collaborators": []}
        assert sharing.granted == {}
        events = [(e["action"], e["outcome"]) for e in services.audit.recent(20)]
        assert ("elasticmapreduce:UpdateEditor", "success") in events
        assert not [e for e in services.audit.recent(20) if e["error_code"] == "HubApiError"]

    asyncio.run(run())


def test_update_revokes_what_is_no_longer_needed(services: Any, fake_hub: FakeHubApi) -> None:
    async def run() -> None:
        sharing = sharing_for(services, fake_hub)
        services.hooks.add(SharingHooks(sharing))
        one = await new_shared_workspace(services, "one", ["group:analysts", "user:erin"])
        two = await new_shared_workspace(services, "two", ["user:dave"])
        fake_hub.shares.add("carol")  # shared by alice herself, outside the extension
        await sharing.share(ALICE, one)
        await sharing.share(ALICE, two)
        assert fake_hub.shares == {"bob", "carol", "dave", "erin"}

        # erin dropped from the list: only her share goes
        await services.workspaces.update_workspace(
            ALICE, one, {"collaboration": {"enabled": True, "collaborators": ["group:analysts"]}}
        )
        assert fake_hub.shares == {"bob", "carol", "dave"}
        # collaboration off: bob goes; dave stays (Workspace two still needs him); carol
        # was never ours
        await services.workspaces.update_workspace(
            ALICE, one, {"collaboration": {"enabled": False, "collaborators": ["group:analysts"]}}
        )
        assert fake_hub.shares == {"carol", "dave"}
        # the DELETE endpoint revokes Workspace two's
        result = await sharing.revoke(ALICE, two)
        assert result["revoked"] == ["dave"]
        assert fake_hub.shares == {"carol"}
        actions = [(e["action"], e["outcome"]) for e in services.audit.recent(100)]
        assert ("elasticmapreduce:DeleteWorkspaceAccess", "success") in actions

    asyncio.run(run())


@pytest.mark.parametrize(
    ("message", "write"),
    [
        (b"\x00\x00\x01\x00", False),  # sync step 1: asks for the document
        (b"\x00\x01\x02\x00\x00", True),  # sync step 2: pushes changes
        (b"\x00\x02\x05abcde", True),  # update
        (b"\x01\x05abcde", False),  # awareness (cursors, names)
        (b"\x02\x04save", True),  # ask the server to save
        (b"", False),
        ("text", False),
    ],
)
def test_room_messages_that_write(message: Any, write: bool) -> None:
    assert is_write(message) is write
