"""A Workspace's sparkmagic `config.json`, with settings that spare users sparkmagic's pains.

sparkmagic's defaults fit a small test cluster: a 60 s session start (EMR on YARN often needs
more), logs in `~/.sparkmagic/logs`, a generic error hint. Here: 180 s, heartbeats on (so
Livy reaps sessions of dead kernels, and a vanished session is noticed), a retry policy that
rides out a Livy restart, logs next to the config, and hints that name the Workspace panel.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .credential_files import AUTHENTICATORS, SPARKMAGIC_AUTHENTICATORS

# EMRWorkspace_*: authenticators reading credentials the server renews (kernels/aws_auth.py)
AUTH_TYPES = ("None", "Kerberos", "Basic_Access", *AUTHENTICATORS)
SESSION_KEYS = frozenset(
    {
        "driverMemory",
        "driverCores",
        "executorMemory",
        "executorCores",
        "numExecutors",
        "conf",
        "jars",
        "pyFiles",
        "files",
        "archives",
        "queue",
        "name",
        "proxyUser",
    }
)
STARTUP_TIMEOUT_SECONDS = 180
#: how long Livy keeps a session no kernel heartbeats for (a dead kernel, a stopped server)
GRACE_SECONDS = 300
MAX_ROWS = 2500  # sparkmagic's own default for -o and %%sql
#: a Workspace's settings for its kernels (attach body `kernels`), with their defaults
KERNEL_SETTINGS: dict[str, Any] = {
    "start_session_early": True,
    "session_start_timeout": STARTUP_TIMEOUT_SECONDS,
    "max_rows": MAX_ROWS,
    "session_grace_period": GRACE_SECONDS,
}


def validate_kernel_settings(raw: Any, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Workspace's kernel settings over ``defaults``; ValueError says what is wrong."""
    out = {**KERNEL_SETTINGS, **(defaults or {})}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        raise ValueError("kernels must be an object of kernel settings")
    unknown = sorted(set(raw) - set(KERNEL_SETTINGS))
    if unknown:
        raise ValueError(f"kernels: unknown settings {unknown}; allowed: {sorted(KERNEL_SETTINGS)}")
    if "start_session_early" in raw:
        if not isinstance(raw["start_session_early"], bool):
            raise ValueError("kernels.start_session_early must be true or false")
        out["start_session_early"] = raw["start_session_early"]
    bounds = {
        "session_start_timeout": (10, 3600, "seconds from 10 to 3600"),
        "session_grace_period": (30, 86400, "seconds from 30 to 86400"),
        "max_rows": (-1, 10_000_000, "rows from 1 to 10000000, or -1 for all"),
    }
    for key, (low, high, what) in bounds.items():
        if key in raw:
            value = raw[key]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not low <= value <= high
                or value == 0
            ):
                raise ValueError(f"kernels.{key} must be a whole number of {what}")
            out[key] = value
    return out


FATAL_ERROR_SUGGESTION = """The code failed because of a fatal error:
\t{}.

Some things to try:
a) Check in the EMR Workspace panel that the Workspace is attached to a running cluster
   (reattach it if the cluster was restarted or replaced).
b) Make sure the cluster has enough free resources to start a Spark application.
c) Restart the kernel: that starts a new Spark session."""


def _credentials(url: str, auth: str, username: str | None, password: str | None) -> dict[str, str]:
    return {"url": url, "auth": auth, "username": username or "", "password": password or ""}


