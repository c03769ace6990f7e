"""A store that is away: every route of the extension (as openapi.yaml lists them)
answers either as usual or 503 ``StoreUnavailable`` naming the store, never a bare 500,
and the server recovers when the store comes back. S3 is moto over HTTP, made to fail
three ways: behind a proxy that the test stops (a network outage), answering 403
``AccessDenied`` (a bucket policy or role that refuses), answering 500 (S3 in trouble)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from importlib.resources import files
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from conftest import Api, Response
from emrws_testing.moto_servers import MotoHttp
from emrws_testing.proxy import DelayProxy
from emrws_testing.recording import RecordingMoto

from jupyter_emr_workspace import parts
from jupyter_emr_workspace.errors import StoreUnavailable, UpstreamError
from jupyter_emr_workspace.handlers import as_api_error
from jupyter_emr_workspace.store import ObjectNotFound, PreconditionFailed, StoreError

METHODS = ("get", "post", "put", "patch", "delete")
STUDIO_ID = "es-outage"
#: Bodies that are valid for each operation, so a route gets past validation to the store.
BODIES: dict[str, Any] = {
    "putSessionMapping": {"principal": "user:bob", "policies": []},
    "createWorkspace": {"name": "during-outage"},
    "updateWorkspace": {"description": "changed during the outage"},
    "createCluster": {"template": "none", "name": "c"},
    "attachWorkspace": {"type": "emr-ec2", "cluster_id": "j-NOSUCHCLUSTER"},
}
#: Operations that cannot answer without the store.
NEED_THE_STORE = {
    "listWorkspaces",
    "createWorkspace",
    "getWorkspace",
    "updateWorkspace",
    "deleteWorkspace",
    "openWorkspace",
    "closeWorkspace",
    "forceRelease",
    "heartbeat",
}


class Outage:
    """An S3 endpoint the test can break and mend."""

    def __init__(self, kind: str, moto: MotoHttp) -> None:
        self.kind = kind
        if kind == "unreachable":
            self.proxy: DelayProxy | None = DelayProxy(int(urlparse(moto.url).port or 0)).start()
            self.url = self.proxy.url
        else:
            self.proxy = None
            self.faulty = RecordingMoto().start()  # the same in-process moto backends
            self.url = self.faulty.url

    def cut(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        else:
            self.faulty.fail_with = (
                (403, "AccessDenied")
                if self.kind == "refused"
                else (
                    500,
                    "InternalError",
                )
            )

    def mend(self) -> None:
        if self.proxy is not None:
            self.proxy.start()
        else:
            self.faulty.fail_with = None

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
        else:
            self.faulty.stop()


# (auth mode, how S3 fails): each failure once; IDENTITY_CENTER also reads the store
# before any handler runs, so it gets the outage that covers every route
CASES = [
    ("IAM", "unreachable"),
    ("IDENTITY_CENTER", "unreachable"),
    ("IAM", "refused"),
    ("IAM", "s3-5xx"),
]


@pytest.fixture(params=CASES, ids=["-".join(c) for c in CASES])
def case(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def s3(case: tuple[str, str], moto: MotoHttp) -> Iterator[Outage]:
    outage = Outage(case[1], moto)
    yield outage
    outage.close()


@pytest.fixture
def studio_config(case: tuple[str, str], bucket: str, s3: Outage) -> Any:
    """Open IAM mode reads no policy state; IDENTITY_CENTER checks membership against the
    session mappings in the store on every request (ttl 0), before any handler runs."""
    config: dict[str, Any] = {
        "id": STUDIO_ID,
        "backup_uri": f"s3://{bucket}/studio",
        "endpoint_url": s3.url,
        "region": "us-east-1",
    }
    if case[0] == "IDENTITY_CENTER":
        config.update(
            auth_mode="IDENTITY_CENTER",
            policies={"all": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
            assignments={"user:alice": "all"},
            session_mapping_ttl=0,
        )
    return config


def operations() -> list[tuple[str, str, str]]:
    """(method, path, operationId) of every documented operation of the installed parts."""
    doc = yaml.safe_load(files("jupyter_emr_workspace").joinpath("openapi.yaml").read_text())
    out = []
    for path, item in doc["paths"].items():
        if item.get("x-emr-workspace-part", None) not in (None, *parts.PARTS):
            continue
        for method in METHODS:
            if method in item:
                out.append((method.upper(), path, item[method]["operationId"]))
    return out


def assert_unavailable(r: Response, bucket: str) -> None:
    assert r.code == 503, r
    assert r.error["code"] == "StoreUnavailable", r
    assert f"s3://{bucket}/studio" in r.error["message"], r


async def test_every_route_answers_503_or_works_while_the_store_is_away(
    api: Api, jp_fetch: Any, s3: Outage, bucket: str
) -> None:
    ws = (await api("POST", "workspaces", {"name": "before-outage"})).json
    wid = ws["id"]
    lease = (await api("POST", f"workspaces/{wid}/open")).json["lease"]
    bodies = {**BODIES, "heartbeat": {"token": lease["token"]}}
    bodies["closeWorkspace"] = bodies["heartbeat"]
    ops = operations()
    assert {op for _, _, op in ops} >= NEED_THE_STORE

    async def call(method: str, path: str, op: str) -> Response:
        body = bodies.get(op)
        r = await jp_fetch(
            *f"emr-workspace/api{path.replace('{workspace_id}', wid)}".split("/"),
            method=method,
            body=json.dumps(body)
            if body is not None
            else (b"" if method != "GET" and method != "DELETE" else None),
            headers={"X-Test-User": "alice"},
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        if op == "getOpenApi" and r.code == 200:
            return Response(r.code, b"")  # YAML, not JSON
        return Response(r.code, r.body)

    s3.cut()
    responses = await asyncio.gather(*(call(method, path, op) for method, path, op in ops))
    for (method, path, op), r in zip(ops, responses, strict=True):
        assert r.code != 500 and r.code < 600, (method, path, r)
        assert "Traceback" not in r.raw.decode(), r
        if op in NEED_THE_STORE or r.code >= 500:
            assert_unavailable(r, bucket)
        else:
            assert r.code < 500, (method, path, r)

    s3.mend()
    listed = (await api("GET", "workspaces")).json["workspaces"]
    assert [w["id"] for w in listed] == [wid]  # nothing created, nothing lost
    assert (await api("GET", f"workspaces/{wid}")).code == 200


async def test_list_get_and_open_answer_503_naming_the_store_while_it_is_away(
    api: Api, s3: Outage, bucket: str
) -> None:
    """The routes a user hits first, one at a time (they used to answer a bare 500)."""
    wid = (await api("POST", "workspaces", {"name": "w"})).json["id"]
    s3.cut()
    assert_unavailable(await api("GET", "workspaces"), bucket)
    assert_unavailable(await api("GET", f"workspaces/{wid}"), bucket)
    assert_unavailable(await api("POST", f"workspaces/{wid}/open"), bucket)
    s3.mend()
    assert (await api("POST", f"workspaces/{wid}/open")).code == 200


def test_store_errors_map_to_503_or_409_and_others_to_500() -> None:
    uri = "s3://b/p"
    refused = as_api_error(StoreError("S3 put_object on s3://b failed: AccessDenied"), uri)
    assert isinstance(refused, StoreUnavailable) and uri in refused.message
    assert refused.status == 503
    try:
        raise UpstreamError("The backup location s3://b/p/e-1/ is unreachable") from StoreError("x")
    except UpstreamError as e:
        wrapped = as_api_error(e, uri)
    assert isinstance(wrapped, StoreUnavailable) and "s3://b/p/e-1/" in wrapped.message
    for race in (PreconditionFailed("k"), ObjectNotFound("k")):
        mapped = as_api_error(race, uri)
        assert mapped is not None and mapped.status == 409
    # an EMR failure is not the store's
    assert as_api_error(UpstreamError("EMR RunJobFlow failed"), uri).status == 502  # type: ignore[union-attr]
    assert as_api_error(RuntimeError("bug"), uri) is None
