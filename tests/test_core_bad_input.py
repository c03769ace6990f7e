"""Bad input through the real server: clear 4xx with ``{"error": {"code", "message"}}``,
never a 500, and nothing changed in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Api, Response

MISSING = "e-" + "A" * 25  # valid format, no such Workspace


@pytest.fixture
def cluster_templates() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def studio_config(tmp_path: Path, cluster_templates: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-test",
        "cluster_templates": cluster_templates,
    }


async def make_setup(api: Api, services: Any) -> dict[str, Any]:
    """One Workspace, open by alice, and a snapshot function of the store."""
    ws = (await api("POST", "workspaces", {"name": "existing", "tags": {"k": "v"}})).json
    lease = (await api("POST", f"workspaces/{ws['id']}/open")).json["lease"]

    async def snapshot() -> dict[str, str]:
        return {i.key: i.etag for i in await services.store.list("")}

    return {"id": ws["id"], "ws": ws, "token": lease["token"], "snapshot": snapshot}


def assert_client_error(r: Response, status: int | None = None) -> None:
    assert 400 <= r.code < 500, r
    if status is not None:
        assert r.code == status, r
    err = r.error
    assert isinstance(err["code"], str) and err["code"], r
    assert isinstance(err["message"], str) and len(err["message"]) > 10, r
    assert "Traceback" not in r.raw.decode(errors="replace")


BAD_NAMES = [
    "a/b",
    "..",
    "../etc",
    "a\x00b",
    ".hidden",
    "x" * 65,
    "",
    " leading",
    "trailing ",
    "tab\tname",
    "new\nline",
    "semi;colon",
    "back\\slash",
    "%2e%2e",
]

BAD_CREATE_BODIES: list[Any] = [
    {"name": 5},
    {"name": None},
    {"name": ["a"]},
    {"name": {"a": 1}},
    {"name": True},
    {},
    {"description": "no name"},
    {"name": "ok1", "tags": ["a", "b"]},
    {"name": "ok2", "tags": "k=v"},
    {"name": "ok3", "tags": {"k": 1}},
    {"name": "ok4", "tags": {"": "v"}},
    {"name": "ok5", "tags": {"aws:reserved": "v"}},
    {"name": "ok6", "tags": {"creatorUserId": "mallory"}},
    {"name": "ok7", "tags": {f"k{i}": "v" for i in range(51)}},
    {"name": "ok8", "description": 5},
    {"name": "ok9", "description": "d" * 257},
    {"name": "ok10", "collaboration": "yes"},
    {"name": "ok11", "collaboration": {"enabled": "yes"}},
    {"name": "ok12", "collaboration": {"collaborators": "user:bob"}},
    {"name": "ok13", "collaboration": {"collaborators": ["bob"]}},
    {"name": "ok14", "collaboration": {"collaborators": [5]}},
    {"name": "ok15", "collaboration": {"enabled": True, "owner": "x"}},
    {"name": "ok16", "collaboration": {"collaborators": [f"user:u{i}" for i in range(101)]}},
    {"name": "ok17", "unknown": 1},
    {"name": "ok18", "id": "e-" + "B" * 25},
]

RAW_BODIES = [
    b"{not json",
    b"[1, 2]",
    b'"string"',
    b"42",
    b"null",
    b"\xff\xfe\x00",
    b'{"name": "a"',
]


async def test_create_rejects_malformed_bodies_and_bad_names(api: Api, services: Any) -> None:
    setup = await make_setup(api, services)
    before = await setup["snapshot"]()
    for raw in RAW_BODIES:
        assert_client_error(await api("POST", "workspaces", raw=raw), 400)
    for name in BAD_NAMES:
        r = await api("POST", "workspaces", {"name": name})
        assert_client_error(r, 400)
        assert r.error["code"] == "ValidationException"
    for body in BAD_CREATE_BODIES:
        r = await api("POST", "workspaces", body)
        assert_client_error(r, 400)
    # a taken name (any case) is a 409, not a second Workspace
    assert_client_error(await api("POST", "workspaces", {"name": "EXISTING"}), 409)
    assert await setup["snapshot"]() == before
    names = [w["name"] for w in (await api("GET", "workspaces")).json["workspaces"]]
    assert names == ["existing"]


async def test_ten_megabyte_bodies_are_refused(api: Api, services: Any) -> None:
    setup = await make_setup(api, services)
    before = await setup["snapshot"]()
    big = b'{"name": "big", "description": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    wid = setup["id"]
    for method, path in [
        ("POST", "workspaces"),
        ("PATCH", f"workspaces/{wid}"),
        ("POST", f"workspaces/{wid}/heartbeat"),
        ("POST", f"workspaces/{wid}/open"),
        ("PUT", "studio/session-mappings"),
    ]:
        r = await api(method, path, raw=big)
        assert_client_error(r, 413)
        assert r.error["code"] == "PayloadTooLarge"
    assert await setup["snapshot"]() == before


async def test_patch_and_lease_calls_reject_bad_bodies(api: Api, services: Any) -> None:
    setup = await make_setup(api, services)
    wid, token = setup["id"], setup["token"]
    before = await setup["snapshot"]()
    for body in [
        {},
        {"name": "renamed"},
        {"description": 1},
        {"tags": ["x"]},
        {"tags": {"creatorUserId": "mallory"}},
        {"collaboration": {"enabled": 1}},
        {"collaboration": None},
        {"attachment": {"cluster_id": "j-1"}},
    ]:
        assert_client_error(await api("PATCH", f"workspaces/{wid}", body), 400)
    for raw in RAW_BODIES:
        assert_client_error(await api("PATCH", f"workspaces/{wid}", raw=raw), 400)
        assert_client_error(await api("POST", f"workspaces/{wid}/heartbeat", raw=raw), 400)
        assert_client_error(await api("POST", f"workspaces/{wid}/open", raw=raw), 400)
    for body in [{}, {"token": 5}, {"token": ""}, {"token": "x" * 300}, {"token": token, "x": 1}]:
        assert_client_error(await api("POST", f"workspaces/{wid}/heartbeat", body), 400)
        assert_client_error(await api("POST", f"workspaces/{wid}/close", body), 400)
    # a token that is not alice's lease on this Workspace
    r = await api("POST", f"workspaces/{wid}/heartbeat", {"token": "forged-token"})
    assert_client_error(r, 409)
    r = await api("POST", f"workspaces/{wid}/close", {"token": "forged-token"})
    assert_client_error(r, 409)
    assert_client_error(
        await api("DELETE", f"workspaces/{wid}", params={"delete_notebooks": "maybe"}), 400
    )
    for limit in ("abc", "0", "5000", "-1", "1e3"):
        assert_client_error(await api("GET", "events", params={"limit": limit}), 400)
    for body in [
        {"principal": "alice", "policies": []},
        {"principal": "user:bob", "policies": "admin"},
        {"principal": 5, "policies": []},
        {"principal": "user:" + "x" * 300, "policies": []},
        {"principal": "user:a\x00b", "policies": []},
        {"principal": "user:bob"},
    ]:
        assert_client_error(await api("PUT", "studio/session-mappings", body), 400)
    assert await setup["snapshot"]() == before
    ws = (await api("GET", f"workspaces/{wid}")).json
    assert ws["tags"] == setup["ws"]["tags"] and ws["description"] == ""
    # the lease survived all of it
    assert (await api("POST", f"workspaces/{wid}/heartbeat", {"token": token})).code == 200


async def test_unknown_and_malformed_ids(api: Api, services: Any) -> None:
    setup = await make_setup(api, services)
    before = await setup["snapshot"]()
    ids = [
        MISSING,
        "e-" + "a" * 25,
        "e-" + "A" * 24,
        "e-" + "A" * 26,
        "..",
        "%2e%2e",
        "%2E%2E%2Fstudio",
        "x" * 5000,
        "e-AAAAAAAAAAAAAAAAAAAAAAAA%00",
        ".emr-workspace",
    ]
    for wid in ids:
        calls = [
            ("GET", f"workspaces/{wid}", None),
            ("PATCH", f"workspaces/{wid}", {"description": "x"}),
            ("DELETE", f"workspaces/{wid}", None),
            ("POST", f"workspaces/{wid}/open", None),
            ("POST", f"workspaces/{wid}/heartbeat", {"token": setup["token"]}),
            ("POST", f"workspaces/{wid}/close", {"token": setup["token"]}),
            ("DELETE", f"workspaces/{wid}/lock", None),
        ]
        for method, path, body in calls:
            r = await api(method, path, body)
            assert_client_error(r, 404)
            assert r.error["code"] in {"ResourceNotFound", "NotFound"}, r
            if wid == MISSING:
                assert r.error["code"] == "ResourceNotFound"
                assert MISSING in r.error["message"]
            assert len(r.raw) < 2000  # a 5000-character id is not echoed back whole
    # unknown API paths answer in JSON too
    for method in ("GET", "POST", "DELETE"):
        assert_client_error(await api(method, "no/such/endpoint"), 404)
    assert await setup["snapshot"]() == before


def nested(depth: int) -> bytes:
    """A JSON object nested ``depth`` deep: deeper than Python's parser can recurse."""
    return b'{"a": ' * depth + b"1" + b"}" * depth


