"""sparkmagic authenticators whose credentials the server keeps fresh in a file.

The server writes the Workspace's credentials (0600) next to its sparkmagic ``config.json``
and rewrites them before they expire (``compute/kernel_credentials.py``); these classes,
named in that config's ``authenticators``, read the file again whenever it changed, so a
kernel started hours ago signs with today's credentials and the user notices nothing.
Nothing here goes to the browser or into a notebook. What is sent is `livy_auth.py`'s, which
the server's session cleanup sends too.

- `SigV4`: EMR Serverless Livy endpoints want every request signed with SigV4 (service
  ``emr-serverless``). It also makes each new Spark session run as the Workspace's execution
  role, and refuses (before anything is sent) a session asking for another one.
- `RuntimeRoleBasic`: Livy on EMR on EC2 with runtime roles takes Basic auth with the user
  and password of ``GetClusterSessionCredentials``, which expire.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sparkmagic.auth.customauth import Authenticator

from .credential_files import BASIC_FILE, SIGV4_FILE
from .livy_auth import CredentialsFile, basic, sigv4, with_execution_role

__all__ = ["CredentialsFile", "RuntimeRoleBasic", "SigV4", "with_execution_role"]

CONF_DIR_ENV = "SPARKMAGIC_CONF_DIR"


def credentials_path(name: str) -> Path:
    """The file in this kernel's sparkmagic conf dir (set by the Workspace provisioner)."""
    base = os.environ.get(CONF_DIR_ENV) or os.path.expanduser("~/.sparkmagic")
    return Path(base) / name


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
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        content_type = request.headers.get("Content-Type", "application/json")
        headers, signed = sigv4(
            self.credentials.read(), request.method, request.url, body, content_type
        )
        if signed is not body:  # the Workspace's execution role was added
            request.body = signed
            request.headers["Content-Length"] = str(len(signed))
        for key, value in headers.items():
            request.headers[key] = value
        return request


class RuntimeRoleBasic(_FileAuthenticator):
    """Basic auth with the runtime role's Livy user and password (renewed by the server)."""

    FILE = BASIC_FILE

    def __call__(self, request: Any) -> Any:
        data = self.credentials.read()
        request.headers.update(basic(str(data["username"]), str(data["password"])))
        return request
