"""Every AWS client is built here, from one configuration.

Tests point everything at moto by setting one ``endpoint_url``; admins rely on boto3's
standard chain (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, profiles, IRSA) for
whatever they do not set. In IAM Identity Center mode, calls made for a user assume
the Studio's user role with that user's session policy.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config


@dataclass(frozen=True)
class AwsSettings:
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    service_role_arn: str | None = None
    user_role_arn: str | None = None
    max_pool_connections: int = 32
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 3


class AwsClients:
    """A thread-safe factory and cache of boto3 clients."""

    #: Refresh assumed-role credentials this long before they expire.
    _REFRESH_MARGIN = 300

    def __init__(self, settings: AwsSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[Any, ...], tuple[Any, float]] = {}

    @property
    def session(self) -> boto3.session.Session:
        with self._lock:
            if self._session is None:
                self._session = boto3.session.Session(
                    profile_name=self.settings.profile, region_name=self.settings.region
                )
            return self._session

    @property
    def region(self) -> str:
        return self.session.region_name or "us-east-1"

    def _config(self) -> botocore.config.Config:
        s = self.settings
        return botocore.config.Config(
            region_name=self.region,
            max_pool_connections=s.max_pool_connections,
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            retries={"mode": "standard", "max_attempts": s.max_attempts},
        )

    def client(
        self,
        service: str,
        *,
        role_arn: str | None = None,
        session_policy: dict[str, Any] | None = None,
        session_name: str = "jupyter-emr-workspace",
    ) -> Any:
        """A client for ``service``; with ``role_arn``, one that acts as that role
        (narrowed by ``session_policy``) with credentials refreshed before expiry."""
        policy_json = json.dumps(session_policy, sort_keys=True) if session_policy else None
        policy_hash = hashlib.sha256(policy_json.encode()).hexdigest() if policy_json else None
        key = (service, role_arn, policy_hash, session_name)
        now = time.monotonic()
        with self._lock:
            cached = self._clients.get(key)
            if cached and cached[1] > now:
                return cached[0]
        kwargs: dict[str, Any] = {"config": self._config()}
        if self.settings.endpoint_url:
            kwargs["endpoint_url"] = self.settings.endpoint_url
        expires = float("inf")
        if role_arn:
            creds = self._assume(role_arn, policy_json, session_name)
            kwargs.update(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            remaining = creds["Expiration"].timestamp() - time.time()
            expires = now + max(remaining - self._REFRESH_MARGIN, 60)
        session: Any = self.session  # boto3-stubs' overloads want a literal service name
        client = session.client(service, **kwargs)
        with self._lock:
            self._clients[key] = (client, expires)
        return client

    def _assume(self, role_arn: str, policy_json: str | None, session_name: str) -> Any:
        sts = self.client("sts")
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": _session_name(session_name),
        }
        if policy_json:
            params["Policy"] = policy_json
        return sts.assume_role(**params)["Credentials"]

    def service_client(self, service: str) -> Any:
        """A client acting as the Studio's service role when one is configured."""
        return self.client(service, role_arn=self.settings.service_role_arn)


def _session_name(name: str) -> str:
    """STS session names allow ``[\\w+=,.@-]{2,64}``."""
    cleaned = "".join(c if c.isalnum() or c in "+=,.@-_" else "-" for c in name)
    return (cleaned or "user").ljust(2, "-")[:64]
