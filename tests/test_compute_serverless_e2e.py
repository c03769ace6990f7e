"""End to end: a real sparkmagic kernel runs Spark on an EMR Serverless application through
a Livy endpoint that accepts only SigV4-signed requests.

The application lives in moto's emr-serverless (over HTTP; moto does not model
``interactiveConfiguration``, so the test sets that one field on moto's application). Its
Livy endpoint is mapped (``c.Studio.livy_urls``, as the EC2 tests map clusters) to a proxy
that verifies every request's signature with botocore against the secrets moto's STS issued
and refuses unsigned, wrongly signed or expired ones, in front of the embedded engine. The
Studio runs in IDENTITY_CENTER mode, so the kernel signs as the user role narrowed by the
user's session policy.

The Workspace's sessions die with it on every source: detaching or deleting it deletes them
through the same proxy (signed as its kernels sign), and on EMR on EC2 with a runtime role
as the role's Livy user; moto has no ``GetClusterSessionCredentials``, so its answers are
recorded responses played by botocore's Stubber (as in test_executions_roles.py); a
Workspace closed first (closing drops the kernels' credentials) gets them fetched again.
The module's one engine serves every test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from conftest import Api
from emrws_testing.compute import FakeLivy, run_cluster, subnet_id
from emrws_testing.moto_servers import MotoHttp, client
from emrws_testing.sigv4_proxy import SigV4Proxy, moto_sts_expire, moto_sts_lookup
from test_compute_e2e import (  # noqa: F401 (fixtures)
    Kernel,
    jp_env_jupyter_path,
    kernel_env,
    livy_sessions,
    start_kernel,
)
from test_compute_serverless import ROLE, create_application
from test_executions_roles import mapped_cluster, recorded_credentials, stubbed_emr

from jupyter_emr_workspace.kernels.notebook_session import LIVE_STATES, workspace_prefix
from jupyter_emr_workspace.livy import EngineProcess

SUBNET = subnet_id()
USER_ROLE = "arn:aws:iam::123456789012:role/emr-studio-user"
SESSION = {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}}


@pytest.fixture
def studio_config(tmp_path: Path, moto: MotoHttp) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-serverless-e2e",
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": [SUBNET],
        "compute_sources": ["emr-serverless", "emr-ec2"],
        "livy_probe_timeout": 2.0,
        "auth_mode": "IDENTITY_CENTER",
        "user_role_arn": USER_ROLE,
        "policies": {
            "analyst": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["elasticmapreduce:*", "emr-serverless:*"],
                        "Resource": "*",
                    },
                    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE},
                ],
            }
        },
        "assignments": {"user:alice": "analyst"},
        "execution_roles": {"*": [ROLE]},
    }


@pytest.fixture
def proxy(engine: EngineProcess) -> Iterator[SigV4Proxy]:
    server = SigV4Proxy(engine.url, (engine.username, engine.password or ""), moto_sts_lookup)
    yield server
    server.close()


def signed(url: str, key: str, secret: str, token: str | None) -> requests.Response:
    request = AWSRequest(method="GET", url=f"{url}/sessions", data=b"")
    SigV4Auth(Credentials(key, secret, token), "emr-serverless", "us-east-1").add_auth(request)
    return requests.get(f"{url}/sessions", headers=dict(request.headers.items()), timeout=10)


@pytest.mark.spark
async def test_a_kernel_runs_spark_on_serverless_with_signed_requests_and_renewed_credentials(
    api: Api,
    services: Any,
    jp_serverapp: Any,
    moto: MotoHttp,
    proxy: SigV4Proxy,
) -> None:
    compute = services.compute
    app_id = create_application(moto, "interactive", [SUBNET], stopped=True)
    services.studio.livy_urls = {app_id: proxy.url}
    r = await api("POST", "workspaces", {"name": "serverless e2e"})
    wid = r.json["id"]
    assert (await api("POST", f"workspaces/{wid}/open")).code == 200
    body = {
        "type": "emr-serverless",
        "cluster_id": app_id,
        "execution_role_arn": ROLE,
        "session": SESSION,
    }
    r = await api("POST", f"workspaces/{wid}/attach", body)
    assert r.code == 200 and r.json["application_state"] == "STARTED", r
    # the attach-time reachability probe is the server's, unsigned: 403 still means reachable
    assert proxy.refused == [("MissingAuthenticationToken", "GET /sessions?size=1")]
    proxy.refused.clear()
    kernel: Kernel | None = None
    try:
        kernel = await start_kernel(api, jp_serverapp, wid)
        text, reply = await kernel.run("spark.range(100).count()")
        assert reply["status"] == "ok", text
        assert "100" in text.split("SparkSession available as 'spark'.")[-1]

        # every request was signed, with the user role narrowed by the session policy
        assert proxy.accepted and not proxy.refused, proxy.refused
        keys = {key for key, _ in proxy.accepted}
        assert len(keys) == 1
        (first,) = keys
        from moto.sts.models import sts_backends

        issued = [
            role
            for account in list(sts_backends.keys())
            for role in sts_backends[account]["global"].assumed_roles
            if role.access_key_id == first
        ]
        assert issued[0].role_arn == USER_ROLE
        assert json.loads(issued[0].policy)["Statement"][1]["Action"] == "iam:PassRole"
        # ... and the Spark session asked to run as the chosen execution role
        (created,) = proxy.session_requests
        assert json.loads(created)["conf"]["emr-serverless.session.executionRoleArn"] == ROLE

        # unsigned and wrongly signed requests are refused
        unsigned = await asyncio.to_thread(requests.get, f"{proxy.url}/sessions", timeout=10)
        assert unsigned.status_code == 403
        lookup = moto_sts_lookup(first)
        assert lookup is not None
        wrong = await asyncio.to_thread(signed, proxy.url, first, "not-the-secret", lookup.token)
        assert wrong.status_code == 403
        assert [why for why, _ in proxy.refused] == [
            "MissingAuthenticationToken",
            "InvalidSignatureException: signature does not match",
        ]

        # an hour on: STS expires the first credentials; the server has renewed them
        credentials = compute.roles.credentials
        credentials.now = lambda: time.time() + 3600
        try:
            moto_sts_expire(first)
            assert await credentials.renew_due() == [wid]
        finally:
            credentials.now = time.time
        expired = await asyncio.to_thread(signed, proxy.url, first, lookup.secret, lookup.token)
        assert expired.status_code == 403 and b"ExpiredToken" in expired.content
        before = len(proxy.accepted)
        text, reply = await kernel.run("spark.range(100).count()")
        assert reply["status"] == "ok" and "100" in text, text  # the user noticed nothing
        later = {key for key, _ in proxy.accepted[before:]}
        assert later and first not in later
        assert len(proxy.session_requests) == 1  # the same Spark session went on
    finally:
        if kernel is not None:
            kernel.close()


def workspace_sessions(livy: EngineProcess, wid: str) -> list[dict[str, Any]]:
    """The live sessions of the Workspace's kernels, as the engine's admin sees them."""
    return [
        s
        for s in livy_sessions(livy)
        if str(s.get("name") or "").startswith(workspace_prefix(wid))
        and s.get("state") in LIVE_STATES
    ]


async def live_session(livy: EngineProcess, wid: str, state: str | None = None) -> dict[str, Any]:
    """The Workspace's one live session (in ``state``, if given), once the engine lists it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while True:
        found = await asyncio.to_thread(workspace_sessions, livy, wid)
        if len(found) == 1 and state in (None, found[0]["state"]):
            return found[0]
        assert loop.time() < deadline, f"no live session of {wid}: {found}"
        await asyncio.sleep(0.3)


