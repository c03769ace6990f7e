"""Studio isolation for reads: inside the Workspaces folder, jupyter_server's own read
routes (contents, files, view, nbconvert, checkpoints, copies) answer only Studio members
with DescribeEditor on that Workspace, as the extension's API does; listing the
Workspaces folder needs ListEditors. Outside it nothing changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient
from conftest import Api

from jupyter_emr_workspace.read_access import ReadAccess

ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
NO_SECRETS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": "elasticmapreduce:DescribeEditor",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "secret"}},
        }
    ],
}
IDC = {
    "auth_mode": "IDENTITY_CENTER",
    "policies": {"all": ALL},
    "assignments": {"user:alice": "all", "user:bob": "all"},
}
IAM = {
    "auth_mode": "IAM",
    "policies": {"all": ALL, "no-secrets": NO_SECRETS},
    "assignments": {"user:alice": "all", "user:bob": ["all", "no-secrets"]},
}
NOTEBOOK = {
    "type": "notebook",
    "format": "json",
    "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
}
TEXT = {"type": "file", "format": "text", "content": "secret"}


@pytest.fixture
def studio_config(studio_config: dict[str, Any], request: pytest.FixtureRequest) -> Any:
    return {**studio_config, **request.param}


async def workspace_with_files(api: Api, tags: dict[str, str] | None = None) -> str:
    body: dict[str, Any] = {"name": "w-" + "-".join(tags or {}), "tags": tags or {}}
    wid = str((await api("POST", "workspaces", body)).json["id"])
    assert (await api("POST", f"workspaces/{wid}/open")).code == 200
    for name, model in (("a.txt", TEXT), ("nb.ipynb", NOTEBOOK)):
        r = await api("PUT", f"workspaces/{wid}/{name}", model, base="api/contents")
        assert r.code == 201, r
    return wid


@pytest.fixture
def status(jp_fetch: Any) -> Any:
    """``await status("files/x", user)``: the HTTP status of a GET (any body)."""

    async def call(path: str, user: str) -> int:
        parts = [p for p in path.split("/") if p]
        r = await jp_fetch(*parts, headers={"X-Test-User": user}, raise_error=False)
        return int(r.code)

    return call


async def reads(api: Api, status: Any, wid: str, user: str) -> dict[str, int]:
    """Status of every way to read the Workspace's files through jupyter_server."""
    folder = f"workspaces/{wid}"
    out = {}
    for name, (base, path) in {
        "list": ("api/contents", folder),
        "file": ("api/contents", f"{folder}/a.txt"),
        "checkpoints": ("api/contents", f"{folder}/a.txt/checkpoints"),
        "files": ("files", f"{folder}/a.txt"),
        "view": ("view", f"{folder}/a.txt"),
        "nbconvert": ("nbconvert/html", f"{folder}/nb.ipynb"),
    }.items():
        out[name] = await status(f"{base}/{path}", user)
    copy = {"copy_from": f"{folder}/a.txt"}
    out["copy"] = (await api("POST", "", copy, user=user, base="api/contents")).code
    return out


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("studio_config", [IDC], indirect=True)
async def test_unassigned_users_read_nothing_inside_workspaces(
    api: Api, status: Any, tmp_path: Path
) -> None:
    wid = await workspace_with_files(api)
    assert set((await reads(api, status, wid, "dave")).values()) == {403}, await reads(
        api, status, wid, "dave"
    )
    r = await api("GET", "workspaces", user="dave", base="api/contents")
    assert r.code == 403 and "not assigned" in r.json["message"], r
    denied = [e for e in audit(tmp_path) if e["user"] == "dave" and e["outcome"] == "denied"]
    assert denied and {e["error_code"] for e in denied} == {"NotAssignedToStudio"}
    # outside the Workspaces folder dave works as before
    assert (await api("PUT", "mine.txt", TEXT, user="dave", base="api/contents")).code == 201
    assert (await api("GET", "", user="dave", base="api/contents")).code == 200
    # an assigned user reads everything
    ok = await reads(api, status, wid, "bob")
    assert set(ok.values()) <= {200, 201}, ok
    listing = (await api("GET", "workspaces", user="bob", base="api/contents")).json
    assert [c["name"] for c in listing["content"]] == [wid]


