"""ABAC on ``creatorUserId`` cannot be forged: tag keys are unique ignoring case, the
creator tag is the server's alone, and the policy context reads the server's tag even
from records stored before those rules (the README's ``OwnWorkspaces`` policy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Api

try:
    from jupyter_emr_workspace.assignments import tag_context
except ImportError:
    tag_context = None  # type: ignore
from jupyter_emr_workspace.iam_policy import Request, evaluate

# The README's example, as an admin writes it in c.Studio.policies.
OWN_WORKSPACES = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "elasticmapreduce:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "elasticmapreduce:DeleteEditor",
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"elasticmapreduce:ResourceTag/creatorUserId": "${aws:username}"}
            },
        },
    ],
}
CREATOR_SPELLINGS = ["creatoruserid", "CREATORUSERID", "CreatorUserId", "creatorUserID"]


@pytest.fixture
def studio_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-test",
        "policies": {"OwnWorkspaces": OWN_WORKSPACES},
        "assignments": {"group:analysts": ["OwnWorkspaces"]},
        "groups": {"alice": ["analysts"], "bob": ["analysts"]},
    }


async def test_other_user_cannot_retag_a_workspace_to_delete_it(api: Api) -> None:
    """The reported attack: bob adds ``creatoruserid: bob`` to alice's Workspace, which
    used to win over ``creatorUserId: alice`` when read back, then deletes it."""
    ws = (await api("POST", "workspaces", {"name": "alices"})).json
    wid = ws["id"]
    for spelling in CREATOR_SPELLINGS:
        r = await api("PATCH", f"workspaces/{wid}", {"tags": {spelling: "bob"}}, user="bob")
        assert r.code == 400, r
        assert spelling in r.error["message"] and "set by the server" in r.error["message"]
    r = await api("DELETE", f"workspaces/{wid}", user="bob")
    assert r.code == 403, r
    after = (await api("GET", f"workspaces/{wid}")).json
    assert after["tags"] == {"creatorUserId": "alice"}
    # alice's own policy still lets her delete it: the deny is about the creator only
    assert (await api("DELETE", f"workspaces/{wid}")).code == 200


async def test_creator_tag_in_any_case_is_refused_at_create(api: Api) -> None:
    for spelling in ["creatorUserId", *CREATOR_SPELLINGS]:
        r = await api(
            "POST", "workspaces", {"name": "forged", "tags": {spelling: "alice"}}, user="bob"
        )
        assert r.code == 400, (spelling, r)
    assert (await api("GET", "workspaces", user="bob")).json["workspaces"] == []


async def test_tag_keys_that_differ_only_in_case_are_refused(api: Api) -> None:
    r = await api("POST", "workspaces", {"name": "dup", "tags": {"Team": "a", "team": "b"}})
    assert r.code == 400, r
    assert "'Team'" in r.error["message"] and "'team'" in r.error["message"]
    wid = (await api("POST", "workspaces", {"name": "ok", "tags": {"Team": "a"}})).json["id"]
    r = await api("PATCH", f"workspaces/{wid}", {"tags": {"team": "a", "TEAM": "b"}})
    assert r.code == 400, r
    assert (await api("GET", f"workspaces/{wid}")).json["tags"]["Team"] == "a"
    # echoing the server's own tag back unchanged is still fine
    r = await api("PATCH", f"workspaces/{wid}", {"tags": {"Team": "b", "creatorUserId": "alice"}})
    assert r.code == 200, r


async def test_a_forged_tag_stored_before_the_rule_does_not_win(api: Api, services: Any) -> None:
    """A record written by an older version may already hold ``creatoruserid``: the
    policy context still reads the server-set ``creatorUserId``."""
    wid = (await api("POST", "workspaces", {"name": "legacy"})).json["id"]
    key = services.registry.layout.workspace(wid)
    record = json.loads((await services.store.get(key)).data)
    record["tags"] = {"creatorUserId": "alice", "creatoruserid": "bob", "CREATORUSERID": "bob"}
    await services.store.put(key, json.dumps(record, sort_keys=True).encode())
    r = await api("DELETE", f"workspaces/{wid}", user="bob")
    assert r.code == 403, r
    assert (await api("GET", f"workspaces/{wid}")).code == 200
    assert (await api("GET", f"workspaces/{wid}", user="bob")).json["permissions"][
        "elasticmapreduce:DeleteEditor"
    ] is False


def test_tag_context_keeps_the_server_creator_tag_whatever_the_order() -> None:
    for tags in (
        {"creatoruserid": "bob", "creatorUserId": "alice"},
        {"creatorUserId": "alice", "creatoruserid": "bob"},
    ):
        assert tag_context(tags) == {"creatorUserId": "alice"}
    # no server tag at all: another spelling is not taken for it
    assert tag_context({"CreatorUserId": "bob", "k": "v"}) == {"k": "v"}
    assert tag_context({"Team": "a", "team": "b"}) == {"Team": "a"}


def test_policy_evaluation_refuses_context_keys_that_differ_only_in_case() -> None:
    """Which of two such keys a condition reads would depend on dict order."""
    context = {
        "aws:username": "bob",
        "aws:ResourceTag/creatorUserId": "alice",
        "aws:ResourceTag/creatoruserid": "bob",
    }
    request = Request("elasticmapreduce:DeleteEditor", "arn:x", context)
    with pytest.raises(ValueError, match="differ only in case"):
        evaluate([OWN_WORKSPACES], request)
