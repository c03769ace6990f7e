"""sparkmagic authenticators whose credentials the server keeps fresh in a file.

The server writes the Workspace's credentials (0600) next to its sparkmagic ``config.json``
and rewrites them before they expire (``compute/kernel_credentials.py``); these classes,
named in that config's ``authenticators``, read the file again whenever it changed, so a
kernel started hours ago signs with today's credentials and the user notices nothing.
Nothing here goes to the browser or into a notebook.

- `SigV4`: EMR Serverless Livy endpoints want every request signed with SigV4 (service
  ``emr-serverless``). It also makes each new Spark session run as the Workspace's execution
  role, and refuses (before anything is sent) a session asking for another one.
- `RuntimeRoleBasic`: Livy on EMR on EC2 with runtime roles takes Basic auth with the user
  and password of ``GetClusterSessionCredentials``, which expire.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sparkmagic.auth.customauth import Authenticator

from .credential_files import BASIC_FILE, EXECUTION_ROLE_CONF, SIGV4_FILE

CONF_DIR_ENV = "SPARKMAGIC_CONF_DIR"


def credentials_path(name: str) -> Path:
    """The file in this kernel's sparkmagic conf dir (set by the Workspace provisioner)."""
    base = os.environ.get(CONF_DIR_ENV) or os.path.expanduser("~/.sparkmagic")
    return Path(base) / name


class CredentialsFile:
    """A JSON file read again whenever its modification time or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._data: dict[str, Any] = {}

    def read(self) -> dict[str, Any]:
        with self._lock:
            try:
                st = os.stat(self.path)
            except OSError:
                raise PermissionError(
                    f"No credentials for this Workspace's cluster at {self.path}: reopen or "
                    "reattach the Workspace in the EMR Workspace panel, then restart the kernel"
                ) from None
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                self._data = json.loads(self.path.read_text(encoding="utf-8"))
                self._stamp = stamp
            return self._data


class _FileAuthenticator(Authenticator):
    FILE = ""

    def __init__(self, parsed_attributes: Any = None) -> None:
        Authenticator.__init__(self, parsed_attributes)
        self.credentials = CredentialsFile(credentials_path(self.FILE))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.url == getattr(other, "url", None)

    def __hash__(self) -> int:
        return hash((self.url, type(self).__name__))


class SigV4(_FileAuthenticator):
    """Signs each Livy request with SigV4 for the EMR Serverless Livy endpoint."""

    FILE = SIGV4_FILE

    def __call__(self, request: Any) -> Any:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        data = self.credentials.read()
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        role = data.get("execution_role_arn")
        if (
            role
            and request.method == "POST"
            and urlsplit(request.url).path.rstrip("/").endswith("/sessions")
        ):
            body = with_execution_role(body, role)
            request.body = body
            request.headers["Content-Length"] = str(len(body))
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        aws = AWSRequest(method=request.method, url=request.url, data=body, headers=headers)
        credentials = Credentials(
            data["AccessKeyId"], data["SecretAccessKey"], data.get("SessionToken")
        )
        SigV4Auth(credentials, data.get("service", "emr-serverless"), data["region"]).add_auth(aws)
        for key, value in aws.headers.items():
            request.headers[key] = value
        return request


def with_execution_role(body: bytes, role: str) -> bytes:
    """The session request with the Workspace's execution role; refuses another role."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return body
    if not isinstance(payload, dict):
        return body
    conf = payload.setdefault("conf", {})
    if not isinstance(conf, dict):
        return body
    asked = conf.get(EXECUTION_ROLE_CONF)
    if asked and asked != role:
        raise PermissionError(
            f"This Workspace's Spark runs as {role}; {asked} was asked for in the session "
            "settings. Choose the execution role when attaching in the EMR Workspace panel"
        )
    conf[EXECUTION_ROLE_CONF] = role
    return json.dumps(payload).encode("utf-8")


class RuntimeRoleBasic(_FileAuthenticator):
    """Basic auth with the runtime role's Livy user and password (renewed by the server)."""

    FILE = BASIC_FILE

    def __call__(self, request: Any) -> Any:
        from requests.auth import HTTPBasicAuth

        data = self.credentials.read()
        return HTTPBasicAuth(data["username"], data["password"])(request)