async def sessions_go_with_the_workspace(
    api: Api, server: Any, livy: EngineProcess, wid: str, attach: dict[str, Any], token: str
) -> list[dict[str, Any]]:
    """Detach with the notebook's kernel running, then reattach, and delete the Workspace
    once its kernel was killed (deleting refuses running kernels; a killed kernel leaves
    its session for the next one) and the Workspace closed (closing drops the kernels'
    credentials): both leave the engine no session of the Workspace. Returns the two
    sessions, for what the caller checks of them."""
    kernel = await start_kernel(api, server, wid)
    try:
        text, reply = await kernel.run("spark.range(7).count()")
        assert reply["status"] == "ok" and "7" in text, text
        first = await live_session(livy, wid, "idle")
        r = await api("POST", f"workspaces/{wid}/detach")
        assert r.code == 200 and r.json["running_kernels"] == 1, r
        assert await asyncio.to_thread(workspace_sessions, livy, wid) == []

        r = await api("POST", f"workspaces/{wid}/attach", {**attach, "restart_kernels": True})
        assert r.code == 200 and r.json["restarted_kernels"] == 1, r
        # the restarted kernel starts its session at once; killed while it starts
        second = await live_session(livy, wid)
        assert second["id"] != first["id"]
    finally:
        kernel.close()
    await server.kernel_manager.shutdown_kernel(kernel.id, now=True)  # killed, not shut down
    assert [s["id"] for s in await asyncio.to_thread(workspace_sessions, livy, wid)] == [
        second["id"]
    ]
    assert (await api("POST", f"workspaces/{wid}/close", {"token": token})).code == 204
    r = await api("DELETE", f"workspaces/{wid}")
    assert r.code == 200, r
    assert await asyncio.to_thread(workspace_sessions, livy, wid) == []
    return [first, second]


