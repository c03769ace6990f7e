"""Spark UI and driver log links through the real jupyter-server.

The local engine (a real one, one Spark session with its UI on) is served through the
server: its pages, scripts and redirects work under the server's path, only the Workspace's
holder gets them (another user: 403, another Workspace's session: 404), only GET passes,
and opening a link is in the audit log. EMR on EC2's application UI APIs are not in moto:
botocore's Stubber answers them with responses recorded in EMR's documented shapes (the
Stubber checks each against botocore's model of the EMR API).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.stub import Stubber
from conftest import Api
from emrws_testing.compute import FakeLivy, run_cluster, subnet_id
from emrws_testing.moto_servers import MotoHttp, client

from jupyter_emr_workspace.livy import EngineProcess

pytestmark = pytest.mark.usefixtures("kernel_registry")

EMR = "elasticmapreduce"
SUBNET = subnet_id()


@pytest.fixture
def studio_config(tmp_path: Path, moto: MotoHttp) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-appui",
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": [SUBNET],
        "compute_sources": ["emr-ec2", "local"],
        "livy_probe_timeout": 2.0,
    }


def events(services: Any, action: str) -> list[dict[str, Any]]:
    return [e for e in services.audit.recent(1000) if e["action"] == action]


async def open_workspace(api: Api, name: str, attach: dict[str, Any]) -> str:
    r = await api("POST", "workspaces", {"name": name})
    wid = str(r.json["id"])
    assert (await api("POST", f"workspaces/{wid}/open")).code == 200
    r = await api("POST", f"workspaces/{wid}/attach", attach)
    assert r.code == 200, r
    return wid


def start_session(engine: EngineProcess, owner: str, ui: bool, wait: bool = True) -> int:
    """A Livy session as the Workspace's kernel would create it (its own credential)."""
    auth = engine.sparkmagic_auth(owner)
    http = requests.Session()
    http.auth = (auth["username"], auth["password"])
    conf = {"spark.ui.enabled": str(ui).lower(), "spark.ui.port": "0"}
    r = http.post(f"{engine.url}/sessions", json={"kind": "pyspark", "conf": conf}, timeout=30)
    sid = int(r.json()["id"])
    if not wait:
        return sid
    deadline = time.monotonic() + 120
    while http.get(f"{engine.url}/sessions/{sid}", timeout=10).json()["state"] != "idle":
        assert time.monotonic() < deadline, "the session did not start"
        time.sleep(0.2)
    return sid


async def fetch(jp_fetch: Any, path: str, user: str = "alice", **kw: Any) -> Any:
    where = path.split("?")[0].lstrip("/")  # one piece: a trailing slash is kept
    query = dict(q.split("=", 1) for q in path.split("?")[1].split("&")) if "?" in path else {}
    return await jp_fetch(
        where,
        headers={"X-Test-User": user},
        params=query,
        raise_error=False,
        follow_redirects=False,
        **kw,
    )


