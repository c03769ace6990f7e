"""A real JupyterHub (PyPI) with configurable-http-proxy (npm), DummyAuthenticator and
local-process single-user servers running the extension against one shared Studio
store (S3 on moto's HTTP server). Everything goes through the hub's public URL.

One hub for the module (spawns take seconds); the tests run in order and build on each
other's users and servers, never on each other's Workspaces.

configurable-http-proxy: ``$CHP`` or ``<repo>/.hub-proxy/node_modules/.bin/`` (``npm
install --prefix .hub-proxy configurable-http-proxy``, which scripts/test.sh runs), else
``PATH``; a missing proxy fails the tests, it never skips them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from emrws_testing.compute import run_cluster
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.servers import free_port
from emrws_testing.ydoc import YRoomClient
from moto.emr.models import Cluster as MotoCluster

pytestmark = pytest.mark.hub

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ADMIN_TOKEN = "hub-test-admin-" + uuid.uuid4().hex
CACHE_SECONDS = 1  # HubAuth.cache_max_age in the single-user servers
SUBNET = "subnet-0a1b2c3d4e5f60718"


def find_chp() -> str | None:
    for candidate in (
        os.environ.get("CHP"),
        str(REPO / ".hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"),
        shutil.which("configurable-http-proxy"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def wait_for(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (requests.RequestException, AssertionError, KeyError) as e:
            last = e
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}; last: {last!r}")


HUB_CONFIG = """
# The documented example, as an admin would use it ...
load_subconfig("{example}")  # noqa
c = get_config()  # noqa
# ... with what only a test needs: free loopback ports, a throwaway state folder, the
# npm proxy, and an admin service to drive the hub's API.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {proxy_port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{tmp}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/cookie_secret"
c.JupyterHub.pid_file = "{tmp}/hub.pid"
c.JupyterHub.cleanup_servers = True
c.ConfigurableHTTPProxy.command = ["{chp}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = "{proxy_token}"
c.ConfigurableHTTPProxy.pid_file = "{tmp}/proxy.pid"
c.Spawner.start_timeout = 60
c.Spawner.term_timeout = 15
c.JupyterHub.load_roles.append(
    {{"name": "tester", "services": ["tester"],
     "scopes": ["admin:users", "admin:servers", "tokens", "admin:groups", "shares",
                "read:hub"]}}
)
c.JupyterHub.services = [{{"name": "tester", "api_token": "{admin_token}"}}]
"""

SINGLEUSER_CONFIG = """
# The documented single-user config (examples/jupyterhub/studio_config.py, which the
# example hub passes as --config), reading its settings from the EMR_STUDIO_* variables
# the hub passes on ...
load_subconfig("{studio_example}")  # noqa
c = get_config()  # noqa
# ... with what only a test needs: short caches and intervals, and its own users' policies.
c.HubAuth.cache_max_age = {cache}
c.HubOAuth.cache_max_age = {cache}
c.Studio.region = "us-east-1"
c.Studio.lease_seconds = 60
c.Studio.autosave_interval = 1
# Group-based access from the hub's groups: analysts and alice may do everything,
# carol (in no group) everything but create and delete Workspaces.
c.Studio.policies = {{
    "full": {{"Version": "2012-10-17",
             "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*"}}]}},
    "member": {{"Version": "2012-10-17", "Statement": [
        {{"Effect": "Allow", "Action": "*", "Resource": "*"}},
        {{"Effect": "Deny", "Resource": "*", "Action": [
            "elasticmapreduce:CreateEditor", "elasticmapreduce:DeleteEditor"]}}]}},
}}
c.Studio.assignments = {{"group:analysts": "full", "user:alice": "full", "user:carol": "member"}}
# compute: EMR on EC2 clusters in this subnet, Livy on the primary node's public name
c.Studio.compute_sources = ["emr-ec2"]
c.Studio.use_public_dns = True
c.Studio.livy_probe_timeout = 2
c.YDocExtension.document_save_delay = 0.2
c.YDocExtension.file_poll_interval = 0.5
"""


class Hub:
    """The running hub, its admin API and per-user tokens."""

    def __init__(self, tmp: Path, moto: MotoHttp, chp: str) -> None:
        self.tmp = tmp
        self.bucket = f"hub-{uuid.uuid4().hex[:10]}"
        client(moto.url, "s3").create_bucket(Bucket=self.bucket)
        self.s3 = client(moto.url, "s3")
        self.port, self.hub_port, api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        singleuser_config = tmp / "singleuser_config.py"
        singleuser_config.write_text(
            SINGLEUSER_CONFIG.format(
                cache=CACHE_SECONDS,
                studio_example=REPO / "examples" / "jupyterhub" / "studio_config.py",
            )
        )
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "EMR_STUDIO_CONFIG": str(singleuser_config),
            "EMR_STUDIO_ID": "es-hub",
            "EMR_STUDIO_BACKUP_URI": f"s3://{self.bucket}/studio",
            "EMR_STUDIO_ENDPOINT_URL": moto.url,
            "EMR_STUDIO_SUBNETS": SUBNET,
            "EMR_HUB_SPAWNER": "simple",
            "EMR_HUB_HOMES": str(tmp / "home" / "{username}"),
            "EMR_HUB_AUTHENTICATOR": "dummy",
        }
        config = tmp / "jupyterhub_config.py"
        config.write_text(
            HUB_CONFIG.format(
                proxy_port=self.port,
                hub_port=self.hub_port,
                proxy_api_port=api_port,
                proxy_token=uuid.uuid4().hex,
                tmp=tmp,
                chp=chp,
                example=REPO / "examples" / "jupyterhub" / "jupyterhub_config.py",
                admin_token=ADMIN_TOKEN,
            )
        )
        self.log_path = tmp / "hub.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(config), "--debug"],
            cwd=tmp,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        self.tokens: dict[str, str] = {}

    # -- the hub's API, as the admin service --------------------------------------------
    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            f"{self.url}/hub/api/{path}",
            headers={"Authorization": f"token {ADMIN_TOKEN}"},
            timeout=60,
            **kwargs,
        )

    def wait_ready(self) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited:\n{self.log_tail()}")
            return self.admin("GET", "").status_code == 200

        wait_for(up, 60, "the hub")

    def log_tail(self, n: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]

    def add_users(self, *names: str) -> None:
        r = self.admin("POST", "users", json={"usernames": list(names)})
        assert r.status_code in (201, 409), r.text
        for name in names:
            r = self.admin("POST", f"users/{name}/tokens", json={"note": "test"})
            assert r.status_code == 201, r.text
            self.tokens[name] = r.json()["token"]

    def start_server(self, name: str) -> None:
        r = self.admin("POST", f"users/{name}/server")
        assert r.status_code in (201, 202, 400), r.text

        def ready() -> bool:
            server = self.admin("GET", f"users/{name}").json()["servers"].get("")
            return bool(server and server.get("ready"))

        wait_for(ready, 90, f"{name}'s server")

    def stop_server(self, name: str) -> None:
        r = self.admin("DELETE", f"users/{name}/server")
        assert r.status_code in (202, 204), r.text
        wait_for(
            lambda: "" not in self.admin("GET", f"users/{name}").json()["servers"],
            60,
            f"{name}'s server to stop",
        )

    def shares(self, owner: str) -> set[str]:
        items = self.admin("GET", f"shares/{owner}/").json()["items"]
        return {s["user"]["name"] for s in items if s.get("user")}

    # -- a user's calls through the hub's URL -------------------------------------------
    def as_user(self, user: str, server: str) -> UserClient:
        return UserClient(self, user, server)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


class UserClient:
    """``user`` calling the server of ``server`` (``/user/<server>/``) with their token."""

    def __init__(self, hub: Hub, user: str, server: str) -> None:
        self.hub, self.user, self.server = hub, user, server
        self.base = f"{hub.url}/user/{server}"
        self.headers = {"Authorization": f"token {hub.tokens[user]}"}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            f"{self.base}/{path.lstrip('/')}",
            headers=self.headers,
            timeout=60,
            allow_redirects=False,
            **kwargs,
        )

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.request(method, f"emr-workspace/api/{path.lstrip('/')}", **kwargs)

    def save_notebook(self, path: str, source: str) -> requests.Response:
        nb = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": "c1",
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        return self.request("PUT", f"api/contents/{path}", json={"type": "notebook", "content": nb})

    def notebook_source(self, path: str) -> str:
        r = self.request("GET", f"api/contents/{path}")
        assert r.status_code == 200, r.text
        return "".join(c["source"] for c in r.json()["content"]["cells"])


@pytest.fixture(scope="module")
def hub(moto: MotoHttp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    chp = find_chp()
    if chp is None:
        pytest.fail(
            "configurable-http-proxy not found: run scripts/test.sh, or "
            "npm install --prefix .hub-proxy configurable-http-proxy@4"
        )
    tmp = tmp_path_factory.mktemp("hub")
    h = Hub(tmp, moto, chp)
    try:
        h.wait_ready()
        h.add_users("alice", "bob", "carol")
        threads = [threading.Thread(target=h.start_server, args=(n,)) for n in ("alice", "bob")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        yield h
    except BaseException:
        print(h.log_tail(), file=sys.stderr)
        raise
    finally:
        h.stop()


def create_workspace(c: UserClient, **body: Any) -> dict[str, Any]:
    body.setdefault("name", f"ws-{uuid.uuid4().hex[:8]}")
    r = c.api("POST", "workspaces", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def open_workspace(c: UserClient, wid: str) -> dict[str, Any]:
    r = c.api("POST", f"workspaces/{wid}/open", json={})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def backup_text(hub: Hub, wid: str, name: str) -> str:
    return hub.s3.get_object(Bucket=hub.bucket, Key=f"studio/{wid}/{name}")["Body"].read().decode()


# -- 1. the deployment: hub identities and groups reach the extension --------------------
def test_hub_identity_groups_and_policies(hub: Hub) -> None:
    alice = hub.as_user("alice", "alice")
    bob = hub.as_user("bob", "bob")
    r = alice.api("GET", "studio")
    assert r.status_code == 200, r.text
    assert r.json()["user"] == {"name": "alice", "groups": []}
    info = bob.api("GET", "studio").json()
    assert info["user"] == {"name": "bob", "groups": ["analysts"]}
    assert info["permissions"]["elasticmapreduce:CreateEditor"] is True  # via group:analysts
    assert info["backup_uri"] == f"s3://{hub.bucket}/studio"
    # the single-user config names no contents manager: the extension chose its own
    assert info["backups"]["enabled"] is True, info["backups"]
    # carol has no server of her own: only the hub lets users in
    assert hub.as_user("carol", "alice").api("GET", "studio").status_code == 403


# -- 2. cross-server single editor ---------------------------------------------------------
def test_single_editor_across_servers_then_close(hub: Hub) -> None:
    alice, bob = hub.as_user("alice", "alice"), hub.as_user("bob", "bob")
    ws = create_workspace(alice, name="cross-server")
    wid = ws["id"]
    lease = open_workspace(alice, wid)["lease"]
    assert alice.save_notebook(f"{ws['path']}/analysis.ipynb", "print('alice')").status_code in (
        200,
        201,
    )
    r = bob.api("POST", f"workspaces/{wid}/open", json={})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "WorkspaceInUse"
    assert r.json()["error"]["holder"]["user"] == "alice"
    assert "alice" in r.json()["error"]["message"]
    listed = {w["id"]: w for w in bob.api("GET", "workspaces").json()["workspaces"]}
    assert listed[wid]["lock"]["holders"][0]["user"] == "alice"
    # bob cannot write into it on his own server either
    assert bob.save_notebook(f"{ws['path']}/bob.ipynb", "x").status_code == 423

    r = alice.api("POST", f"workspaces/{wid}/close", json={"token": lease["token"]})
    assert r.status_code == 204, r.text
    opened = open_workspace(bob, wid)
    assert opened["lease"]["generation"] > lease["generation"]
    assert opened.get("restored") == 1, opened
    assert bob.notebook_source(f"{ws['path']}/analysis.ipynb") == "print('alice')"


def test_lease_released_when_the_server_stops(hub: Hub) -> None:
    alice, bob = hub.as_user("alice", "alice"), hub.as_user("bob", "bob")
    ws = create_workspace(alice, name="server-stops")
    wid = ws["id"]
    open_workspace(alice, wid)
    r = alice.save_notebook(f"{ws['path']}/late.ipynb", "print('saved just before stop')")
    assert r.status_code in (200, 201), r.text
    assert bob.api("POST", f"workspaces/{wid}/open", json={}).status_code == 409
    hub.stop_server("alice")  # SIGTERM: pending backups flushed, leases released
    try:
        # the lease (60 s) has not expired: only the shutdown can have freed it
        opened = open_workspace(bob, wid)
        assert opened.get("restored") == 1, opened
        assert "saved just before stop" in bob.notebook_source(f"{ws['path']}/late.ipynb")
        r = bob.api("POST", f"workspaces/{wid}/close", json={"token": opened["lease"]["token"]})
        assert r.status_code == 204
    finally:
        hub.start_server("alice")


# -- 3. collaboration through the hub's sharing API and jupyter-collaboration ---------------
class YClient(YRoomClient):
    """A real-time session on a notebook's collaboration room, as JupyterLab opens one,
    through the hub's URL with the user's token."""

    def __init__(self, c: UserClient, path: str) -> None:
        def put_session(url: str) -> Any:
            return c.request("PUT", url, json={"format": "json", "type": "notebook"})

        super().__init__(
            put_session,
            c.base.replace("http://", "ws://", 1),
            [f"Authorization: {c.headers['Authorization']}"],
            path,
            c.user,
        )


def test_collaboration_shared_through_the_hub(hub: Hub) -> None:
    alice = hub.as_user("alice", "alice")
    bob = hub.as_user("bob", "alice")  # bob on alice's server, through the hub's URL
    carol = hub.as_user("carol", "alice")
    ws = create_workspace(
        alice, name="pair", collaboration={"enabled": True, "collaborators": ["group:analysts"]}
    )
    wid, path = ws["id"], f"{ws['path']}/pair.ipynb"
    assert bob.api("GET", "studio").status_code == 403  # the hub keeps bob out for now

    r = alice.api("POST", f"workspaces/{wid}/share", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "WorkspaceNotOpen", r.text
    open_workspace(alice, wid)
    assert alice.save_notebook(path, "x = 1\n").status_code in (200, 201)
    r = alice.api("POST", f"workspaces/{wid}/share", json={})
    assert r.status_code == 200, r.text
    assert r.json()["shared_with"] == ["bob"]  # group:analysts expanded to its users
    assert r.json()["server"] == {"owner": "alice", "name": "", "url": "/user/alice/"}
    assert hub.shares("alice") == {"bob"}

    # bob joins alice's server under his own identity and opens the Workspace with her
    wait_for(lambda: bob.api("GET", "studio").status_code == 200, 15, "bob's access")
    assert bob.api("GET", "studio").json()["user"] == {"name": "bob", "groups": ["analysts"]}
    assert bob.api("POST", f"workspaces/{wid}/share", json={}).status_code == 403  # not his
    open_workspace(bob, wid)
    holders = alice.api("GET", f"workspaces/{wid}").json()["lock"]["holders"]
    assert {h["user"] for h in holders} == {"alice", "bob"}

    ya, yb = YClient(alice, path), YClient(bob, path)
    try:
        ya.pump(lambda: ya.source() == "x = 1\n")
        yb.pump(lambda: yb.source() == "x = 1\n")
        ya.append("y = 2\n")
        yb.pump(lambda: "y = 2" in yb.source())
        yb.append("z = 3\n")
        ya.pump(lambda: "z = 3" in ya.source())
        assert ya.source() == yb.source() == "x = 1\ny = 2\nz = 3\n"
        # the room saves through the contents manager: on disk and backed up
        wait_for(lambda: "z = 3" in alice.notebook_source(path), 15, "the room's save")

        # carol: the hub lets her in (an admin shared the server), the extension does not
        assert hub.admin("POST", "shares/alice/", json={"user": "carol"}).status_code == 200
        wait_for(lambda: carol.api("GET", "studio").status_code == 200, 15, "carol's access")
        r = carol.api("POST", f"workspaces/{wid}/open", json={})
        assert r.status_code == 409 and r.json()["error"]["code"] == "WorkspaceInUse", r.text
        assert carol.save_notebook(path, "carol was here").status_code == 423
        assert carol.api("POST", f"workspaces/{wid}/share", json={}).status_code == 403
        yc = YClient(carol, path)
        try:
            yc.pump(lambda: "z = 3" in yc.source())  # she may watch
            yc.append("carol was here\n")  # but her edits are dropped
            ya.append("w = 4\n")
            yb.pump(lambda: "w = 4" in yb.source())
            yc.pump(lambda: "w = 4" in yc.source())
            assert "carol" not in yb.source() and "carol" not in ya.source()
            wait_for(lambda: "w = 4" in alice.notebook_source(path), 15, "the room's save")
            assert "carol" not in alice.notebook_source(path)
            # nor can she merge a fork of the document back into it; alice can
            for who, status in ((carol, 423), (alice, 200)):
                r = who.request("PUT", f"api/collaboration/fork/{ya.room}", json={})
                assert r.status_code == 201, r.text
                fork = r.json()["fork_roomid"]
                r = who.request("DELETE", f"api/collaboration/fork/{fork}?merge=true")
                assert r.status_code == status, r.text
        finally:
            yc.close()
    finally:
        ya.close()
        yb.close()

    # collaboration off: what sharing granted is revoked; carol's admin share is not ours
    r = alice.api(
        "PATCH",
        f"workspaces/{wid}",
        json={"collaboration": {"enabled": False, "collaborators": ["group:analysts"]}},
    )
    assert r.status_code == 200, r.text
    assert hub.shares("alice") == {"carol"}
    wait_for(lambda: bob.api("GET", "studio").status_code == 403, 15, "bob's access to end")


# -- 4. restart and failover ----------------------------------------------------------------
class LivyStandIn:
    """Answers Livy's ``GET /sessions`` on one address: a cluster's primary node."""

    def __init__(self, host: str, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b'{"from": 0, "total": 0, "sessions": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def primary_nodes(names: dict[str, str]) -> Iterator[None]:
    """Let tests move a moto cluster's primary node (moto's server runs in this process)."""
    original = MotoCluster.master_public_dns_name

    def dns(self: Any) -> str:
        return names.get(self.id) or original.fget(self)  # type: ignore[attr-defined,no-any-return]

    MotoCluster.master_public_dns_name = property(dns)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        MotoCluster.master_public_dns_name = original  # type: ignore[method-assign]


def test_restart_loses_nothing_and_follows_the_primary_node(hub: Hub, moto: MotoHttp) -> None:
    alice = hub.as_user("alice", "alice")
    port = free_port()
    cluster = run_cluster(
        client(moto.url, "emr"),
        "hub-cluster",
        SUBNET,
        configurations=[
            {"Classification": "livy-conf", "Properties": {"livy.server.port": str(port)}}
        ],
    )
    names = {cluster: "127.0.0.1"}
    old_primary = LivyStandIn("127.0.0.1", port)
    with primary_nodes(names):
        ws = create_workspace(alice, name="restart")
        wid, path = ws["id"], f"{ws['path']}/work.ipynb"
        open_workspace(alice, wid)
        r = alice.api(
            "POST", f"workspaces/{wid}/attach", json={"type": "emr-ec2", "cluster_id": cluster}
        )
        assert r.status_code == 200, r.text
        assert r.json()["attachment"]["livy_url"] == f"http://127.0.0.1:{port}"
        for i in range(3):  # saved right before the stop: backups still pending
            assert alice.save_notebook(path, f"step {i}").status_code in (200, 201)

        hub.stop_server("alice")
        assert "step 2" in backup_text(hub, wid, "work.ipynb")  # flushed at shutdown
        # the cluster's primary node is replaced while the server is down
        old_primary.close()
        names[cluster] = "127.0.0.2"
        new_primary = LivyStandIn("127.0.0.2", port)
        try:
            hub.start_server("alice")
            opened = open_workspace(alice, wid)  # the lease was released at shutdown
            attachment = opened["workspace"]["attachment"]
            assert attachment["cluster_id"] == cluster
            assert attachment["livy_url"] == f"http://127.0.0.2:{port}", opened
            assert alice.notebook_source(path) == "step 2"
            stored = alice.api("GET", f"workspaces/{wid}").json()["attachment"]
            assert stored["livy_url"] == f"http://127.0.0.2:{port}"
        finally:
            new_primary.close()
