"""Storage on a plain install: ``pip install`` plus ``c.Studio.*`` gives a server whose
contents manager is WorkspaceContentsManager, however the server is started.

Every server here is a real process started as an admin starts one (see
``emrws_testing.servers.InstalledServer``): the admin's config file holds only
``c.Studio.*`` (and, in the conflict test, the admin's own contents manager); the
extension is enabled by the installed ``jupyter_server_config.d`` and must choose its
contents manager itself. Then deletes, renames, checkpoints and outage status of
Workspace files go through the Studio's store.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jupyterhub
import pytest
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.proxy import DelayProxy
from emrws_testing.servers import InstalledServer, free_port
from storage_helpers import cell_text, keys, nb_model, read

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "jupyterhub"
OURS = "jupyter_emr_workspace.contents.manager.WorkspaceContentsManager"
ON = {"enabled": True, "reason": None, "contents_manager": OURS}


def studio_lines(backup_uri: str, endpoint: str = "", **extra: Any) -> str:
    """The admin's config: ``c.Studio.*`` and nothing else."""
    settings = {"id": "es-installed", "backup_uri": backup_uri, **extra}
    if endpoint:
        settings["endpoint_url"] = endpoint
    return "".join(f"c.Studio.{k} = {v!r}\n" for k, v in settings.items())


def backups(server: InstalledServer) -> dict[str, Any]:
    r = server.api("GET", "/studio")
    assert r.status_code == 200, r.text
    return r.json()["backups"]  # type: ignore[no-any-return]


@pytest.fixture
def started() -> Iterator[list[InstalledServer]]:
    servers: list[InstalledServer] = []
    yield servers
    for server in servers:
        server.stop()


# -- however it is started, the server backs up with WorkspaceContentsManager ----------------
def test_jupyter_server_with_only_studio_config_uses_the_workspace_manager(
    tmp_path: Path, started: list[InstalledServer]
) -> None:
    server = InstalledServer(tmp_path, "jupyter-server", studio_lines(str(tmp_path / "store")))
    started.append(server.start())
    assert backups(server) == ON
    assert "backups are OFF" not in server.log()


def test_jupyter_server_with_a_config_flag_uses_the_workspace_manager(
    tmp_path: Path, started: list[InstalledServer]
) -> None:
    config = studio_lines(str(tmp_path / "store"))
    server = InstalledServer(tmp_path, "jupyter-server", config, via_flag=True)
    started.append(server.start())
    assert backups(server) == ON


def test_jupyter_lab_with_only_studio_config_uses_the_workspace_manager(
    tmp_path: Path, started: list[InstalledServer]
) -> None:
    server = InstalledServer(tmp_path, "jupyter-lab", studio_lines(str(tmp_path / "store")))
    started.append(server.start())
    assert backups(server) == ON


class _HubApi(BaseHTTPRequestHandler):
    """The two hub API calls a single-user server makes: the version check at start and
    the token check per request (JupyterHub's REST API shapes, answered for one user).
    The full hub is ``test_hub_deployment.py``; this keeps the entry point's test quick."""

    user_token = ""

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/hub/api":
            self._send(200, {"version": jupyterhub.__version__})
        elif self.path == "/hub/api/user" and self.headers.get("Authorization") == (
            f"token {self.user_token}"
        ):
            scopes = ["access:servers!user=alice"]
            self._send(200, {"kind": "user", "name": "alice", "groups": [], "scopes": scopes})
        else:
            self._send(403, {"status": 403, "message": "forbidden"})

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-JupyterHub-Version", jupyterhub.__version__)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_jupyterhub_singleuser_with_the_example_config_uses_the_workspace_manager(
    tmp_path: Path, started: list[InstalledServer]
) -> None:
    """Started as examples/jupyterhub/jupyterhub_config.py starts it: ``--config`` with the
    example's studio_config.py (which names no contents manager)."""
    _HubApi.user_token = "alice-token"
    hub = ThreadingHTTPServer(("127.0.0.1", 0), _HubApi)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    try:
        port = free_port()
        env = {
            "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.server_address[1]}/hub/api",
            "JUPYTERHUB_API_TOKEN": "server-token",
            "JUPYTERHUB_USER": "alice",
            "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-alice",
            "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
            "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}/user/alice/",
            "JUPYTERHUB_BASE_URL": "/",
            "JUPYTERHUB_OAUTH_CALLBACK_URL": "/user/alice/oauth_callback",
            "JUPYTERHUB_OAUTH_ACCESS_SCOPES": json.dumps(["access:servers!user=alice"]),
            "EMR_STUDIO_BACKUP_URI": str(tmp_path / "store"),
        }
        server = InstalledServer(
            tmp_path,
            "jupyterhub-singleuser",
            (EXAMPLES / "studio_config.py").read_text(),
            via_flag=True,
            env=env,
            prefix="/user/alice/",
            port=port,
            token="alice-token",
        )
        started.append(server.start())
        assert "JupyterHubSingleUser" in server.log()  # the hub's extension ran
        assert backups(server) == ON
    finally:
        hub.shutdown()
        hub.server_close()