def build_sparkmagic_config(
    livy_url: str,
    auth: str = "None",
    username: str | None = None,
    password: str | None = None,
    session_settings: dict[str, Any] | None = None,
    log_dir: Path | None = None,
    kernel_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The config as a dict (see `write_sparkmagic_config`)."""
    kernels = {**KERNEL_SETTINGS, **(kernel_settings or {})}
    if auth not in AUTH_TYPES:
        raise ValueError(f"auth must be one of {', '.join(AUTH_TYPES)}, not {auth!r}")
    if auth == "Basic_Access" and not (username and password):
        raise ValueError("Basic_Access auth needs a username and a password")
    if not livy_url.startswith(("http://", "https://")):
        raise ValueError(f"livy_url must be an http(s) URL, not {livy_url!r}")
    settings = dict(session_settings or {})
    unknown = sorted(set(settings) - SESSION_KEYS)
    if unknown:
        raise ValueError(
            f"unknown Livy session settings {unknown}; allowed: {', '.join(sorted(SESSION_KEYS))}"
        )
    if "conf" in settings and not isinstance(settings["conf"], dict):
        raise ValueError("session_settings['conf'] must be a dict of Spark settings")
    creds = _credentials(livy_url.rstrip("/"), auth, username, password)
    handler: dict[str, Any] = {"class": "logging.NullHandler"}
    if log_dir is not None:  # one file per kernel process, never in the notebook's folder
        handler = {
            "class": "hdijupyterutils.filehandler.MagicsFileHandler",
            "formatter": "magicsFormatter",
            "home_path": str(log_dir),
        }
    return {
        "kernel_python_credentials": creds,
        "kernel_scala_credentials": dict(creds),
        "kernel_r_credentials": dict(creds),
        "session_configs": settings,
        "authenticators": {**SPARKMAGIC_AUTHENTICATORS, **AUTHENTICATORS},
        "livy_session_startup_timeout_seconds": kernels["session_start_timeout"],
        "wait_for_idle_timeout_seconds": 30,
        "default_maxrows": kernels["max_rows"],
        # > 0 turns sparkmagic's heartbeat thread on (its `should_heartbeat`; it beats from
        # its own thread, so a statement that runs for hours keeps it alive) and asks Livy
        # to stop the session when no kernel beats for this long: a dead kernel's session
        # waits that long for the next kernel of its notebook to reattach.
        "livy_server_heartbeat_timeout_seconds": kernels["session_grace_period"],
        "heartbeat_refresh_seconds": 30,
        "heartbeat_retry_seconds": 10,
        "retry_policy": "configurable",
        "retry_seconds_to_sleep_list": [0.2, 0.5, 1, 3, 5],
        "configurable_retry_policy_max_retries": 8,
        "cleanup_all_sessions_on_exit": True,
        "fatal_error_suggestion": FATAL_ERROR_SUGGESTION,
        "logging_config": {
            "version": 1,
            # sparkmagic applies this with dictConfig on every logger it makes; the default
            # (True) would silence the kernel's own loggers.
            "disable_existing_loggers": False,
            "formatters": {
                "magicsFormatter": {
                    "format": "%(asctime)s\t%(levelname)s\t%(message)s",
                    "datefmt": "",
                }
            },
            "handlers": {"magicsHandler": handler},
            "loggers": {
                "magicsLogger": {"handlers": ["magicsHandler"], "level": "INFO", "propagate": 0}
            },
        },
    }


def write_sparkmagic_config(
    conf_dir: Path,
    livy_url: str,
    auth: str = "None",
    username: str | None = None,
    password: str | None = None,
    session_settings: dict[str, Any] | None = None,
    kernel_settings: dict[str, Any] | None = None,
) -> Path:
    """Write `<conf_dir>/config.json` atomically and return its path.

    `auth` is sparkmagic's: "None", "Kerberos" (needs requests-kerberos) or "Basic_Access"
    (Livy behind LDAP, or the embedded engine's token). `session_settings` become
    `session_configs` (driverMemory, executorMemory, executorCores, conf, ...). Logs go to
    `<conf_dir>/logs`. The file is 0600 when it holds a password, so only the user reads it.
    """
    conf_dir = Path(conf_dir)
    conf_dir.mkdir(parents=True, exist_ok=True)
    config = build_sparkmagic_config(
        livy_url,
        auth,
        username,
        password,
        session_settings,
        log_dir=conf_dir,
        kernel_settings=kernel_settings,
    )
    target = conf_dir / "config.json"
    fd, tmp = tempfile.mkstemp(dir=conf_dir, prefix=".config-", suffix=".json")
    try:
        os.chmod(tmp, 0o600 if password else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target
