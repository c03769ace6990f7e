"""The OpenAPI document: valid, in step with the registered handlers (both ways), served
by the extension, and real responses of the main operations match its schemas."""

from __future__ import annotations

import copy
import json
import re
from importlib.resources import files
from typing import Any

import pytest
import yaml
from conftest import Api, Response
from jsonschema.validators import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource

from jupyter_emr_workspace import parts
from jupyter_emr_workspace.handlers import BaseHandler, route_table, served_document
from jupyter_emr_workspace.parts import extra_handlers

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return yaml.safe_load(files("jupyter_emr_workspace").joinpath("openapi.yaml").read_text())


@pytest.fixture
def studio_config(tmp_path: Any) -> dict[str, Any]:
    """One policy, so the served document has a policy name to list."""
    everyone = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-test",
        "policies": {"all": everyone},
        "assignments": {f"user:{u}": "all" for u in ("alice", "bob", "mallory")},
    }


def openapi_path(pattern: str) -> str:
    """A tornado route (``workspaces/(?P<workspace_id>[^/]+)/open``) as an OpenAPI path."""
    return "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


def methods_of(handler: type) -> set[str]:
    return {m for m in METHODS if getattr(handler, m) is not getattr(BaseHandler, m)}


def registered() -> dict[str, set[str]]:
    return {openapi_path(p): methods_of(h) for p, h in route_table() + extra_handlers()}


def test_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_route_is_documented_and_every_documented_path_exists(doc) -> None:
    routes = registered()
    documented = {
        path: {m for m in item if m in METHODS}
        for path, item in doc["paths"].items()
        # a part's paths exist when that part is installed
        if item.get("x-emr-workspace-part", None) in (None, *parts.PARTS)
    }
    assert set(routes) == set(documented), set(routes) ^ set(documented)
    for path, methods in routes.items():
        assert methods == documented[path], (path, methods, documented[path])
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                assert op.get("operationId") and op.get("responses"), (path, method)
                # every operation documents the error form
                assert any(c.startswith(("4", "5")) for c in op["responses"]), (path, method)


class Checker:
    """Validates responses against the document's response schemas (JSON Schema 2020-12)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry = Registry().with_resource("urn:openapi", Resource.opaque(doc))

    def __call__(self, method: str, path: str, r: Response) -> None:
        ops = self.doc["paths"][path][method.lower()]
        assert str(r.code) in ops["responses"], (method, path, r.code, "status not documented")
        response = ops["responses"][str(r.code)]
        if "$ref" in response:
            response = self.resolve(response["$ref"])
        content = response.get("content")
        if content is None:
            assert not r.raw.strip(), (method, path, r)
            return
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            return
        schema = self.rebase(schema)
        errors = list(Draft202012Validator(schema, registry=self.registry).iter_errors(r.json))
        assert not errors, (method, path, [e.message for e in errors[:5]], r.json)

    def resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node  # type: ignore[no-any-return]

    def rebase(self, schema: Any) -> Any:
        """``#/components/...`` refs → ``urn:openapi#/components/...``."""
        if isinstance(schema, dict):
            return {
                k: (f"urn:openapi{v}" if k == "$ref" and v.startswith("#") else self.rebase(v))
                for k, v in schema.items()
            }
        if isinstance(schema, list):
            return [self.rebase(v) for v in schema]
        return schema


async def test_real_responses_match_the_schemas(api: Api, doc: dict[str, Any]) -> None:
    check = Checker(doc)

    async def call(method: str, path: str, body: Any = None, **kw: Any) -> Response:
        concrete = path.replace("{workspace_id}", wid) if "{" in path else path
        r = await api(method, concrete.lstrip("/"), body, **kw)
        check(method, path, r)
        return r

    wid = "e-" + "0" * 25
    await call("GET", "/studio")
    await call("GET", "/workspaces")
    r = await call(
        "POST",
        "/workspaces",
        {
            "name": "doc",
            "tags": {"k": "v"},
            "collaboration": {"enabled": True, "collaborators": ["user:bob"]},
        },
    )
    wid = r.json["id"]
    await call("POST", "/workspaces", {"name": "doc"})  # 409
    await call("POST", "/workspaces", {"name": "../x"})  # 400
    await call("GET", "/workspaces/{workspace_id}")
    await call("PATCH", "/workspaces/{workspace_id}", {"description": "d"})
    lease = (await call("POST", "/workspaces/{workspace_id}/open")).json["lease"]
    await call("POST", "/workspaces/{workspace_id}/open", user="bob")  # collaborator
    await call("POST", "/workspaces/{workspace_id}/open", user="mallory")  # 409 WorkspaceInUse
    listed = await call("GET", "/workspaces")
    assert listed.json["workspaces"][0]["lock"]["holders"]
    await call("POST", "/workspaces/{workspace_id}/heartbeat", {"token": lease["token"]})
    if "jupyter_emr_workspace.contents.part" in parts.PARTS:
        await call("GET", "/workspaces/{workspace_id}/backup")
    if "jupyter_emr_workspace.compute.part" in parts.PARTS:
        await call("GET", "/templates")
    await call("POST", "/workspaces/{workspace_id}/close", {"token": lease["token"]})
    await call("POST", "/workspaces/{workspace_id}/heartbeat", {"token": lease["token"]})  # 409
    await call("DELETE", "/workspaces/{workspace_id}/lock")
    await call("GET", "/events")
    await call("GET", "/studio/session-mappings")
    await call("DELETE", "/workspaces/{workspace_id}")
    await call("GET", "/workspaces/{workspace_id}")  # 404


