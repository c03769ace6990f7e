"""EMR Serverless applications and execution roles through the real jupyter-server.

moto's emr-serverless over HTTP plays the application lifecycle (create, stop, start). moto
does not model ``interactiveConfiguration`` (GetApplication never returns it), so where an
application must have its Livy endpoint on, the test sets that one field on moto's own
application object and moto's serializer returns it; listing rules over every field are
checked against recorded GetApplication/ListApplications responses with botocore's Stubber.
moto has no GetClusterSessionCredentials: recorded responses with Stubber as well.
A stand-in Livy answers the attach-time reachability probe; Spark runs in
test_compute_serverless_e2e.py.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import Api
from emrws_testing.compute import FakeLivy, run_cluster, subnet_id
from emrws_testing.moto_servers import MotoHttp, client

from jupyter_emr_workspace.assignments import Arns
from jupyter_emr_workspace.compute.kernel_credentials import KernelCredentials
from jupyter_emr_workspace.compute.sources.emr_serverless import EmrServerlessSource
from jupyter_emr_workspace.studio import Identity, Studio

pytestmark = pytest.mark.usefixtures("kernel_registry")

ROLE = "arn:aws:iam::123456789012:role/analytics-exec"
OTHER_ROLE = "arn:aws:iam::123456789012:role/finance-exec"
EMR_ALL = ["elasticmapreduce:*", "emr-containers:*", "emr-serverless:*"]


@pytest.fixture
def compute_config() -> dict[str, Any]:
    return {}


@pytest.fixture
def studio_config(
    tmp_path: Path, moto: MotoHttp, subnets: list[str], compute_config: dict[str, Any]
) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-serverless",
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": subnets,
        "livy_probe_timeout": 1.0,
        "execution_roles": {"*": [ROLE], "user:carol": [OTHER_ROLE]},
        **compute_config,
    }


def serverless(moto: MotoHttp) -> Any:
    return client(moto.url, "emr-serverless")


def create_application(
    moto: MotoHttp,
    name: str,
    subnets: list[str] | None,
    *,
    livy: bool = True,
    release: str = "emr-7.1.0",
    stopped: bool = False,
) -> str:
    """An application in moto; ``livy`` sets the one field moto does not model."""
    from moto.emrserverless.models import emrserverless_backends

    kwargs: dict[str, Any] = {}
    if subnets is not None:
        kwargs["networkConfiguration"] = {"subnetIds": subnets, "securityGroupIds": ["sg-1"]}
    app_id = str(
        serverless(moto).create_application(
            name=name,
            releaseLabel=release,
            type="SPARK",
            autoStopConfiguration={"enabled": True, "idleTimeoutMinutes": 15},
            **kwargs,
        )["applicationId"]
    )
    for account in list(emrserverless_backends.keys()):
        backend = emrserverless_backends[account]["us-east-1"]
        if app_id in backend.applications and livy:
            backend.applications[app_id].interactive_configuration = {
                "livyEndpointEnabled": True,
                "studioEnabled": True,
            }
    if stopped:
        serverless(moto).stop_application(applicationId=app_id)
    return app_id


async def new_workspace(api: Api, name: str, user: str = "alice") -> str:
    r = await api("POST", "workspaces", {"name": name}, user=user)
    assert r.code == 201, r
    assert (await api("POST", f"workspaces/{r.json['id']}/open", user=user)).code == 200
    return str(r.json["id"])


def events(services: Any, action: str) -> list[dict[str, Any]]:
    return [e for e in services.audit.recent(1000) if e["action"] == action]


def conf_dir(services: Any, wid: str) -> Path:
    return Path(services.compute.conf_dir(wid))


# -- listing (recorded responses) ----------------------------------------------------------

STUDIO_SUBNET = "subnet-0123456789abcdef0"
LISTED = [
    {"id": "00a1", "name": "ok", "type": "Spark", "state": "STOPPED", "releaseLabel": "emr-7.1.0"},
    {
        "id": "00a2",
        "name": "old",
        "type": "Spark",
        "state": "CREATED",
        "releaseLabel": "emr-6.13.0",
    },
    {
        "id": "00a3",
        "name": "batch",
        "type": "Spark",
        "state": "STARTED",
        "releaseLabel": "emr-7.0.0",
    },
    {
        "id": "00a4",
        "name": "nonet",
        "type": "Spark",
        "state": "STARTED",
        "releaseLabel": "emr-7.1.0",
    },
    {
        "id": "00a5",
        "name": "elsewhere",
        "type": "Spark",
        "state": "STARTED",
        "releaseLabel": "emr-7.1.0",
    },
    {"id": "00a6", "name": "hive", "type": "Hive", "state": "STARTED", "releaseLabel": "emr-7.1.0"},
]


def recorded_application(summary: dict[str, Any]) -> dict[str, Any]:
    """GetApplication as AWS answers it (fields as in the EMR Serverless API reference)."""
    app: dict[str, Any] = {
        "applicationId": summary["id"],
        "name": summary["name"],
        "arn": f"arn:aws:emr-serverless:us-east-1:123456789012:/applications/{summary['id']}",
        "releaseLabel": summary["releaseLabel"],
        "type": summary["type"],
        "state": summary["state"],
        "createdAt": datetime.datetime(2026, 11, 1),
        "updatedAt": datetime.datetime(2026, 11, 1),
        "autoStartConfiguration": {"enabled": True},
        "autoStopConfiguration": {"enabled": True, "idleTimeoutMinutes": 15},
        "networkConfiguration": {"subnetIds": [STUDIO_SUBNET], "securityGroupIds": ["sg-1"]},
        "interactiveConfiguration": {"studioEnabled": True, "livyEndpointEnabled": True},
    }
    if summary["name"] == "batch":
        app["interactiveConfiguration"] = {"studioEnabled": True, "livyEndpointEnabled": False}
    if summary["name"] == "nonet":
        del app["networkConfiguration"]
    if summary["name"] == "elsewhere":
        app["networkConfiguration"] = {"subnetIds": ["subnet-99999999999999999"]}
    return app


async def test_lists_interactive_spark_applications_in_the_studio_subnets_across_pages() -> None:
    studio = Studio(subnet_ids=[STUDIO_SUBNET], livy_urls={})
    emr = boto3.client("emr-serverless", region_name="us-east-1")
    stub = Stubber(emr)
    summaries = [
        {
            **s,
            "arn": f"arn:aws:emr-serverless:us-east-1:123456789012:/applications/{s['id']}",
            "createdAt": datetime.datetime(2026, 11, 1),
            "updatedAt": datetime.datetime(2026, 11, 1),
        }
        for s in LISTED
    ]
    stub.add_response("list_applications", {"applications": summaries[:3], "nextToken": "p2"})
    stub.add_response("list_applications", {"applications": summaries[3:]})
    for summary in LISTED[:5]:  # no GetApplication for the Hive application
        stub.add_response(
            "get_application",
            {"application": recorded_application(summary)},
            {"applicationId": summary["id"]},
        )

    async def clients(identity: Any, service: str) -> Any:
        assert service == "emr-serverless"
        return emr

    source = EmrServerlessSource(studio, Arns("us-east-1", "123456789012", "s"), clients)
    with stub, _serial_gets():  # Stubber answers in order: one GetApplication at a time
        listed = {c.name: c.to_json() for c in await source.list_clusters(Identity("alice"))}
        stub.assert_no_pending_responses()
    assert sorted(listed) == ["batch", "nonet", "ok", "old"]  # other subnets and Hive: not ours
    ok = listed["ok"]
    assert ok["attachable"] and ok["reason"] is None and ok["state"] == "STOPPED"
    assert ok["auto_start"] is True and ok["auto_stop_minutes"] == 15
    assert ok["release_label"] == "emr-7.1.0" and ok["subnet_id"] == STUDIO_SUBNET
    assert ok["livy_url"] == "https://00a1.livy.emr-serverless-services.us-east-1.amazonaws.com"
    assert "emr-6.14.0" in listed["old"]["reason"] and not listed["old"]["attachable"]
    assert "livyEndpointEnabled" in listed["batch"]["reason"]
    assert "no network configuration" in listed["nonet"]["reason"]


class _serial_gets:
    def __enter__(self) -> None:
        from jupyter_emr_workspace.compute.sources import emr_serverless

        self.saved = emr_serverless.GET_CONCURRENCY
        emr_serverless.GET_CONCURRENCY = 1

    def __exit__(self, *exc: Any) -> None:
        from jupyter_emr_workspace.compute.sources import emr_serverless

        emr_serverless.GET_CONCURRENCY = self.saved


async def test_applications_are_listed_beside_clusters_from_moto(
    api: Api, moto: MotoHttp, subnets: list[str]
) -> None:
    app_id = create_application(moto, "interactive", [subnets[0]], stopped=True)
    elsewhere = create_application(moto, "theirs", [subnet_id()])
    r = await api("GET", "clusters")
    assert r.code == 200 and r.json["errors"] == [], r
    mine = [c for c in r.json["clusters"] if c["type"] == "emr-serverless"]
    assert [c["id"] for c in mine] == [app_id]  # moto holds other tests' applications too
    assert mine[0]["state"] == "STOPPED" and mine[0]["attachable"] is True
    assert elsewhere not in [c["id"] for c in r.json["clusters"]]
    # the panel's heading and words come from the source's registry entry
    (source,) = [s for s in r.json["sources"] if s["type"] == "emr-serverless"]
    assert source["label"] == "EMR Serverless"
    assert source["states"]["STOPPED"] == source["states"]["CREATED"]
    assert source["states"]["STOPPED"] == "stopped: starts when attached"
    assert source["states"]["STARTED"] == "ready"


# -- attach ---------------------------------------------------------------------------------


async def test_attach_starts_a_stopped_application_and_runs_spark_as_the_chosen_role(
    api: Api, moto: MotoHttp, subnets: list[str], services: Any, livy: FakeLivy
) -> None:
    app_id = create_application(moto, "stopped", [subnets[0]], stopped=True)
    services.studio.livy_urls = {app_id: livy.url}
    wid = await new_workspace(api, "serverless")
    body = {"type": "emr-serverless", "cluster_id": app_id, "execution_role_arn": ROLE}
    r = await api("POST", f"workspaces/{wid}/attach", body)
    assert r.code == 200, r
    assert r.json["started"] is True and r.json["application_state"] == "STARTED"
    assert serverless(moto).get_application(applicationId=app_id)["application"]["state"] == (
        "STARTED"
    )
    attachment = r.json["attachment"]
    assert attachment["execution_role_arn"] == ROLE and attachment["type"] == "emr-serverless"
    # the kernels: SigV4 authenticator, the role in every session, credentials 0600 beside
    config = json.loads((conf_dir(services, wid) / "config.json").read_text())
    creds = config["kernel_python_credentials"]
    assert creds["auth"] == "EMRWorkspace_SigV4" and creds["password"] == ""
    assert config["authenticators"]["EMRWorkspace_SigV4"].endswith("aws_auth.SigV4")
    assert config["session_configs"]["conf"]["emr-serverless.session.executionRoleArn"] == ROLE
    secret_file = conf_dir(services, wid) / "aws-credentials.json"
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    secret = json.loads(secret_file.read_text())
    assert secret["AccessKeyId"] and secret["region"] == "us-east-1"
    # ... never in the Workspace's folder, its metadata or what the browser gets
    folder = services.folders.local_path(wid)
    inside = await asyncio.to_thread(lambda: [p.name for p in Path(folder).rglob("*")])
    assert not any("credentials" in name for name in inside)
    assert secret["SecretAccessKey"] not in json.dumps(r.json)
    # audited: the start, the role passed and the attach, each naming role and application
    (start,) = events(services, "emr-serverless:StartApplication")
    assert start["outcome"] == "success" and app_id in start["resource"]
    (passed,) = events(services, "iam:PassRole")
    assert passed["resource"] == ROLE and app_id in passed["details"]["cluster_arn"]
    attach = events(services, "elasticmapreduce:AttachEditor")[-1]
    assert attach["details"]["execution_role_arn"] == ROLE
    assert attach["details"]["cluster_id"] == app_id

    # restored on reopen, as the attachment says
    lease = (await api("POST", f"workspaces/{wid}/open")).json["lease"]
    assert (await api("POST", f"workspaces/{wid}/close", {"token": lease["token"]})).code == 204
    assert not secret_file.exists()  # closed: nobody renews credentials for it
    r = await api("POST", f"workspaces/{wid}/open")
    assert r.code == 200 and "attachment_error" not in r.json, r
    assert r.json["workspace"]["attachment"]["execution_role_arn"] == ROLE
    assert json.loads(secret_file.read_text())["execution_role_arn"] == ROLE


async def test_attach_without_an_execution_role_says_which_roles_may_be_used(
    api: Api, moto: MotoHttp, subnets: list[str], services: Any, livy: FakeLivy
) -> None:
    app_id = create_application(moto, "needs-role", [subnets[0]])
    services.studio.livy_urls = {app_id: livy.url}
    wid = await new_workspace(api, "no role")
    r = await api(
        "POST", f"workspaces/{wid}/attach", {"type": "emr-serverless", "cluster_id": app_id}
    )
    assert (
        r.code == 400 and r.error["code"] == "ExecutionRoleRequired" and ROLE in r.error["message"]
    )
    sneaky = {"conf": {"emr-serverless.session.executionRoleArn": OTHER_ROLE}}
    r = await api(
        "POST",
        f"workspaces/{wid}/attach",
        {
            "type": "emr-serverless",
            "cluster_id": app_id,
            "execution_role_arn": ROLE,
            "session": sneaky,
        },
    )
    assert r.code == 400 and "execution_role_arn" in r.error["message"]
    r = await api(
        "POST",
        f"workspaces/{wid}/attach",
        {"type": "local", "cluster_id": "local", "execution_role_arn": ROLE},
    )
    assert r.code == 400 and "takes no execution role" in r.error["message"]
    r = await api("GET", "execution-roles", params={"type": "local"})
    assert r.code == 400 and "emr-serverless" in r.error["message"]
    assert (await api("GET", f"workspaces/{wid}")).json["attachment"] is None


@pytest.mark.parametrize(
    "compute_config",
    [
        {
            "policies": {
                "analyst": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": EMR_ALL, "Resource": "*"},
                        {
                            "Effect": "Allow",
                            "Action": "iam:PassRole",
                            "Resource": ROLE,
                            "Condition": {
                                "StringEquals": {
                                    "iam:PassedToService": "emr-serverless.amazonaws.com"
                                }
                            },
                        },
                    ],
                },
                "no-pass-role": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": EMR_ALL, "Resource": "*"}],
                },
            },
            "assignments": {
                "user:alice": "analyst",
                "user:carol": "analyst",
                "user:dave": "no-pass-role",
            },
        }
    ],
)
async def test_a_user_without_pass_role_on_a_role_is_refused_naming_it(
    api: Api, moto: MotoHttp, subnets: list[str], services: Any, livy: FakeLivy
) -> None:
    app_id = create_application(moto, "guarded", [subnets[0]])
    services.studio.livy_urls = {app_id: livy.url}
    # carol is offered both roles, but her policy lets her pass only one
    r = await api("GET", "execution-roles", user="carol")
    assert r.code == 200 and r.json["roles"] == [{"arn": ROLE, "name": "analytics-exec"}]
    wid = await new_workspace(api, "refused", user="carol")
    body = {"type": "emr-serverless", "cluster_id": app_id, "execution_role_arn": OTHER_ROLE}
    r = await api("POST", f"workspaces/{wid}/attach", body, user="carol")
    assert r.code == 403 and r.error["code"] == "ExecutionRoleRefused", r
    assert OTHER_ROLE in r.error["message"] and "iam:PassRole" in r.error["message"]
    (denied,) = events(services, "iam:PassRole")
    assert denied["outcome"] == "denied" and denied["resource"] == OTHER_ROLE
    # alice is not offered OTHER_ROLE at all
    wid2 = await new_workspace(api, "not offered")
    r = await api("POST", f"workspaces/{wid2}/attach", body)
    assert r.code == 403 and OTHER_ROLE in r.error["message"]
    assert "c.Studio.execution_roles" in r.error["message"]
    # with the role she may pass, carol attaches; alice reopening it may not use carol's role
    body["execution_role_arn"] = ROLE
    assert (await api("POST", f"workspaces/{wid}/attach", body, user="carol")).code == 200
    secret_file = conf_dir(services, wid) / "aws-credentials.json"
    assert secret_file.exists()
    lease = (await api("POST", f"workspaces/{wid}/open", user="carol")).json["lease"]
    closed = await api("POST", f"workspaces/{wid}/close", {"token": lease["token"]}, user="carol")
    assert closed.code == 204
    # dave may open carol's Workspace but may not pass its role: his kernels get no credentials
    r = await api("POST", f"workspaces/{wid}/open", user="dave")
    assert r.code == 200 and ROLE in r.json["attachment_error"], r
    assert "iam:PassRole" in r.json["attachment_error"]
    assert not secret_file.exists()
    assert (await api("GET", "execution-roles", user="alice")).json["roles"] == [
        {"arn": ROLE, "name": "analytics-exec"}
    ]


@pytest.mark.parametrize(
    "compute_config",
    [
        {
            "auth_mode": "IDENTITY_CENTER",
            "user_role_arn": "arn:aws:iam::123456789012:role/emr-studio-user",
            "policies": {
                "ds": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": [*EMR_ALL, "iam:PassRole"], "Resource": "*"}
                    ],
                }
            },
            "assignments": {"user:alice": "ds"},
        }
    ],
)
async def test_an_unassigned_identity_center_user_sees_no_applications(
    api: Api, moto: MotoHttp, subnets: list[str]
) -> None:
    app_id = create_application(moto, "ic", [subnets[0]])
    r = await api("GET", "clusters", user="mallory")
    assert r.code == 403 and r.error["code"] == "NotAssignedToStudio"
    assert app_id not in r.raw.decode()
    r = await api("GET", "execution-roles", user="mallory")
    assert r.code == 403 and ROLE not in r.raw.decode()
    r = await api("GET", "clusters")
    assert app_id in [c["id"] for c in r.json["clusters"]], r


ACCESS_LIVY = "emr-serverless:AccessLivyEndpoints"
GET_APPLICATION = "emr-serverless:GetApplication"


def lacking(action: str) -> dict[str, Any]:
    """A Studio whose alice may do everything an attach needs but ``action``."""
    serverless_actions = ["emr-serverless:ListApplications", ACCESS_LIVY, GET_APPLICATION]
    return {
        "policies": {
            "lacking": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["elasticmapreduce:*", "iam:PassRole"],
                        "Resource": "*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": [a for a in serverless_actions if a != action],
                        "Resource": "*",
                    },
                ],
            }
        },
        "assignments": {"user:alice": "lacking"},
    }


@pytest.mark.parametrize(
    ("compute_config", "missing"),
    [(lacking(ACCESS_LIVY), ACCESS_LIVY), (lacking(GET_APPLICATION), GET_APPLICATION)],
    ids=["AccessLivyEndpoints", "GetApplication"],
)
async def test_attaching_needs_to_read_the_application_and_reach_its_livy_endpoint(
    api: Api, moto: MotoHttp, subnets: list[str], services: Any, livy: FakeLivy, missing: str
) -> None:
    app_id = create_application(moto, "look-only", [subnets[0]], stopped=True)
    services.studio.livy_urls = {app_id: livy.url}
    wid = await new_workspace(api, "look only")
    body = {"type": "emr-serverless", "cluster_id": app_id, "execution_role_arn": ROLE}
    r = await api("POST", f"workspaces/{wid}/attach", body)
    assert r.code == 403 and missing in r.error["message"], r
    (denied,) = events(services, missing)
    assert denied["outcome"] == "denied" and app_id in denied["resource"]
    # nothing was started or stored
    state = serverless(moto).get_application(applicationId=app_id)["application"]["state"]
    assert state == "STOPPED"
    assert (await api("GET", f"workspaces/{wid}")).json["attachment"] is None


# -- EMR on EC2 runtime roles (GetClusterSessionCredentials: recorded, Stubber) -------------


def cluster_session_credentials(user: str, password: str, minutes: int) -> dict[str, Any]:
    """GetClusterSessionCredentials as AWS answers it."""
    return {
        "Credentials": {"UsernamePassword": {"Username": user, "Password": password}},
        "ExpiresAt": datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes),
    }


@pytest.mark.parametrize(
    "compute_config",
    [
        {
            "policies": {
                "runtime": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": [*EMR_ALL, "iam:PassRole"], "Resource": "*"},
                        {
                            "Effect": "Deny",
                            "Action": "elasticmapreduce:GetClusterSessionCredentials",
                            "Resource": "*",
                            "Condition": {
                                "StringNotEquals": {"elasticmapreduce:ExecutionRoleArn": ROLE}
                            },
                        },
                    ],
                }
            },
            "assignments": {"user:alice": "runtime"},
        }
    ],
)
async def test_ec2_attach_with_a_runtime_role_uses_its_renewed_livy_credentials(
    api: Api, moto: MotoHttp, subnets: list[str], services: Any, livy: FakeLivy
) -> None:
    compute = services.compute
    cluster = run_cluster(client(moto.url, "emr"), "runtime", subnets[0])
    services.studio.livy_urls = {cluster: livy.url}
    emr = boto3.client("emr", region_name="us-east-1")
    stub = Stubber(emr)
    params = {"ClusterId": cluster, "ExecutionRoleArn": ROLE}
    stub.add_response(
        "get_cluster_session_credentials", cluster_session_credentials("u1", "p1", 60), params
    )
    stub.add_response(
        "get_cluster_session_credentials", cluster_session_credentials("u1", "p2", 60), params
    )

    async def clients(identity: Any, service: str) -> Any:
        return emr if service == "emr" else await compute.client(identity, service)

    compute.roles.clients = clients
    wid = await new_workspace(api, "runtime role")
    with stub:
        body = {"type": "emr-ec2", "cluster_id": cluster, "execution_role_arn": ROLE}
        r = await api("POST", f"workspaces/{wid}/attach", body)
        assert r.code == 200, r
        assert r.json["attachment"]["auth"] == "EMRWorkspace_RuntimeRole"
        config = json.loads((conf_dir(services, wid) / "config.json").read_text())
        assert config["kernel_python_credentials"]["password"] == ""  # never in the config
        livy_file = conf_dir(services, wid) / "livy-credentials.json"
        assert json.loads(livy_file.read_text())["password"] == "p1"
        assert stat.S_IMODE(os.stat(livy_file).st_mode) == 0o600
        # 50 minutes on, the credentials are renewed before they expire
        credentials: KernelCredentials = compute.roles.credentials
        expires = credentials.expiration(wid)
        assert expires is not None
        credentials.now = lambda: expires - credentials.MARGIN - 1
        assert await credentials.renew_due() == []
        credentials.now = lambda: expires - credentials.MARGIN + 1
        assert await credentials.renew_due() == [wid]
        assert json.loads(livy_file.read_text())["password"] == "p2"
        stub.assert_no_pending_responses()
    credentials.now = time.time
    # a role the condition key refuses, named
    body = {"type": "emr-ec2", "cluster_id": cluster, "execution_role_arn": OTHER_ROLE}
    services.studio.execution_roles = {"*": [ROLE, OTHER_ROLE]}
    r = await api("POST", f"workspaces/{wid}/attach", body)
    assert r.code == 403 and OTHER_ROLE in r.error["message"], r
    assert "elasticmapreduce:GetClusterSessionCredentials" in r.error["message"]


# -- credential renewal rules (unit) --------------------------------------------------------


async def test_credentials_are_renewed_before_expiry_and_kept_when_renewal_fails(
    tmp_path: Path,
) -> None:
    clock = {"now": 1000.0}
    answers: list[Any] = [
        {"token": "a", "expiration": 1000.0 + 3600},
        RuntimeError("STS is away"),
        {"token": "b", "expiration": 1000.0 + 7200},
    ]

    async def fetch() -> dict[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    credentials = KernelCredentials(now=lambda: clock["now"])
    path = tmp_path / "c.json"
    try:
        await credentials.issue("w", path, fetch)
        assert json.loads(path.read_text())["token"] == "a"
        clock["now"] = 1000.0 + 3600 - KernelCredentials.MARGIN - 1
        assert await credentials.renew_due() == []  # not yet
        clock["now"] += 2
        assert await credentials.renew_due() == []  # STS failed: the old ones stay
        assert json.loads(path.read_text())["token"] == "a"
        clock["now"] += KernelCredentials.RETRY_SECONDS
        assert await credentials.renew_due() == ["w"]
        assert json.loads(path.read_text())["token"] == "b"
        await credentials.forget("w")
        assert not path.exists()
    finally:
        await credentials.stop()


async def test_credentials_of_another_kind_replace_the_old_file_not_sit_beside_it(
    tmp_path: Path,
) -> None:
    """A Workspace moved from a runtime role (a Livy user and password) to Serverless
    (SigV4 keys): the role's password must not stay on disk until the next detach."""

    async def fetch() -> dict[str, Any]:
        return {"token": "t", "expiration": time.time() + 3600}

    credentials = KernelCredentials()
    role_file, sigv4_file = tmp_path / "livy-credentials.json", tmp_path / "aws.json"
    try:
        await credentials.issue("w", role_file, fetch)
        await credentials.issue("w", sigv4_file, fetch)
        assert sigv4_file.exists() and not role_file.exists()
        await credentials.issue("w", sigv4_file, fetch)  # the same kind again: kept
        assert sigv4_file.exists()
    finally:
        await credentials.stop()