async def test_deeply_nested_bodies_are_refused_with_400(api: Api, services: Any) -> None:
    """Python's json recurses once per level: 100,000 levels used to answer 500
    (RecursionError) where jupyter_server's own handlers answer 400."""
    setup = await make_setup(api, services)
    before = await setup["snapshot"]()
    wid = setup["id"]
    body = nested(100_000)
    for method, path in [
        ("POST", "workspaces"),
        ("PATCH", f"workspaces/{wid}"),
        ("POST", f"workspaces/{wid}/open"),
        ("POST", f"workspaces/{wid}/heartbeat"),
        ("POST", f"workspaces/{wid}/close"),
        ("PUT", "studio/session-mappings"),
        ("POST", "clusters"),
        ("POST", f"workspaces/{wid}/attach"),
        ("POST", f"workspaces/{wid}/detach"),
        ("POST", f"workspaces/{wid}/restart-kernels"),
        ("POST", f"workspaces/{wid}/backup"),
        ("POST", f"workspaces/{wid}/share"),
    ]:
        r = await api(method, path, raw=body)
        assert_client_error(r, 400)
        assert "nested too deeply" in r.error["message"], (method, path, r)
    assert await setup["snapshot"]() == before
    assert (await api("POST", f"workspaces/{wid}/heartbeat", {"token": setup["token"]})).code == 200


