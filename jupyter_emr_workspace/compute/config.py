"""Start-time checks of the ``# -- compute`` settings of ``c.Studio``."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from . import sources
from .execution_roles import validate_execution_roles
from .livy_url import check_setting
from .templates import parse_templates


def effective_sources(studio: Any) -> list[str]:
    """``c.Studio.compute_sources`` if set; else every registered source when the Studio has
    subnets (an AWS Studio), and otherwise those that need no AWS account."""
    if studio.compute_sources is not None:
        return list(studio.compute_sources)
    return [s.type for s in sources.SOURCES if studio.subnet_ids or not s.needs_aws]


def validate_compute(studio: Any) -> None:
    """Raise ConfigError naming the first bad compute setting."""
    known = tuple(sources.by_type())
    for source in studio.compute_sources or []:
        if source not in known:
            raise ConfigError(f"c.Studio.compute_sources: {source!r} is not one of {known}")
    for key, url in studio.livy_urls.items():
        check_setting(url, f"c.Studio.livy_urls[{key!r}]")
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
    for spec in sources.SOURCES:  # every source's, configured or not: a typo is still a typo
        if spec.validate is not None:
            spec.validate(studio)
    parse_templates(list(studio.cluster_templates), list(studio.subnet_ids))
    validate_execution_roles(studio.execution_roles)