async def test_the_document_is_served_with_this_studios_values(
    jp_fetch: Any, doc: dict[str, Any]
) -> None:
    """The file as shipped, plus the values only this server knows: the policy names
    putSessionMapping accepts and the cluster sources attach accepts."""
    r = await jp_fetch("emr-workspace", "api", "openapi.yaml", headers={"X-Test-User": "bob"})
    assert r.code == 200 and "yaml" in r.headers["Content-Type"]
    served = yaml.safe_load(r.body)
    validate(served)
    schemas = served["components"]["schemas"]
    assert schemas.pop("PolicyName")["enum"] == ["all"]
    assert schemas.pop("ClusterType")["enum"] == ["local"]
    shipped = copy.deepcopy(doc)
    del shipped["components"]["schemas"]["PolicyName"]
    del shipped["components"]["schemas"]["ClusterType"]
    assert served == shipped


def test_a_studio_without_policies_serves_a_document_that_accepts_no_name() -> None:
    served = yaml.safe_load(served_document((), ()))
    assert served["components"]["schemas"]["PolicyName"]["not"] == {}
    validate(served)


def test_the_checker_rejects_responses_that_break_the_schema(doc: dict[str, Any]) -> None:
    """The checks above are not vacuous: a Workspace without its lock, or a lease that
    leaks into the lock, fails."""
    check = Checker(doc)
    good = {
        "id": "e-" + "A" * 25,
        "name": "w",
        "studio_id": "es",
        "description": "",
        "created_by": "alice",
        "created_at": "2026-01-01T00:00:00Z",
        "tags": {"creatorUserId": "alice"},
        "collaboration": {"enabled": False, "collaborators": []},
        "attachment": None,
        "lock": None,
        "path": "workspaces/e-" + "A" * 25,
        "permissions": {"elasticmapreduce:DeleteEditor": True},
    }
    check("GET", "/workspaces/{workspace_id}", Response(200, json.dumps(good).encode()))
    bad_cases = [
        {k: v for k, v in good.items() if k != "lock"},
        {**good, "lock": {"holders": [{"user": "a", "since": "x", "expires_at": "y"}]}},
        {**good, "lock": {"generation": 1, "holders": [{"user": "a", "token": "t"}]}},
        {**good, "id": "e-lower"},
        {**good, "tags": {}},
    ]
    for bad in bad_cases:
        with pytest.raises(AssertionError):
            check("GET", "/workspaces/{workspace_id}", Response(200, json.dumps(bad).encode()))
    with pytest.raises(AssertionError):  # an undocumented status
        check("GET", "/workspaces/{workspace_id}", Response(418, b'{"error": {}}'))


async def test_no_credentials_get_401_and_missing_methods_405_with_allow(
    jp_fetch: Any, doc: dict[str, Any]
) -> None:
    """RFC 9110: 401 (with ``WWW-Authenticate``) when no credentials came at all, 403 for
    credentials that are not enough; 405 names the methods the path has."""
    check = Checker(doc)
    for method, path in [("GET", "/workspaces"), ("POST", "/workspaces"), ("GET", "/studio")]:
        r = await jp_fetch(
            *f"emr-workspace/api{path}".split("/"),
            method=method,
            body=b"{}" if method == "POST" else None,
            headers={"Authorization": ""},
            raise_error=False,
        )
        assert r.code == 401, (method, path, r.code, r.body)
        assert r.headers["WWW-Authenticate"].startswith("token")
        check(method, path, Response(r.code, r.body))
    for method, path, allowed in [
        ("PUT", "workspaces", "GET, POST"),
        ("GET", "workspaces/e-" + "A" * 25 + "/open", "POST"),
        ("POST", "studio", "GET"),
    ]:
        r = await jp_fetch(
            *f"emr-workspace/api/{path}".split("/"),
            method=method,
            body=b"{}" if method in {"PUT", "POST"} else None,
            raise_error=False,
        )
        assert r.code == 405, (method, path, r.code)
        assert r.headers["Allow"] == allowed
        assert json.loads(r.body)["error"]["code"] == "MethodNotAllowed"