@pytest.mark.spark
async def test_the_local_spark_ui_is_served_to_the_holder_only_and_its_links_work(
    api: Api, jp_fetch: Any, jp_base_url: str, services: Any, engine: EngineProcess
) -> None:
    compute = services.compute
    compute.local.use(engine)
    local = {"type": "local", "cluster_id": "local"}
    wid = await open_workspace(api, "ui work", local)
    other = await open_workspace(api, "other work", local)
    sid = await asyncio.to_thread(start_session, engine, wid, True)
    # another Workspace's session: only its id and owner matter (and that it has no UI)
    theirs = await asyncio.to_thread(start_session, engine, other, False, False)

    # the links, as the panel and %%info get them
    r = await api("GET", f"workspaces/{wid}/app-ui")
    assert r.code == 200, r
    (session,) = r.json["sessions"]
    prefix = f"{jp_base_url.rstrip('/')}/emr-workspace/api/workspaces/{wid}/spark-ui/{sid}"
    assert session["spark_ui"] == prefix + "/"
    assert session["driver_log"].endswith(f"/workspaces/{wid}/driver-log/{sid}")
    about = json.loads((compute.conf_dir(wid) / "workspace.json").read_text())
    assert about["api_path"] == prefix.split("/spark-ui/")[0]
    assert about["attached_by"] == "alice"

    # opening it: Spark's redirect stays under the server's path, not at Spark's port
    ui_path = prefix[len(jp_base_url.rstrip("/")) :]
    first = await fetch(jp_fetch, ui_path)
    assert first.code == 302, first.body[:300]
    assert first.headers["Location"] == prefix + "/jobs/"
    page = await fetch(jp_fetch, ui_path + "/jobs/")
    assert page.code == 200 and "text/html" in page.headers["Content-Type"]
    html = page.body.decode()
    links = re.findall(r'(?:href|src)="(/[^"]*)"', html)
    assert links and all(link.startswith(prefix + "/") for link in links), links
    assert f"setUIRoot('{prefix}')" in html  # the UI's scripts call its REST API under it
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    script = next(link for link in links if link.endswith(".js"))
    asset = await fetch(jp_fetch, script[len(jp_base_url.rstrip("/")) :])
    assert asset.code == 200 and "javascript" in asset.headers["Content-Type"]
    api_call = await fetch(jp_fetch, ui_path + "/api/v1/applications")
    assert api_call.code == 200 and json.loads(api_call.body)[0]["id"]

    # the driver log
    log = await fetch(jp_fetch, f"emr-workspace/api/workspaces/{wid}/driver-log/{sid}")
    assert log.code == 200 and log.headers["Content-Type"].startswith("text/plain")
    assert "Spark is ready" in log.body.decode()

    # only GET: the UI's kill buttons (POST) do not pass
    kill = await fetch(
        jp_fetch,
        ui_path + "/jobs/job/kill/",
        method="POST",
        body=b"id=0",
        allow_nonstandard_methods=True,
    )
    assert kill.code == 405

    # another user of this server: 403 for the links, the UI, its assets and the log
    for path in (ui_path, ui_path + "/jobs/", script[len(jp_base_url.rstrip("/")) :]):
        denied = await fetch(jp_fetch, path, user="bob")
        assert denied.code == 403, (path, denied.body[:200])
        assert b"WorkspaceNotOpen" in denied.body
    assert (
        await fetch(jp_fetch, f"emr-workspace/api/workspaces/{wid}/driver-log/{sid}", user="bob")
    ).code == 403
    assert (await api("GET", f"workspaces/{wid}/app-ui", user="bob")).code == 403

    # another Workspace's session through this Workspace's path: as if it did not exist
    cross = await fetch(jp_fetch, f"emr-workspace/api/workspaces/{wid}/spark-ui/{theirs}/")
    assert cross.code == 404
    no_ui = await fetch(jp_fetch, f"emr-workspace/api/workspaces/{other}/spark-ui/{theirs}/")
    assert no_ui.code == 409 and b"spark.ui.enabled=false" in no_ui.body

    # opened links are in the audit log (the entry page and the log, not each asset)
    opened = [
        e
        for e in events(services, f"{EMR}:GetOnClusterAppUIPresignedURL")
        if e["outcome"] == "success"
    ]
    assert sorted(e["details"]["link"] for e in opened) == ["driver-log", "spark-ui"], opened
    assert all(e["user"] == "alice" and e["details"]["workspace_id"] == wid for e in opened)
    denied = [
        e
        for e in events(services, f"{EMR}:GetOnClusterAppUIPresignedURL")
        if e["outcome"] != "success"
    ]
    assert {(e["user"], e["outcome"]) for e in denied} == {("bob", "denied"), ("alice", "failure")}