# -- an admin's own contents manager is kept, and the server says backups are off -------------
def test_a_chosen_manager_that_is_not_ours_turns_backups_off_and_says_why(
    tmp_path: Path, started: list[InstalledServer]
) -> None:
    theirs = "jupyter_server.services.contents.filemanager.AsyncFileContentsManager"
    config = (
        studio_lines(str(tmp_path / "store")) + f"c.ServerApp.contents_manager_class = {theirs!r}\n"
    )
    server = InstalledServer(tmp_path, "jupyter-server", config)
    started.append(server.start())
    status = backups(server)
    assert status["enabled"] is False
    assert status["contents_manager"] == theirs
    assert theirs in status["reason"] and "jupyter_emr_workspace.contents" in status["reason"]
    warnings = [line for line in server.log().splitlines() if "backups are OFF" in line]
    assert len(warnings) == 1 and theirs in warnings[0], server.log()[-3000:]


# -- what the manager does on a plain install ----------------------------------------------------
# The periodic scan runs once an hour here (autosave_interval), and each test backs up on
# demand (POST /workspaces/{id}/backup): what reaches the store is what the contents
# manager reported, not what a scan happened to find.
@pytest.fixture(scope="module")
def s3_proxy(moto: MotoHttp) -> Iterator[DelayProxy]:
    proxy = DelayProxy(moto.server.server_port).start()
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def plain(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoHttp, s3_proxy: DelayProxy
) -> Iterator[tuple[InstalledServer, str]]:
    """One plain-install server for the behaviour tests (each uses its own Workspace)."""
    bucket = f"plain-{free_port()}"
    client(moto.url, "s3").create_bucket(Bucket=bucket)
    config = studio_lines(f"s3://{bucket}/backups", s3_proxy.url, autosave_interval=3600)
    server = InstalledServer(tmp_path_factory.mktemp("plain"), "jupyter-server", config)
    server.start()
    yield server, bucket
    server.stop()


def open_workspace(server: InstalledServer, name: str) -> tuple[str, str]:
    r = server.api("POST", "/workspaces", json={"name": name})
    assert r.status_code == 201, r.text
    ws_id = r.json()["id"]
    r = server.api("POST", f"/workspaces/{ws_id}/open")
    assert r.status_code == 200, r.text
    return ws_id, r.json()["path"]


def save(server: InstalledServer, path: str, text: str) -> None:
    r = server.request("PUT", f"/api/contents/{path}", json=nb_model(text))
    assert r.status_code in (200, 201), r.text


def back_up_now(server: InstalledServer, ws_id: str) -> dict[str, Any]:
    r = server.api("POST", f"/workspaces/{ws_id}/backup")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_deleting_or_renaming_a_notebook_deletes_or_moves_its_backup(
    plain: tuple[InstalledServer, str], moto: MotoHttp
) -> None:
    server, bucket = plain
    s3 = client(moto.url, "s3")
    ws_id, path = open_workspace(server, "moves")
    prefix = f"backups/{ws_id}/"
    save(server, f"{path}/gone.ipynb", "gone")
    save(server, f"{path}/old.ipynb", "moved")
    back_up_now(server, ws_id)
    assert sorted(keys(s3, bucket, prefix)) == [f"{prefix}gone.ipynb", f"{prefix}old.ipynb"]

    assert server.request("DELETE", f"/api/contents/{path}/gone.ipynb").status_code == 204
    r = server.request(
        "PATCH", f"/api/contents/{path}/old.ipynb", json={"path": f"{path}/new.ipynb"}
    )
    assert r.status_code == 200, r.text
    status = back_up_now(server, ws_id)
    assert status["pending"] == [] and status["pending_deletes"] == 0, status
    assert sorted(keys(s3, bucket, prefix)) == [f"{prefix}new.ipynb"]
    assert cell_text(read(s3, bucket, f"{prefix}new.ipynb")) == "moved"


def test_checkpoints_of_workspace_files_go_to_the_backup_location(
    plain: tuple[InstalledServer, str], moto: MotoHttp
) -> None:
    server, bucket = plain
    s3 = client(moto.url, "s3")
    ws_id, path = open_workspace(server, "checkpointed")
    save(server, f"{path}/n.ipynb", "first")
    r = server.request("POST", f"/api/contents/{path}/n.ipynb/checkpoints")
    assert r.status_code == 201, r.text
    checkpoint = r.json()["id"]
    stored = keys(s3, bucket, f"backups/.emr-workspace/checkpoints/{ws_id}/n.ipynb/")
    assert f"backups/.emr-workspace/checkpoints/{ws_id}/n.ipynb/{checkpoint}" in stored
    assert not list(server.root.rglob(".ipynb_checkpoints")), "no checkpoint on local disk"

    save(server, f"{path}/n.ipynb", "second")
    r = server.request("POST", f"/api/contents/{path}/n.ipynb/checkpoints/{checkpoint}")
    assert r.status_code == 204, r.text
    r = server.request("GET", f"/api/contents/{path}/n.ipynb")
    assert r.json()["content"]["cells"][0]["source"] == "first"


def test_saves_during_a_store_outage_show_as_pending(
    plain: tuple[InstalledServer, str], moto: MotoHttp, s3_proxy: DelayProxy
) -> None:
    server, bucket = plain
    ws_id, path = open_workspace(server, "outage")
    s3_proxy.stop()
    try:
        save(server, f"{path}/during.ipynb", "during the outage")
        status = server.api("GET", f"/workspaces/{ws_id}/backup").json()
        assert status["pending"] == ["during.ipynb"], status
    finally:
        s3_proxy.start()
    assert back_up_now(server, ws_id)["pending"] == []
    s3 = client(moto.url, "s3")
    assert cell_text(read(s3, bucket, f"backups/{ws_id}/during.ipynb")) == "during the outage"
