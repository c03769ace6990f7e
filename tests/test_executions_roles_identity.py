"""With which AWS identity a runner gets an execution role's Livy credentials: a hub-style
runner (one that runs everyone's executions) acts for the submitter, as their interactive
kernels do. In IDENTITY_CENTER mode that is the Studio's user role, assumed with the
submitter's session policy and name; the submitter's policies here come only from a hub
group that arrived with their request, so the runner must use the groups recorded at
submission.

moto (over HTTP, recording each request) plays STS and EMR; it has no
GetClusterSessionCredentials, so the call is answered with an error and the execution
fails, naming the role: what matters here is who made the call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Api
from emrws_testing.compute import FakeLivy, run_cluster
from emrws_testing.moto_servers import client
from emrws_testing.recording import RecordingMoto
from test_executions_api import notebook

from jupyter_emr_workspace.executions.part import make_runner

USER_ROLE = "arn:aws:iam::123456789012:role/emr-studio-user"
ROLE = "arn:aws:iam::123456789012:role/analytics-exec"
ANALYSTS = "analysts"
ANALYST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.fixture
def aws() -> Iterator[RecordingMoto]:
    server = RecordingMoto().start()
    yield server
    server.stop()


@pytest.fixture
def studio_config(tmp_path: Path, aws: RecordingMoto, subnets: list[str]) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-exec-idc",
        "auth_mode": "IDENTITY_CENTER",
        "user_role_arn": USER_ROLE,
        "endpoint_url": aws.url,
        "region": "us-east-1",
        "subnet_ids": subnets,
        "compute_sources": ["emr-ec2"],
        "livy_probe_timeout": 2.0,
        "executions_runner": False,  # the hub's runner runs it
        "policies": {"analyst": ANALYST},
        "assignments": {f"group:{ANALYSTS}": "analyst"},  # alice only through her hub group
        "execution_roles": {f"group:{ANALYSTS}": [ROLE]},
        "session_mapping_ttl": 0,
    }


async def test_a_hub_runner_gets_the_role_credentials_as_the_submitter(
    api: Api, services: Any, aws: RecordingMoto, subnets: list[str], livy: FakeLivy
) -> None:
    cluster = run_cluster(client(aws.url, "emr"), "idc", subnets[0])
    services.studio.livy_urls = {cluster: livy.url}
    r = await api("POST", "workspaces", {"name": "idc"}, groups=ANALYSTS)
    assert r.code == 201, r
    wid = r.json["id"]
    assert (await api("POST", f"workspaces/{wid}/open", groups=ANALYSTS)).code == 200
    body = {"type": "notebook", "format": "json", "content": notebook("spark.range(1).count()")}
    r = await api("PUT", f"api/contents/workspaces/{wid}/nb.ipynb", body, base="", groups=ANALYSTS)
    assert r.code == 201, r
    submit = {
        "workspace_id": wid,
        "relative_path": "nb.ipynb",
        "cluster": {"type": "emr-ec2", "id": cluster, "execution_role_arn": ROLE},
    }
    r = await api("POST", "executions", submit, groups=ANALYSTS)
    assert r.code == 201, r
    eid = r.json["id"]
    assert "created_by_groups" not in r.json  # kept for the runner, not shown
    before = len(aws.requests)

    runner = make_runner(services, services.executions, "runner:hub", shared=True)
    assert await runner.poll_once() == [eid]
    for task in list(runner.tasks.values()):
        await task
    ex = (await api("GET", f"executions/{eid}", groups=ANALYSTS)).json
    assert (
        ex["status"] == "FAILED"
        and f"No Livy credentials for execution role {ROLE}" in (ex["reason"])
    ), ex

    # the call went out signed by the user role, assumed for alice with her group's policy
    target = "ElasticMapReduce.GetClusterSessionCredentials"
    calls = [c for c in aws.requests[before:] if c.headers.get("X-Amz-Target") == target]
    assert calls  # botocore retries moto's error: each attempt is signed the same way
    for call in calls:
        assert json.loads(call.body) == {"ClusterId": cluster, "ExecutionRoleArn": ROLE}
    (signer,) = {c.headers["Authorization"].split("Credential=")[1].split("/")[0] for c in calls}
    assumed = [c for c in aws.calls("AssumeRole") if c["RoleSessionName"] == "alice"]
    assert assumed and all(c["RoleArn"] == USER_ROLE for c in assumed)
    assert all(json.loads(c["Policy"])["Statement"] == ANALYST["Statement"] for c in assumed)
    assert signer.startswith("ASIA") and signer != "testing"  # temporary, assumed credentials