def test_the_server_holds_no_credentials_for_an_authentication_only_the_kernel_has(
    tmp_path: Path,
) -> None:
    """Kerberos (or any authenticator not the project's): the cleanup is told it has no
    credentials (a PermissionError it reports), never an unfinished-code error."""
    from jupyter_emr_workspace.kernels.livy_auth import LivyAuth

    for auth in ("Kerberos", "Custom"):
        with pytest.raises(PermissionError, match=auth):
            LivyAuth({"url": "http://livy", "auth": auth}, tmp_path).headers("GET", "http://livy/")


async def test_the_renewal_task_renews_on_its_own_when_the_time_comes(tmp_path: Path) -> None:
    clock = {"now": 1000.0}
    tokens = iter(["a", "b"])
    renewed = asyncio.Event()

    async def fetch() -> dict[str, Any]:
        token = next(tokens)
        if token == "b":
            renewed.set()
        return {"token": token, "expiration": clock["now"] + 3600}

    credentials = KernelCredentials(now=lambda: clock["now"])
    credentials.CHECK_SECONDS = 0.05  # look at the (fake) clock often
    path = tmp_path / "c.json"
    try:
        await credentials.issue("w", path, fetch)
        clock["now"] += 3600 - KernelCredentials.MARGIN  # the renewal time has come
        await asyncio.wait_for(renewed.wait(), 30)  # a hang guard, not a timing assertion
        await asyncio.sleep(0)  # let the task write what it fetched
        for _ in range(100):
            if json.loads(await asyncio.to_thread(path.read_text))["token"] == "b":
                break
            await asyncio.sleep(0.01)
        assert json.loads(await asyncio.to_thread(path.read_text))["token"] == "b"
    finally:
        await credentials.stop()