async def test_emr_links_open_presigned_urls_from_emr_app_ui_apis(
    api: Api, jp_fetch: Any, services: Any, moto: MotoHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto has no CreatePersistentAppUI / Get*AppUIPresignedURL: botocore's Stubber answers
    with recorded responses (EMR's documented shapes, checked against botocore's model)."""
    livy = FakeLivy()
    try:
        cluster = run_cluster(client(moto.url, "emr"), "ui-cluster", SUBNET)
        services.studio.livy_urls = {cluster: livy.url}
        wid = await open_workspace(api, "emr work", {"type": "emr-ec2", "cluster_id": cluster})
    finally:
        livy.close()
    compute = services.compute
    arn = compute.arns.cluster(cluster)
    emr = client(moto.url, "emr")
    stub = Stubber(emr)
    live = "https://j-1.emrappui-prod.us-east-1.amazonaws.com/shs/?authToken=live"
    history = "https://p-2.emrappui-prod.us-east-1.amazonaws.com/shs/?authToken=history"
    app = "application_1700000000000_0001"
    stub.add_response(
        "get_on_cluster_app_ui_presigned_url",
        {"PresignedURLReady": True, "PresignedURL": live},
        {"ClusterId": cluster, "OnClusterAppUIType": "ApplicationMaster", "ApplicationId": app},
    )
    stub.add_response(
        "create_persistent_app_ui",
        {"PersistentAppUIId": "pau-0123456789abcdef", "RuntimeRoleEnabledCluster": False},
        {"TargetResourceArn": arn},
    )
    for _ in range(2):  # the persistent UI is created once per cluster
        stub.add_response(
            "get_persistent_app_ui_presigned_url",
            {"PresignedURLReady": True, "PresignedURL": history},
            {"PersistentAppUIId": "pau-0123456789abcdef", "PersistentAppUIType": "SHS"},
        )

    async def stubbed(identity: Any, service: str) -> Any:
        assert service == "emr"
        return emr

    monkeypatch.setattr(compute, "client", stubbed)
    r = await api("GET", f"workspaces/{wid}/app-ui")
    assert r.code == 200, r
    urls = {link["label"]: link["url"] for link in r.json["links"]}
    assert set(urls) == {"Spark UI (running applications)", "Spark History Server"}
    with stub:
        base = f"emr-workspace/api/workspaces/{wid}/app-ui/open"
        opened = await fetch(jp_fetch, f"{base}?type=spark-ui&application_id={app}")
        assert (opened.code, opened.headers["Location"]) == (302, live)
        for _ in range(2):
            opened = await fetch(jp_fetch, f"{base}?type=spark-history")
            assert (opened.code, opened.headers["Location"]) == (302, history)
        stub.assert_no_pending_responses()
    bad = await fetch(jp_fetch, f"{base}?type=shell")
    assert bad.code == 400
    bad = await fetch(jp_fetch, f"{base}?type=spark-ui&application_id=../../x")
    assert bad.code == 400
    assert (await fetch(jp_fetch, f"{base}?type=spark-ui", user="bob")).code == 403
    live_events = events(services, f"{EMR}:GetOnClusterAppUIPresignedURL")
    history_events = events(services, f"{EMR}:GetPersistentAppUIPresignedURL")
    assert [e["outcome"] for e in live_events].count("success") == 1
    assert [e["outcome"] for e in history_events].count("success") == 2
    assert live_events[-1]["resource"] == arn or live_events[0]["resource"] == arn


def test_info_links_lead_through_the_server_and_name_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """%%info of a Workspace on the local engine: the Spark UI and driver log under the
    Workspace's API path, and who attached it instead of the Workspace's id; on EMR,
    sparkmagic's table plus links to EMR's UIs through the server."""
    from jupyter_emr_workspace.kernels.cluster_hints import local_sessions_info_html
    from jupyter_emr_workspace.kernels.info_links import emr_links_html

    class Session:
        id, kind, status = 3, "pyspark", "idle"

        def get_spark_ui_url(self) -> str:
            return "http://127.0.0.1:4041"

        def get_driver_log_url(self) -> None:
            return None

        def get_user(self) -> str:
            return "e-ALPHA"

        def get_app_id(self) -> str:
            return "application_1_2"

    info = {"type": "local", "api_path": "/user/al/emr-workspace/api/workspaces/e-ALPHA"}
    html = local_sessions_info_html([Session()], 3, {**info, "attached_by": "alice"})
    assert 'href="/user/al/emr-workspace/api/workspaces/e-ALPHA/spark-ui/3/"' in html
    assert 'href="/user/al/emr-workspace/api/workspaces/e-ALPHA/driver-log/3"' in html
    assert "<td>alice</td>" in html and "127.0.0.1" not in html and "YARN" not in html
    emr = emr_links_html({**info, "type": "emr-ec2"}, [Session()])
    assert "app-ui/open?type=spark-ui&amp;application_id=application_1_2" in emr
    assert emr_links_html({"type": "emr-ec2"}, [Session()]) == ""  # no path: no link
