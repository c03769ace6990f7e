"""Policies end to end through a real jupyter-server: IAM mode (read-only users, ABAC on
``creatorUserId``, group assignments, the audit log) and IAM Identity Center mode
(unassigned users refused on every endpoint, session mappings changed at runtime)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Api

from jupyter_emr_workspace.handlers import BaseHandler, route_table
from jupyter_emr_workspace.parts import extra_handlers

V = "2012-10-17"


def allow(actions: list[str] | str, **extra: Any) -> dict[str, Any]:
    return {
        "Version": V,
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*", **extra}],
    }


POLICIES = {
    "read-only": allow(["elasticmapreduce:ListEditors", "elasticmapreduce:DescribeEditor"]),
    # everything but deleting; deleting only one's own Workspaces (ABAC)
    "editor": {
        "Version": V,
        "Statement": [
            {
                "Effect": "Allow",
                "NotAction": [
                    "elasticmapreduce:DeleteEditor",
                    "elasticmapreduce:*StudioSessionMapping",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Deny",
                "Action": ["emr-workspace:ReadAuditLog", "emr-workspace:ForceReleaseLock"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": "elasticmapreduce:DeleteEditor",
                "Resource": "arn:aws:elasticmapreduce:*:*:editor/*",
                "Condition": {"StringEquals": {"aws:ResourceTag/creatorUserId": "${aws:username}"}},
            },
        ],
    },
    "auditor": allow(["emr-workspace:ReadAuditLog", "elasticmapreduce:ListEditors"]),
    "admin": allow(["elasticmapreduce:*", "emr-workspace:*"]),
}

IAM = {
    "auth_mode": "IAM",
    "policies": POLICIES,
    "assignments": {
        "user:reader": "read-only",
        "group:data": "editor",
        "user:auditor": "auditor",
    },
}
IDC = {
    "auth_mode": "IDENTITY_CENTER",
    "policies": POLICIES,
    "assignments": {"user:alice": ["admin"], "group:team": "editor"},
    "session_mapping_ttl": 0.2,
}


@pytest.fixture
def studio_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    return {"backup_uri": str(tmp_path / "store"), "id": "es-test", **request.param}


iam = pytest.mark.parametrize("studio_config", [IAM], indirect=True, ids=["IAM"])
idc = pytest.mark.parametrize("studio_config", [IDC], indirect=True, ids=["IDC"])


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- IAM mode ---------------------------------------------------------------------------
@iam
async def test_read_only_user_lists_but_cannot_create_and_the_denial_is_recorded(
    api: Api, tmp_path: Path
) -> None:
    assert (
        await api("POST", "workspaces", {"name": "seed"}, user="alice", groups="data")
    ).code == 201
    r = await api("GET", "workspaces", user="reader")
    assert r.code == 200 and [w["name"] for w in r.json["workspaces"]] == ["seed"]
    assert r.json["workspaces"][0]["permissions"]["elasticmapreduce:DescribeEditor"] is True
    assert r.json["workspaces"][0]["permissions"]["elasticmapreduce:DeleteEditor"] is False

    studio = (await api("GET", "studio", user="reader")).json
    assert studio["permissions"]["elasticmapreduce:ListEditors"] is True
    assert studio["permissions"]["elasticmapreduce:CreateEditor"] is False

    r = await api("POST", "workspaces", {"name": "nope"}, user="reader")
    assert r.code == 403, r
    assert r.error["code"] == "AccessDenied"
    assert "reader" in r.error["message"] and "elasticmapreduce:CreateEditor" in r.error["message"]
    names = [w["name"] for w in (await api("GET", "workspaces", user="reader")).json["workspaces"]]
    assert names == ["seed"]

    def is_denial(e: dict[str, Any]) -> bool:
        return (
            e["user"] == "reader"
            and e["action"] == "elasticmapreduce:CreateEditor"
            and e["outcome"] == "denied"
            and e["error_code"] == "AccessDenied"
            and e["studio_id"] == "es-test"
            and e["resource"].startswith("arn:aws:elasticmapreduce:")
        )

    events = await api("GET", "events", user="auditor")
    assert events.code == 200
    assert any(is_denial(e) for e in events.json["events"]), events.json
    assert any(is_denial(e) for e in audit_lines(tmp_path))
    # the success of alice's create is there too
    assert any(
        e["user"] == "alice"
        and e["action"] == "elasticmapreduce:CreateEditor"
        and e["outcome"] == "success"
        for e in audit_lines(tmp_path)
    )


@iam
async def test_abac_users_delete_only_their_own_workspaces(api: Api) -> None:
    a = (await api("POST", "workspaces", {"name": "alices"}, user="alice", groups="data")).json
    b = (await api("POST", "workspaces", {"name": "bobs"}, user="bob", groups="data")).json
    assert a["tags"]["creatorUserId"] == "alice" and b["tags"]["creatorUserId"] == "bob"

    mine = (await api("GET", f"workspaces/{a['id']}", user="alice", groups="data")).json
    theirs = (await api("GET", f"workspaces/{b['id']}", user="alice", groups="data")).json
    assert mine["permissions"]["elasticmapreduce:DeleteEditor"] is True
    assert theirs["permissions"]["elasticmapreduce:DeleteEditor"] is False
    assert theirs["permissions"]["elasticmapreduce:UpdateEditor"] is True
    listed = (await api("GET", "workspaces", user="alice", groups="data")).json["workspaces"]
    assert {w["name"]: w["permissions"]["elasticmapreduce:DeleteEditor"] for w in listed} == {
        "alices": True,
        "bobs": False,
    }

    r = await api("DELETE", f"workspaces/{b['id']}", user="alice", groups="data")
    assert r.code == 403 and "DeleteEditor" in r.error["message"]
    assert (await api("GET", f"workspaces/{b['id']}", user="bob", groups="data")).code == 200
    assert (await api("DELETE", f"workspaces/{a['id']}", user="alice", groups="data")).code == 200
    assert (await api("DELETE", f"workspaces/{b['id']}", user="bob", groups="data")).code == 200


@iam
async def test_group_assignments_come_from_the_callers_groups(api: Api) -> None:
    # alice without the group has no policy at all
    r = await api("POST", "workspaces", {"name": "x"}, user="alice")
    assert r.code == 403
    assert (await api("GET", "workspaces", user="alice")).code == 403
    assert (
        await api("POST", "workspaces", {"name": "x"}, user="alice", groups="other,data")
    ).code == 201
    studio = (await api("GET", "studio", user="alice", groups="data")).json
    assert studio["user"] == {"name": "alice", "groups": ["data"]}
    assert studio["permissions"]["elasticmapreduce:CreateEditor"] is True
    assert studio["permissions"]["emr-workspace:ReadAuditLog"] is False


@iam
async def test_events_need_read_audit_log_and_never_contain_the_lease_token(
    api: Api, tmp_path: Path
) -> None:
    wid = (await api("POST", "workspaces", {"name": "w"}, user="alice", groups="data")).json["id"]
    opened = await api("POST", f"workspaces/{wid}/open", user="alice", groups="data")
    token = opened.json["lease"]["token"]
    body = {"token": token}
    assert (
        await api("POST", f"workspaces/{wid}/heartbeat", body, user="alice", groups="data")
    ).code == 200
    # a stale/foreign token attempt is recorded as well
    assert (
        await api("POST", f"workspaces/{wid}/close", body, user="alice", groups="data")
    ).code == 204
    assert (
        await api("POST", f"workspaces/{wid}/heartbeat", body, user="alice", groups="data")
    ).code == 409

    r = await api("GET", "events", user="alice", groups="data")
    assert r.code == 403 and "ReadAuditLog" in r.error["message"]
    assert (await api("GET", "events", user="reader")).code == 403
    events = await api("GET", "events", user="auditor", params={"limit": "1000"})
    assert events.code == 200
    actions = {(e["action"], e["outcome"]) for e in events.json["events"]}
    assert ("elasticmapreduce:OpenEditorConsole", "success") in actions
    assert ("elasticmapreduce:StopEditor", "success") in actions
    assert ("emr-workspace:ReadAuditLog", "denied") in actions  # alice's attempt above
    assert token not in events.raw.decode()
    text = (tmp_path / "audit.jsonl").read_text()
    assert "OpenEditorConsole" in text and token not in text


# -- IAM Identity Center mode -------------------------------------------------------------
def _methods(handler: type) -> list[str]:
    return [
        m
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if getattr(handler, m.lower(), None) is not getattr(BaseHandler, m.lower(), None)
    ]


BODIES = {
    ("POST", "workspaces"): {"name": "mallorys"},
    ("PATCH", "workspaces/{id}"): {"description": "x"},
    ("POST", "workspaces/{id}/heartbeat"): {"token": "not-a-token"},
    ("POST", "workspaces/{id}/close"): {"token": "not-a-token"},
    ("PUT", "studio/session-mappings"): {"principal": "user:mallory", "policies": ["admin"]},
    # parts' routes (compute), with valid bodies so that only authorization can refuse
    ("POST", "clusters"): {"template": "small", "name": "mallorys"},
    ("POST", "workspaces/{id}/attach"): {"type": "emr-ec2", "cluster_id": "j-ABCDEFGHIJKLM"},
}


@idc
async def test_unassigned_user_gets_403_on_every_endpoint(api: Api, services) -> None:
    wid = (await api("POST", "workspaces", {"name": "w"}, user="alice")).json["id"]
    before = {i.key: i.etag for i in await services.store.list("")}
    calls = 0
    for pattern, handler in route_table() + extra_handlers():
        path = re.sub(r"\(\?P<workspace_id>[^)]*\)", "{id}", pattern)
        for method in _methods(handler):
            body = BODIES.get((method, path))
            r = await api(method, path.replace("{id}", wid), body, user="mallory")
            assert r.code == 403, (method, path, r)
            assert r.error["code"] == "NotAssignedToStudio", (method, path, r)
            calls += 1
    assert calls >= 12
    after = {i.key: i.etag for i in await services.store.list("")}
    assert after == before
    # each refusal is a denial event
    events = (await api("GET", "events", user="alice", params={"limit": "1000"})).json["events"]
    denials = [e for e in events if e["user"] == "mallory"]
    assert len(denials) >= calls
    assert {(e["outcome"], e["error_code"]) for e in denials} == {("denied", "NotAssignedToStudio")}
    # an assigned user (directly, or through a group) works
    assert (await api("GET", "workspaces", user="alice")).code == 200
    r = await api("GET", "studio", user="dora", groups="team")
    assert r.code == 200 and r.json["auth_mode"] == "IDENTITY_CENTER"
    assert (await api("GET", "workspaces", user="dora", groups="team")).code == 200


@idc
async def test_session_mapping_changes_take_effect_while_running(
    api: Api, services, tmp_path: Path
) -> None:
    from jupyter_emr_workspace.app import build_services
    from jupyter_emr_workspace.studio import Identity, Studio

    # a second server on the same store, with its own cache of the mappings
    other = build_services(
        Studio(
            **{
                **IDC,
                "id": "es-test",
                "backup_uri": services.studio.resolved_backup_uri,
                "audit_log_path": str(tmp_path / "other.jsonl"),
            }
        ),
        str(tmp_path / "other-root"),
        "server-b",
    )
    carol = Identity("carol")
    assert not await other.access.is_member(carol)
    assert (await api("GET", "studio", user="carol")).code == 403

    # dora (editor policy) may not change mappings; alice (admin) may
    r = await api(
        "PUT",
        "studio/session-mappings",
        {"principal": "user:carol", "policies": ["editor"]},
        user="dora",
        groups="team",
    )
    assert r.code == 403
    r = await api(
        "PUT",
        "studio/session-mappings",
        {"principal": "user:carol", "policies": ["nope"]},
        user="alice",
    )
    assert r.code == 400 and "nope" in r.error["message"]
    r = await api(
        "PUT",
        "studio/session-mappings",
        {"principal": "user:carol", "policies": ["editor"]},
        user="alice",
    )
    assert r.code == 200 and r.json["mappings"]["user:carol"] == ["editor"]

    assert (await api("GET", "studio", user="carol")).code == 200  # this server: at once
    r = await api("POST", "workspaces", {"name": "carols"}, user="carol")
    assert r.code == 201
    deadline = time.monotonic() + 10  # the other server: after its TTL
    while not await other.access.is_member(carol):
        assert time.monotonic() < deadline, "the other server never saw the new mapping"
        await asyncio.sleep(0.05)
    listed = await other.workspaces.list_workspaces(carol)
    assert [w["name"] for w in listed] == ["carols"]

    # removing the mapping locks carol out again
    r = await api(
        "PUT", "studio/session-mappings", {"principal": "user:carol", "policies": []}, user="alice"
    )
    assert r.code == 200 and "user:carol" not in r.json["mappings"]
    assert (await api("GET", "workspaces", user="carol")).code == 403
    mappings = await api("GET", "studio/session-mappings", user="alice")
    assert mappings.code == 200 and "group:team" in mappings.json["mappings"]
