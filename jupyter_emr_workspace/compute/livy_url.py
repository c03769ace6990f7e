"""Where an EMR cluster's Livy listens, and whether this server can reach it.

Livy runs on the primary node: ``http://<private DNS>:8998`` unless the cluster's
``livy-conf`` classification moves the port, https when the endpoint speaks TLS (EMR's
in-transit encryption), and whatever the admin's resolver map says first (SSH tunnels,
proxies, tests). Probing is blocking socket work: callers run it in a thread.
"""

from __future__ import annotations

import os
import socket
import ssl
import warnings
from typing import Any
from urllib.parse import urlsplit

import urllib3

from ..errors import ApiError, ConfigError, UpstreamError
from .model import LivyEndpoint

DEFAULT_PORT = 8998
SPARKMAGIC_AUTH = {"None": "None", "Basic": "Basic_Access", "Kerberos": "Kerberos"}


def check_setting(url: Any, where: str) -> None:
    """Raise ConfigError unless ``url`` (the setting ``where``) is an http(s) URL with a host."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{where}={url!r}: use an http(s)://host:port URL")


def livy_port(configurations: list[dict[str, Any]] | None) -> int:
    """``livy.server.port`` from the ``livy-conf`` classification, else 8998."""
    for conf in configurations or []:
        if conf.get("Classification") == "livy-conf":
            port = (conf.get("Properties") or {}).get("livy.server.port")
            if port and str(port).isdigit():
                return int(port)
    return DEFAULT_PORT


def unreachable_hint(url: str, cluster_id: str | None, subnet_id: str | None) -> str:
    where = f"cluster {cluster_id}" if cluster_id else "the cluster"
    subnet = f" (subnet {subnet_id})" if subnet_id else ""
    return (
        f"Livy at {url} did not answer. Check that the security group of {where}'s primary "
        f"node allows inbound TCP {urlsplit(url).port or DEFAULT_PORT} from this server, that "
        f"{where}{subnet} is in one of the Studio's subnets and routable from here, and that "
        "the cluster runs the Livy application"
    )


def speaks_tls(host: str, port: int, timeout: float) -> bool:
    """True when a TLS handshake succeeds on host:port; raises OSError when nothing listens."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with context.wrap_socket(sock, server_hostname=host):
                return True
        except (ssl.SSLError, OSError):
            return False


def url_for_host(host: str, port: int, timeout: float) -> str:
    """``https://`` when the endpoint speaks TLS, else ``http://`` (blocking)."""
    scheme = "https" if speaks_tls(host, port, timeout) else "http"
    return f"{scheme}://{host}:{port}"


def probe(
    url: str, timeout: float, *, cluster_id: str | None = None, subnet_id: str | None = None
) -> None:
    """Raise UpstreamError with a hint unless Livy answers HTTP at ``url`` (blocking).

    Any HTTP status counts as reachable (401 means Livy wants credentials, which the
    kernels have); only a failed connection or a timeout does not.
    """
    http = urllib3.PoolManager(
        cert_reqs="CERT_NONE", retries=False, timeout=urllib3.Timeout(connect=timeout, read=timeout)
    )
    try:
        with warnings.catch_warnings():  # reachability only; kernels verify as configured
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            http.request("GET", url.rstrip("/") + "/sessions?size=1", preload_content=True)
    except urllib3.exceptions.HTTPError as e:
        raise UpstreamError(
            unreachable_hint(url, cluster_id, subnet_id) + f" ({type(e).__name__})",
            code="LivyUnreachable",
        ) from None
    finally:
        http.clear()


def emr_auth(auth: str, username: str, password_env: str, url: str) -> LivyEndpoint:
    """The Studio's Livy auth setting as a sparkmagic endpoint (password from the env)."""
    password = os.environ.get(password_env) if auth == "Basic" else None
    if auth == "Basic" and not password:
        raise ApiError(
            f"c.Studio.livy_auth is 'Basic' but the environment variable {password_env} that "
            "should hold the Livy password is not set on the Jupyter server; ask the admin",
            code="LivyCredentialsMissing",
        )
    return LivyEndpoint(
        url=url,
        auth=SPARKMAGIC_AUTH[auth],
        username=username or None if auth == "Basic" else None,
        password=password,
    )