def test_the_kernel_authenticator_signs_with_the_newest_credentials_and_the_workspace_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests
    from emrws_testing.sigv4_proxy import Issued, verify

    from jupyter_emr_workspace.kernels.aws_auth import SigV4

    monkeypatch.setenv("SPARKMAGIC_CONF_DIR", str(tmp_path))
    secrets = {"AK1": Issued("s1", "t1", None), "AK2": Issued("s2", "t2", None)}

    def write(key: str) -> None:
        data = {
            "AccessKeyId": key,
            "SecretAccessKey": secrets[key].secret,
            "SessionToken": secrets[key].token,
            "region": "us-east-1",
            "service": "emr-serverless",
            "execution_role_arn": ROLE,
        }
        (tmp_path / "aws-credentials.json").write_text(json.dumps(data))

    def send(auth: SigV4, method: str, body: Any = None) -> tuple[str | None, str, bytes]:
        url = "https://00f1.livy.emr-serverless-services.us-east-1.amazonaws.com/sessions"
        prepared = requests.Request(method, url, json=body, auth=auth).prepare()
        raw = prepared.body or b""
        raw = raw.encode() if isinstance(raw, str) else raw
        headers = {**prepared.headers, "Host": url.split("/")[2]}
        key, why = verify(method, "/sessions", headers, raw, secrets.get, "us-east-1")
        return key, why, raw

    write("AK1")
    auth = SigV4()
    assert send(auth, "GET")[:2] == ("AK1", "")
    key, why, raw = send(auth, "POST", {"kind": "pyspark"})
    assert (key, why) == ("AK1", "") and json.loads(raw)["conf"] == {
        "emr-serverless.session.executionRoleArn": ROLE
    }
    with pytest.raises(PermissionError, match=OTHER_ROLE):
        send(auth, "POST", {"conf": {"emr-serverless.session.executionRoleArn": OTHER_ROLE}})
    write("AK2")  # the server renewed them: the same authenticator signs with the new ones
    os.utime(tmp_path / "aws-credentials.json", ns=(1, time.time_ns() + 10**9))
    assert send(auth, "GET")[:2] == ("AK2", "")
    secrets["AK2"] = Issued("wrong", "t2", None)
    assert "signature does not match" in send(auth, "GET")[1]


@pytest.mark.parametrize(
    ("roles", "named"),
    [
        ({"bob": [ROLE]}, "'bob' is not 'user:NAME'"),
        ({"user:bob": ["finance-exec"]}, "'finance-exec' is not an IAM role ARN"),
        ({"*": {"role": ROLE}}, "must be a list of IAM role ARNs"),
    ],
)
def test_a_bad_execution_roles_setting_stops_the_server_naming_it(
    roles: dict[str, Any], named: str
) -> None:
    from jupyter_emr_workspace.errors import ConfigError

    with pytest.raises(ConfigError, match=r"c\.Studio\.execution_roles") as info:
        Studio(execution_roles=roles).validate()
    assert named in str(info.value)