async def test_nan_and_infinity_literals_are_not_json(api: Api, services: Any) -> None:
    """Python reads ``NaN``/``Infinity`` although RFC 8259 has no such numbers."""
    setup = await make_setup(api, services)
    before = await setup["snapshot"]()
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        raw = b'{"name": "n", "description": "d", "tags": {"k": "v"}, "x": ' + literal + b"}"
        r = await api("POST", "workspaces", raw=raw)
        assert_client_error(r, 400)
        assert literal.decode().lstrip("-") in r.error["message"], r
        raw = b'{"template": "small", "name": "n", "parameters": {"nodes": ' + literal + b"}}"
        assert_client_error(await api("POST", "clusters", raw=raw), 400)
    assert await setup["snapshot"]() == before


TEMPLATES = [
    {
        "name": "small",
        "run_job_flow": {"Instances": {"InstanceCount": "{{nodes}}"}},
        "fields": [{"name": "nodes", "type": "number", "min": 1, "max": 10, "required": True}],
    }
]


@pytest.mark.parametrize("cluster_templates", [TEMPLATES])
async def test_template_numbers_must_be_finite(api: Api) -> None:
    """A "NaN" string passed every min/max comparison (any comparison with NaN is false)
    and reached EMR as InstanceCount "nan"; "1e999" is infinite; 10**400 overflowed."""
    for value in ["NaN", "nan", "-nan", "Infinity", "inf", "-inf", "1e999", 10**400]:
        r = await api(
            "POST", "clusters", {"template": "small", "name": "n", "parameters": {"nodes": value}}
        )
        assert_client_error(r, 400)
        assert "'nodes'" in r.error["message"], (value, r)
