"""How a Workspace's kernels authenticate to its Livy, in one place and without sparkmagic.

The kernels' authenticators (`aws_auth.py`, sparkmagic classes) and the server, which deletes
the sessions of a Workspace's kernels when it is detached or deleted (`session_cleanup.py`),
must send the same thing: a second copy would drift (it did: the server's cleanup signed
nothing for EMR Serverless and sent the empty password of ``config.json`` for runtime roles,
so AWS refused it and the sessions ran on). Each function takes the request's parts and
returns the headers to add (and the body, which SigV4 may rewrite).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .credential_files import (
    BASIC_FILE,
    EXECUTION_ROLE_CONF,
    RUNTIME_ROLE_AUTH,
    SIGV4_AUTH,
    SIGV4_FILE,
)


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


def sigv4(
    data: dict[str, Any], method: str, url: str, body: bytes, content_type: str
) -> tuple[dict[str, str], bytes]:
    """SigV4 for an EMR Serverless Livy endpoint with the credentials file's ``data``; a new
    session is made to run as the Workspace's execution role."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    role = data.get("execution_role_arn")
    if role and method == "POST" and urlsplit(url).path.rstrip("/").endswith("/sessions"):
        body = with_execution_role(body, role)
    aws = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": content_type})
    credentials = Credentials(
        data["AccessKeyId"], data["SecretAccessKey"], data.get("SessionToken")
    )
    SigV4Auth(credentials, data.get("service", "emr-serverless"), data["region"]).add_auth(aws)
    return dict(aws.headers.items()), body


def basic(username: str, password: str) -> dict[str, str]:
    """HTTP Basic, encoded as requests encodes it (latin-1)."""
    pair = f"{username}:{password}".encode("latin-1")
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


class LivyAuth:
    """What a Workspace's kernels send to its Livy: its sparkmagic credentials
    (``config.json``'s ``kernel_python_credentials``) and the files the server renews in
    ``conf_dir``. Kerberos is not here: only the kernel holds a ticket."""

    def __init__(self, credentials: dict[str, Any], conf_dir: Path) -> None:
        self.auth = str(credentials.get("auth") or "None")
        self.username = str(credentials.get("username") or "")
        self.password = str(credentials.get("password") or "")
        self.files = {
            SIGV4_AUTH: CredentialsFile(conf_dir / SIGV4_FILE),
            RUNTIME_ROLE_AUTH: CredentialsFile(conf_dir / BASIC_FILE),
        }

    def headers(
        self, method: str, url: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[dict[str, str], bytes]:
        """The headers to add to one request, and its body (PermissionError: the server holds
        no credentials for the kernels' authentication)."""
        if self.auth == SIGV4_AUTH:
            return sigv4(self.files[SIGV4_AUTH].read(), method, url, body, content_type)
        if self.auth == RUNTIME_ROLE_AUTH:
            data = self.files[RUNTIME_ROLE_AUTH].read()
            return basic(str(data["username"]), str(data["password"])), body
        if self.auth == "Basic_Access":
            return basic(self.username, self.password), body
        if self.auth == "None":
            return {}, body
        # Kerberos (or an authenticator of the admin's): the ticket is the kernel's alone,
        # so the server holds no credentials for it, as when a renewed file is missing
        raise PermissionError(f"no credentials for {self.auth} Livy authentication here")
