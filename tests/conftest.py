"""Shared fixtures: a real jupyter-server (pytest-jupyter) with the extension, moto as an
HTTP server for AWS, and a multi-user test identity."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from emrws_testing.moto_servers import MotoHttp, client

pytest_plugins = ["pytest_jupyter.jupyter_server", "emrws_testing.compute_fixtures"]

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoHttp]:
    """moto as a threaded HTTP server (S3, EMR, STS, ...)."""
    server = MotoHttp(threaded=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_serial() -> Iterator[MotoHttp]:
    """moto single-threaded: conditional writes are atomic, as on S3 (lock-race tests)."""
    server = MotoHttp(threaded=False).start()
    yield server
    server.stop()


def make_bucket(url: str) -> str:
    name = f"studio-{uuid.uuid4().hex[:12]}"
    client(url, "s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def bucket(moto: MotoHttp) -> str:
    return make_bucket(moto.url)


@pytest.fixture
def studio_config(tmp_path: Path) -> dict[str, Any]:
    """The ``c.Studio`` settings of the in-process server; tests override keys."""
    return {"backup_uri": str(tmp_path / "store"), "id": "es-test"}


@pytest.fixture
def jp_server_config(studio_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_emr_workspace": True},
            "identity_provider_class": "emrws_testing.identity.HeaderIdentityProvider",
        },
        "Studio": {"audit_log_path": str(tmp_path / "audit.jsonl"), **studio_config},
    }


Api = Callable[..., Awaitable[Any]]


class Response:
    def __init__(self, code: int, body: bytes) -> None:
        self.code = code
        self.raw = body
        self.json: Any = json.loads(body) if body.strip() else None

    @property
    def error(self) -> dict[str, Any]:
        assert isinstance(self.json, dict) and "error" in self.json, self.raw[:500]
        return self.json["error"]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<Response {self.code} {self.raw[:300]!r}>"


@pytest.fixture
def api(jp_fetch: Any, jp_serverapp: Any) -> Api:
    """``await api("POST", "workspaces", body={...}, user="bob")`` → Response (any status)."""

    async def call(
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str = "alice",
        groups: str = "",
        raw: bytes | None = None,
        params: dict[str, str] | None = None,
        base: str = "emr-workspace/api",
    ) -> Response:
        headers = {"X-Test-User": user}
        if groups:
            headers["X-Test-Groups"] = groups
        payload: bytes | None = (
            raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        )
        if payload is None and method in {"POST", "PUT", "PATCH"}:
            payload = b""
        parts = [p for p in (base + "/" + path).split("/") if p]
        r = await jp_fetch(
            *parts,
            method=method,
            body=payload,
            headers=headers,
            params=params or {},
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        return Response(r.code, r.body)

    return call


@pytest.fixture
def services(jp_serverapp: Any) -> Any:
    return jp_serverapp.web_app.settings["emr_workspace"]
