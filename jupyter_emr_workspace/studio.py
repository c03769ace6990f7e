"""The Studio: one team's configuration (``c.Studio.*``), and who is calling.

Everything here is read at start and validated, so a typo stops the server with a
message that names the setting instead of failing on the first request.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from traitlets import Dict, Enum, Float, Int, List, Unicode, Union, default
from traitlets.config import LoggingConfigurable

from .aws import AwsSettings
from .compute.settings import ComputeSettings
from .errors import ConfigError
from .executions.settings import ExecutionSettings

STUDIO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SUBNET_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}\Z")
PRINCIPAL_RE = re.compile(r"^(user|group):.+$")


def default_backup_dir() -> str:
    return os.path.join(jupyter_data_dir(), "emr-workspace", "backups")


class Studio(ComputeSettings, ExecutionSettings, LoggingConfigurable):  # type: ignore[misc,valid-type]
    """Admin configuration of the Studio this server belongs to.

    The compute and executions settings are declared beside their code
    (``ComputeSettings``, ``ExecutionSettings``) and are ``c.Studio`` settings like the rest.
    """

    id = Unicode(
        "es-default", config=True, help="Studio id; Workspaces are visible within it only."
    )
    name = Unicode("EMR Studio", config=True, help="Display name.")
    description = Unicode("", config=True)
    backup_uri = Unicode(
        "",
        config=True,
        help="Where Workspaces and their notebook backups live: s3://bucket/prefix or a "
        "local folder (any store of store/__init__.py's BACKENDS). Default: a folder under "
        "the Jupyter data dir.",
    )
    subnet_ids = List(Unicode(), config=True, help="Subnets whose EMR clusters may be attached.")
    auth_mode = Enum(["IAM", "IDENTITY_CENTER"], "IAM", config=True)
    policies = Dict(config=True, help="Policy name → IAM-syntax policy document.")
    assignments = Dict(
        config=True,
        help="Principal ('user:NAME' or 'group:NAME') → policy name or list of names.",
    )
    groups = Dict(config=True, help="User → list of groups, for servers outside JupyterHub.")
    lease_seconds = Int(90, config=True, help="Lease time of a Workspace lock.")
    listing_max_age = Int(
        120,
        config=True,
        help=(
            "Seconds the panel's list may reuse what this server last listed of other "
            "servers' changes: Workspaces are listed again when older than this, lock "
            "states when older than half of it or when a lease shown may have run out. "
            "This server's own changes show at once. 0: list the store on every refresh."
        ),
    )
    autosave_interval = Int(30, config=True, help="Seconds between background backups.")
    # -- storage
    checkpoints_per_file = Int(
        5, config=True, help="Checkpoints kept per file in the backup location (oldest dropped)."
    )
    backup_concurrency = Int(8, config=True, help="Backup uploads in flight at once, per server.")
    restore_concurrency = Int(
        16, config=True, help="Downloads in flight at once when a Workspace is restored."
    )
    backup_max_backoff = Float(
        300.0, config=True, help="Longest wait (s) between retries of a failing backup."
    )
    flush_timeout = Float(
        20.0, config=True, help="Seconds a close or shutdown waits for pending backups."
    )
    storage_state_dir = Unicode(
        "",
        config=True,
        help="Local folder for the backup manifest and the pending set (survives crashes). "
        "Default: emr-workspace/storage under the Jupyter data dir.",
    )
    # -- end storage
    workspaces_dir = Unicode(
        "workspaces", config=True, help="Folder (relative to the server root) for Workspaces."
    )
    account_id = Unicode("000000000000", config=True, help="AWS account id used in ARNs.")
    region = Unicode(None, allow_none=True, config=True, help="AWS region (boto3 default chain).")
    endpoint_url = Unicode(
        None, allow_none=True, config=True, help="AWS endpoint URL (e.g. a local S3/moto)."
    )
    aws_profile = Unicode(None, allow_none=True, config=True)
    service_role_arn = Unicode(None, allow_none=True, config=True)
    user_role_arn = Unicode(
        None, allow_none=True, config=True, help="Role assumed for users in IDENTITY_CENTER mode."
    )
    audit_log_path = Unicode(
        "", config=True, help="JSON-lines audit log file. Default: under the Jupyter data dir."
    )
    max_body_bytes = Int(1024 * 1024, config=True, help="Largest JSON body the API accepts.")
    request_timeout = Float(30.0, config=True)
    session_mapping_ttl = Float(
        15.0, config=True, help="Seconds a server trusts its copy of the session mappings."
    )
    tags = Dict(Union([Unicode()]), config=True, help="Tags of the Studio itself.")
    local_user_name = Unicode(
        config=True,
        help="Name for jupyter_server's anonymous token users (a single-user laptop server), "
        "so locks and audit events carry a stable name. Default: the OS user. Empty: keep "
        "jupyter_server's random name.",
    )
    server_owner = Unicode(
        "",
        config=True,
        help="The only user who may use terminals on this server (a shell can change any "
        "Workspace without its lease). Default: JUPYTERHUB_USER under JupyterHub, else "
        "local_user_name. See docs/security.md.",
    )

    # -- compute: compute/settings.py (shared) and each source's module (its own)
    # -- executions: executions/settings.py

    @default("local_user_name")
    def _default_local_user_name(self) -> str:
        try:
            return getpass.getuser()
        except Exception:
            return "jupyter"

    @property
    def resolved_backup_uri(self) -> str:
        return self.backup_uri or default_backup_dir()

    @property
    def heartbeat_seconds(self) -> int:
        return max(1, self.lease_seconds // 3)

    def aws_settings(self) -> AwsSettings:
        return AwsSettings(
            region=self.region,
            endpoint_url=self.endpoint_url,
            profile=self.aws_profile,
            service_role_arn=self.service_role_arn,
            user_role_arn=self.user_role_arn,
        )

    def validate(self) -> None:
        """Raise ConfigError naming the first bad ``c.Studio.*`` setting."""
        from .iam_policy import PolicyError, validate_policy

        if not STUDIO_ID_RE.match(self.id):
            raise ConfigError(f"c.Studio.id={self.id!r}: letters, digits, '-' and '_', 1-64")
        uri = self.resolved_backup_uri
        from .store import check_uri  # the backends' table: store/__init__.py

        try:
            check_uri(uri)
        except ValueError as e:
            raise ConfigError(f"c.Studio.backup_uri={uri!r}: {e}") from None
        for subnet in self.subnet_ids:
            if not SUBNET_RE.match(subnet):
                raise ConfigError(f"c.Studio.subnet_ids: {subnet!r} is not a subnet id")
        if self.lease_seconds < 10:
            raise ConfigError(f"c.Studio.lease_seconds={self.lease_seconds}: at least 10")
        if self.listing_max_age < 0:
            raise ConfigError(f"c.Studio.listing_max_age={self.listing_max_age}: at least 0")
        if self.autosave_interval < 1:
            raise ConfigError(f"c.Studio.autosave_interval={self.autosave_interval}: at least 1")
        for trait in ("service_role_arn", "user_role_arn"):
            value = getattr(self, trait)
            if value and not ROLE_ARN_RE.match(value):
                raise ConfigError(f"c.Studio.{trait}={value!r} is not an IAM role ARN")
        if self.auth_mode == "IDENTITY_CENTER" and not self.assignments:
            raise ConfigError(
                "c.Studio.assignments is empty but c.Studio.auth_mode='IDENTITY_CENTER': "
                "assign at least one user or group"
            )
        from .folders import normalise_workspaces_dir

        try:
            # one spelling: the lock compares paths with it ("./workspaces" is "workspaces")
            self.workspaces_dir = normalise_workspaces_dir(self.workspaces_dir)
        except ValueError as e:
            raise ConfigError(f"c.Studio.workspaces_dir={self.workspaces_dir!r}: {e}") from None
        for name, doc in self.policies.items():
            try:
                validate_policy(doc)
            except PolicyError as e:
                raise ConfigError(f"c.Studio.policies[{name!r}]: {e}") from None
        check_assignments(self.assignments, self.policies, "c.Studio.assignments")
        for user, groups in self.groups.items():
            if not isinstance(groups, list | tuple) or not all(isinstance(g, str) for g in groups):
                raise ConfigError(f"c.Studio.groups[{user!r}] must be a list of group names")
        from .compute.config import validate_compute

        validate_compute(self)
        self.validate_executions()


def check_assignments(assignments: Any, policies: dict[str, Any], where: str) -> None:
    """Assignments map principals to known policy names."""
    if not isinstance(assignments, dict):
        raise ConfigError(f"{where} must be a dict of principal → policy names")
    for principal, names in assignments.items():
        if not isinstance(principal, str) or not PRINCIPAL_RE.match(principal):
            raise ConfigError(f"{where}: {principal!r} is not 'user:NAME' or 'group:NAME'")
        for policy_name in policy_names(names):
            if policy_name not in policies:
                raise ConfigError(
                    f"{where}[{principal!r}] names policy {policy_name!r}, which is not in "
                    "c.Studio.policies"
                )


def policy_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"expected a policy name or a list of them, got {value!r}")


@dataclass(frozen=True)
class Identity:
    """The caller: a Jupyter user name and the groups they belong to."""

    name: str
    groups: tuple[str, ...] = ()
    display_name: str = ""
    source_ip: str | None = field(default=None, compare=False)

    @property
    def principals(self) -> list[str]:
        return [f"user:{self.name}", *(f"group:{g}" for g in self.groups)]


def _is_anonymous(user: Any) -> bool:
    """jupyter_server's token login names users 'Anonymous <moon>' with a random id."""
    return bool(re.fullmatch(r"[0-9a-f]{32}", getattr(user, "username", "") or "")) and str(
        getattr(user, "name", "")
    ).startswith("Anonymous ")


def identity_from_user(user: Any, studio: Studio, source_ip: str | None = None) -> Identity:
    """Build an Identity from jupyter_server's ``current_user``.

    Under JupyterHub the single-user server's user carries ``hub_user`` with the hub's
    groups; elsewhere groups come from ``c.Studio.groups``.
    """
    name = getattr(user, "username", None) or getattr(user, "name", None) or str(user)
    if studio.local_user_name and _is_anonymous(user):
        name = studio.local_user_name
    hub_user = getattr(user, "hub_user", None)
    groups: list[str] = []
    if isinstance(hub_user, dict):
        name = hub_user.get("name") or name
        groups = list(hub_user.get("groups") or [])
    groups += [g for g in studio.groups.get(name, []) if g not in groups]
    return Identity(
        name=name,
        groups=tuple(groups),
        display_name=getattr(user, "display_name", "") or name,
        source_ip=source_ip,
    )
