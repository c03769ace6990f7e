"""A stand-in for an EMR Serverless Livy endpoint: checks each request's SigV4 signature as
AWS would (botocore recomputes it with the secret STS issued for the access key), refuses
unsigned, wrongly signed and expired requests with 403, and passes the rest to a Livy (the
embedded engine) with that Livy's own credentials.
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[^,]+), ?"
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Issued:
    """What STS knows of an access key."""

    secret: str
    token: str | None
    expires: float | None


def moto_sts_lookup(access_key: str) -> Issued | None:
    """The credentials moto's STS (in this process) issued with that access key id."""
    from moto.sts.models import sts_backends

    for account in list(sts_backends.keys()):
        for role in sts_backends[account]["global"].assumed_roles:
            if role.access_key_id == access_key:
                return Issued(
                    role.secret_access_key, role.session_token, role.expiration.timestamp()
                )
    return None


def moto_sts_expire(access_key: str) -> None:
    """Let STS consider these credentials expired (as an hour passing would)."""
    from moto.sts.models import sts_backends

    past = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(seconds=1)
    for account in list(sts_backends.keys()):
        for role in sts_backends[account]["global"].assumed_roles:
            if role.access_key_id == access_key:
                role.expiration = past


def verify(
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    lookup: Callable[[str], Issued | None],
    region: str,
    service: str = "emr-serverless",
) -> tuple[str | None, str]:
    """(access key, "") when the request is signed right, else (key or None, why not)."""
    lower = {k.lower(): v for k, v in headers.items()}
    match = AUTH_RE.match(lower.get("authorization", ""))
    if not match:
        return None, "MissingAuthenticationToken"
    key = match["key"]
    if match["region"] != region or match["service"] != service:
        return key, "InvalidSignatureException: wrong scope"
    issued = lookup(key)
    if issued is None:
        return key, "UnrecognizedClientException"
    if issued.token and lower.get("x-amz-security-token") != issued.token:
        return key, "InvalidSignatureException: security token"
    if issued.expires is not None and issued.expires <= time.time():
        return key, "ExpiredTokenException"
    stamp = lower.get("x-amz-date", "")
    try:
        when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return key, "InvalidSignatureException: X-Amz-Date"
    if abs(when.timestamp() - time.time()) > 300 or stamp[:8] != match["date"]:
        return key, "InvalidSignatureException: request time"
    signed = match["signed"].split(";")
    if "host" not in signed or any(h not in lower for h in signed):
        return key, "InvalidSignatureException: signed headers"
    request = AWSRequest(
        method=method,
        url=f"http://{lower['host']}{path}",
        data=body,
        headers={h: lower[h] for h in signed},
    )
    request.context["timestamp"] = stamp
    auth = SigV4Auth(Credentials(key, issued.secret, issued.token), service, region)
    expected = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    if expected != match["sig"]:
        return key, "InvalidSignatureException: signature does not match"
    return key, ""


class SigV4Proxy:
    def __init__(
        self,
        upstream: str,
        upstream_auth: tuple[str, str],
        lookup: Callable[[str], Issued | None],
        region: str = "us-east-1",
    ) -> None:
        owner = self
        #: (access key, "METHOD /path") of each accepted request
        self.accepted: list[tuple[str, str]] = []
        #: (why, "METHOD /path") of each refused request
        self.refused: list[tuple[str, str]] = []
        #: the JSON bodies of accepted POST /sessions
        self.session_requests: list[bytes] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                line = f"{self.command} {self.path}"
                key, why = verify(
                    self.command, self.path, dict(self.headers.items()), body, lookup, region
                )
                if why:
                    owner.refused.append((why, line))
                    self._answer(403, b'{"message": "%s"}' % why.encode())
                    return
                assert key is not None
                owner.accepted.append((key, line))
                if self.command == "POST" and self.path.rstrip("/") == "/sessions":
                    owner.session_requests.append(body)
                r = requests.request(
                    self.command,
                    upstream.rstrip("/") + self.path,
                    data=body or None,
                    headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
                    auth=upstream_auth,
                    timeout=60,
                )
                self._answer(r.status_code, r.content)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = do_PUT = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