@pytest.mark.parametrize("studio_config", [IAM], indirect=True)
async def test_a_user_denied_describe_editor_cannot_read_that_workspace(
    api: Api, status: Any
) -> None:
    secret = await workspace_with_files(api, {"team": "secret"})
    assert (await api("GET", f"workspaces/{secret}", user="bob")).code == 403
    assert set((await reads(api, status, secret, "bob")).values()) == {403}
    # alice, whom no policy denies, reads it
    r = await api("GET", f"workspaces/{secret}/a.txt", user="alice", base="api/contents")
    assert r.code == 200 and r.json["content"] == "secret"
    # another Workspace, without the tag, bob reads
    plain = await workspace_with_files(api)
    ok = await reads(api, status, plain, "bob")
    assert set(ok.values()) <= {200, 201}, ok


@pytest.mark.parametrize("studio_config", [IAM], indirect=True)
async def test_reads_through_a_symlink_are_judged_as_the_workspace(
    api: Api, status: Any, jp_root_dir: Path
) -> None:
    secret = await workspace_with_files(api, {"team": "secret"})
    (jp_root_dir / "door").symlink_to(jp_root_dir / "workspaces" / secret)
    for base, path in (("api/contents", "door/a.txt"), ("files", "door/a.txt")):
        assert await status(f"{base}/{path}", "bob") == 403
        assert await status(f"{base}/{path}", "alice") == 200


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    extensions = jp_server_config["ServerApp"]["jpserver_extensions"]
    extensions.update({"jupyter_server_fileid": True, "jupyter_server_ydoc": True})
    return jp_server_config


@pytest.mark.parametrize("studio_config", [IDC], indirect=True)
async def test_collaboration_and_file_ids_do_not_open_a_workspace_to_outsiders(
    api: Api, jp_fetch: Any, jp_ws_fetch: Any
) -> None:
    wid = await workspace_with_files(api)
    path = f"workspaces/{wid}/a.txt"
    model = {"format": "text", "type": "file"}

    async def session(user: str) -> int:
        r = await api("PUT", f"session/{path}", model, user=user, base="api/collaboration")
        return r.code

    assert await session("dave") == 403
    r = await api("PUT", f"session/{path}", model, user="bob", base="api/collaboration")
    assert r.code in (200, 201), r
    room = f"text:file:{r.json['fileId']}"
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await jp_ws_fetch(
            "api",
            "collaboration",
            "room",
            room,
            headers={"X-Test-User": "dave"},
            params={"sessionId": r.json["sessionId"]},
        )
    assert refused.value.code == 403
    r = await jp_fetch(
        "api",
        "fileid",
        "id",
        params={"path": path},
        headers={"X-Test-User": "dave"},
        raise_error=False,
    )
    assert r.code == 403, r.body


@pytest.mark.parametrize("studio_config", [IAM], indirect=True)
async def test_read_decisions_are_cached_per_caller_and_workspace(
    api: Api, status: Any, tmp_path: Path, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook page loads many files: the policy is asked once per caller and
    Workspace while the decision is fresh (and each denial is recorded once)."""
    monkeypatch.setattr(ReadAccess, "TTL", 3600.0)  # fresh for the whole test, not timed
    secret = await workspace_with_files(api, {"team": "secret"})
    asked: list[str] = []
    decide = services.access.decide

    async def counting(identity: Any, action: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(f"{identity.name} {action}")
        return await decide(identity, action, *args, **kwargs)

    monkeypatch.setattr(services.access, "decide", counting)
    for _ in range(3):
        assert await status(f"files/workspaces/{secret}/a.txt", "bob") == 403
        assert await status(f"files/workspaces/{secret}/a.txt", "alice") == 200
    assert sorted(asked) == [
        "alice elasticmapreduce:DescribeEditor",
        "bob elasticmapreduce:DescribeEditor",
    ]
    denials = [e for e in audit(tmp_path) if e["user"] == "bob" and e["outcome"] == "denied"]
    assert len(denials) == 1, denials
