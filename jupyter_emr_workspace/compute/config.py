"""Start-time checks of the ``# -- compute`` settings of ``c.Studio``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .execution_roles import validate_execution_roles
from .templates import parse_templates

SOURCES = ("emr-ec2", "emr-eks", "emr-serverless", "local")  # emr-serverless: issue 12


def effective_sources(studio: Any) -> list[str]:
    """All sources when the Studio has subnets (an AWS Studio), else only the local engine."""
    if studio.compute_sources is not None:
        return list(studio.compute_sources)
    return list(SOURCES) if studio.subnet_ids else ["local"]


def _check_url(url: Any, where: str) -> None:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{where}={url!r}: use an http(s)://host:port URL")


def validate_compute(studio: Any) -> None:
    """Raise ConfigError naming the first bad compute setting."""
    for source in studio.compute_sources or []:
        if source not in SOURCES:
            raise ConfigError(f"c.Studio.compute_sources: {source!r} is not one of {SOURCES}")
    for trait in ("livy_urls", "eks_livy_urls"):
        for key, url in getattr(studio, trait).items():
            _check_url(url, f"c.Studio.{trait}[{key!r}]")
    if studio.livy_auth == "Basic" and not studio.livy_username:
        raise ConfigError(
            "c.Studio.livy_auth='Basic' needs c.Studio.livy_username (and the "
            f"password in the environment variable {studio.livy_password_env})"
        )
    if studio.livy_auth == "Kerberos":
        try:  # importing, not finding: a build without its libkrb5 fails only at import
            import requests_kerberos  # noqa: F401
        except ImportError as e:
            raise ConfigError(
                "c.Studio.livy_auth='Kerberos' needs requests-kerberos, which "
                f"cannot be imported here ({e}): `pip install requests-kerberos` "
                "(and libkrb5-dev to build it)"
            ) from None
    if not 0.1 <= studio.livy_probe_timeout <= 60:
        raise ConfigError(
            f"c.Studio.livy_probe_timeout={studio.livy_probe_timeout}: between 0.1 and 60 seconds"
        )
    if studio.local_engine_idle_timeout < 0:
        raise ConfigError("c.Studio.local_engine_idle_timeout: 0 (never) or more seconds")
    if studio.local_engine_max_sessions < 0:
        raise ConfigError("c.Studio.local_engine_max_sessions: 0 (no cap) or more sessions")
    if studio.local_engine_max_output_chars < 1000:
        raise ConfigError("c.Studio.local_engine_max_output_chars: 1000 or more characters")
    parse_templates(list(studio.cluster_templates), list(studio.subnet_ids))
    validate_execution_roles(studio.execution_roles)  # issue 12
