"""IAM Identity Center mode with a user role: the server calls STS ``AssumeRole`` with a
``Policy`` equal to the caller's mapped session policies (configured assignments for the
user and their groups, then the runtime mapping), as EMR Studio does. moto's STS and EMR
run over HTTP; the recording server captures the AssumeRole request as sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Api
from emrws_testing.recording import RecordingMoto

USER_ROLE = "arn:aws:iam::123456789012:role/EMRStudioUser"
LIST = {"Effect": "Allow", "Action": ["elasticmapreduce:List*"], "Resource": "*"}
DESCRIBE = {"Effect": "Allow", "Action": "elasticmapreduce:Describe*", "Resource": "*"}
ADMIN = {"Effect": "Allow", "Action": "*", "Resource": "*"}
POLICIES = {
    "list": {"Version": "2012-10-17", "Statement": [LIST]},
    "describe": {"Version": "2012-10-17", "Statement": DESCRIBE},  # a single statement
    "admin": {"Version": "2012-10-17", "Statement": [ADMIN]},
}


@pytest.fixture
def aws() -> Iterator[RecordingMoto]:
    server = RecordingMoto().start()
    yield server
    server.stop()


@pytest.fixture
def studio_config(tmp_path: Path, aws: RecordingMoto) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-idc",
        "auth_mode": "IDENTITY_CENTER",
        "policies": POLICIES,
        "assignments": {"user:alice": ["list"], "group:data": "describe", "user:root": "admin"},
        "groups": {"alice": ["data"]},
        "user_role_arn": USER_ROLE,
        "endpoint_url": aws.url,
        "region": "us-east-1",
        "compute_sources": ["emr-ec2"],
        "session_mapping_ttl": 0,
    }


def policies_sent(aws: RecordingMoto) -> list[dict[str, Any]]:
    calls = aws.calls("AssumeRole")
    assert all(c["RoleArn"] == USER_ROLE for c in calls), calls
    return [json.loads(c["Policy"]) for c in calls]


async def test_assume_role_policy_is_the_callers_mapped_session_policies(
    api: Api, aws: RecordingMoto
) -> None:
    r = await api("GET", "clusters")
    assert r.code == 200 and r.json["errors"] == [], r
    (sent,) = policies_sent(aws)
    # alice's own assignment, then her group's, in one document
    assert sent == {"Version": "2012-10-17", "Statement": [LIST, DESCRIBE]}
    (call,) = aws.calls("AssumeRole")
    assert call["RoleSessionName"] == "alice"

    # a mapping changed at runtime is what the next AssumeRole carries
    r = await api(
        "PUT", "studio/session-mappings", {"principal": "group:data", "policies": []}, user="root"
    )
    assert r.code == 200, r
    assert (await api("GET", "clusters")).code == 200
    assert policies_sent(aws)[-1] == {"Version": "2012-10-17", "Statement": [LIST]}