@pytest.mark.spark
async def test_detaching_or_deleting_a_serverless_workspace_deletes_its_sessions_signed(
    api: Api,
    services: Any,
    jp_serverapp: Any,
    moto: MotoHttp,
    proxy: SigV4Proxy,
    engine: EngineProcess,
) -> None:
    app_id = create_application(moto, "interactive", [SUBNET])
    services.studio.livy_urls = {app_id: proxy.url}
    wid = str((await api("POST", "workspaces", {"name": "serverless cleanup"})).json["id"])
    token = (await api("POST", f"workspaces/{wid}/open")).json["lease"]["token"]
    attach = {
        "type": "emr-serverless",
        "cluster_id": app_id,
        "execution_role_arn": ROLE,
        "session": SESSION,
    }
    assert (await api("POST", f"workspaces/{wid}/attach", attach)).code == 200
    proxy.refused.clear()  # the attach-time probe's (unsigned, by design)
    await sessions_go_with_the_workspace(api, jp_serverapp, engine, wid, attach, token)
    # the server's deletes were signed as the kernels' requests are: the proxy refused
    # only the reattach's reachability probe (unsigned by design)
    assert proxy.refused == [("MissingAuthenticationToken", "GET /sessions?size=1")]


@pytest.mark.spark
async def test_detaching_or_deleting_a_runtime_role_workspace_deletes_its_sessions(
    api: Api,
    services: Any,
    jp_serverapp: Any,
    moto: MotoHttp,
    engine: EngineProcess,
) -> None:
    """EMR on EC2 with a runtime role: the kernels' Livy user is the role's, from
    GetClusterSessionCredentials (recorded responses played by botocore's Stubber; moto
    lacks the call). The engine shows a session only to its owner, so the server deletes
    them only by authenticating as the kernels do."""
    role_user = "analytics-exec-livy"
    password = engine.owner_password(role_user) or ""
    cluster = mapped_cluster(moto, services, "runtime role cleanup", SUBNET, engine.url)
    wid = str((await api("POST", "workspaces", {"name": "runtime role cleanup"})).json["id"])
    token = (await api("POST", f"workspaces/{wid}/open")).json["lease"]["token"]
    stub = stubbed_emr(services)
    params = {"ClusterId": cluster, "ExecutionRoleArn": ROLE}
    attach = {"type": "emr-ec2", "cluster_id": cluster, "execution_role_arn": ROLE}
    attach["session"] = SESSION
    with stub:
        # the attach and the reattach fetch them, and the delete after closing again
        for _ in range(3):
            answer = recorded_credentials(role_user, password, 3600)
            stub.add_response("get_cluster_session_credentials", answer, params)
        assert (await api("POST", f"workspaces/{wid}/attach", attach)).code == 200
        sessions = await sessions_go_with_the_workspace(
            api, jp_serverapp, engine, wid, attach, token
        )
        stub.assert_no_pending_responses()
    assert [s["owner"] for s in sessions] == [role_user, role_user]


async def test_a_closed_workspace_is_deleted_even_when_its_credentials_cannot_be_fetched(
    api: Api, services: Any, moto: MotoHttp, livy: FakeLivy
) -> None:
    """Closing drops the kernels' credentials, so deleting a closed Workspace with a
    runtime role asks GetClusterSessionCredentials again for the cleanup (recorded
    responses played by botocore's Stubber; moto lacks the call). When AWS refuses, the
    Workspace is deleted all the same: its sessions are left to the heartbeat timeout."""
    cluster = mapped_cluster(moto, services, "refused cleanup", SUBNET, livy.url)
    wid = str((await api("POST", "workspaces", {"name": "refused cleanup"})).json["id"])
    token = (await api("POST", f"workspaces/{wid}/open")).json["lease"]["token"]
    stub = stubbed_emr(services)
    params = {"ClusterId": cluster, "ExecutionRoleArn": ROLE}
    attach = {"type": "emr-ec2", "cluster_id": cluster, "execution_role_arn": ROLE}
    with stub:
        answer = recorded_credentials("analytics-exec-livy", "p1", 3600)
        stub.add_response("get_cluster_session_credentials", answer, params)
        assert (await api("POST", f"workspaces/{wid}/attach", attach)).code == 200
        assert (await api("POST", f"workspaces/{wid}/close", {"token": token})).code == 204
        stub.add_client_error("get_cluster_session_credentials", "AccessDeniedException")
        r = await api("DELETE", f"workspaces/{wid}")
        assert r.code == 200, r
        stub.assert_no_pending_responses()  # the delete asked for them again
    assert (await api("GET", f"workspaces/{wid}")).code == 404
    assert not services.compute.conf_dir(wid).exists()  # no credentials left behind


async def test_a_closed_runtime_role_workspace_moved_to_another_cluster_cleans_up_as_the_role(
    api: Api, services: Any, moto: MotoHttp, livy: FakeLivy
) -> None:
    """Attaching a closed Workspace elsewhere deletes its sessions on the cluster it
    leaves, authenticated as its kernels were: the role's Livy user, asked for again since
    closing dropped it (recorded GetClusterSessionCredentials responses played by
    botocore's Stubber; moto lacks the call)."""
    emr = client(moto.url, "emr")
    old, new = (run_cluster(emr, name, SUBNET) for name in ("role old", "role new"))
    elsewhere = FakeLivy()
    services.studio.livy_urls = {old: livy.url, new: elsewhere.url}
    wid = str((await api("POST", "workspaces", {"name": "moves on"})).json["id"])
    token = (await api("POST", f"workspaces/{wid}/open")).json["lease"]["token"]
    stub = stubbed_emr(services)
    params = {"ClusterId": old, "ExecutionRoleArn": ROLE}
    try:
        with stub:
            answer = recorded_credentials("analytics-exec-livy", "p1", 3600)
            stub.add_response("get_cluster_session_credentials", answer, params)
            attach = {"type": "emr-ec2", "cluster_id": old, "execution_role_arn": ROLE}
            assert (await api("POST", f"workspaces/{wid}/attach", attach)).code == 200
            assert (await api("POST", f"workspaces/{wid}/close", {"token": token})).code == 204
            answer = recorded_credentials("analytics-exec-livy", "p2", 3600)
            stub.add_response("get_cluster_session_credentials", answer, params)
            livy.requests.clear()
            livy.authorizations.clear()
            attach = {"type": "emr-ec2", "cluster_id": new}
            assert (await api("POST", f"workspaces/{wid}/attach", attach)).code == 200
            stub.assert_no_pending_responses()  # asked again for the cleanup
    finally:
        elsewhere.close()
    listing = [i for i, path in enumerate(livy.requests) if path.startswith("/sessions?from=0")]
    assert listing, livy.requests  # the old cluster's sessions were looked for
    pair = base64.b64encode(b"analytics-exec-livy:p2").decode()
    assert livy.authorizations[listing[0]] == f"Basic {pair}"
    assert not (services.compute.conf_dir(wid) / "livy-credentials.json").exists()
