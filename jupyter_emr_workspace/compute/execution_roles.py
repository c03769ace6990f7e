"""Execution roles: which IAM roles a user may run a Workspace's Spark as.

EMR Serverless runs every interactive session as an execution role; EMR on EC2 may (runtime
roles), so that two users on one cluster act with different data permissions. The admin
offers roles per principal in ``c.Studio.execution_roles`` (like assignments; ``"*"`` for
every user), and IAM's own rules decide among them with the user's policies: ``iam:PassRole``
on the role (``iam:PassedToService`` names the service), and for EC2
``elasticmapreduce:GetClusterSessionCredentials`` on the cluster with the
``elasticmapreduce:ExecutionRoleArn`` condition key. A refusal names the role and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import actions
from ..assignments import AccessControl
from ..errors import BadRequest, ConfigError, Forbidden
from ..events import AuditLog
from ..iam_policy import Decision, Request, evaluate
from ..studio import PRINCIPAL_RE, ROLE_ARN_RE, Identity, Studio

#: the service each source passes the role to (``iam:PassedToService``)
PASSED_TO = {
    "emr-serverless": "emr-serverless.amazonaws.com",
    "emr-ec2": "elasticmapreduce.amazonaws.com",
}
EVERYONE = "*"


def validate_execution_roles(value: Any) -> None:
    """``c.Studio.execution_roles``: principal ('user:NAME', 'group:NAME', '*') → role ARNs."""
    where = "c.Studio.execution_roles"
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a dict of principal → list of role ARNs")
    for principal, roles in value.items():
        if principal != EVERYONE and not (
            isinstance(principal, str) and PRINCIPAL_RE.match(principal)
        ):
            raise ConfigError(f"{where}: {principal!r} is not 'user:NAME', 'group:NAME' or '*'")
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list | tuple):
            raise ConfigError(f"{where}[{principal!r}] must be a list of IAM role ARNs")
        for role in roles:
            if not isinstance(role, str) or not ROLE_ARN_RE.match(role):
                raise ConfigError(f"{where}[{principal!r}]: {role!r} is not an IAM role ARN")


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


class ExecutionRoles:
    def __init__(self, studio: Studio, access: AccessControl, audit: AuditLog) -> None:
        self.studio, self.access, self.audit = studio, access, audit

    def offered(self, identity: Identity) -> list[str]:
        """Roles the configuration offers ``identity`` (its user, its groups and '*')."""
        out: list[str] = []
        for principal in (EVERYONE, *identity.principals):
            roles = self.studio.execution_roles.get(principal) or []
            for role in [roles] if isinstance(roles, str) else roles:
                if role not in out:
                    out.append(role)
        return out

    async def decide(
        self, identity: Identity, action: str, resource: str, extra: dict[str, Any]
    ) -> Decision:
        """AccessControl.decide with condition keys of the request (role, target service)."""
        if not await self.access.is_member(identity):
            return Decision.IMPLICIT_DENY
        names = await self.access.assigned_policies(identity)
        if names is None:
            return Decision.ALLOW
        ctx = {**self.access.context(identity), **extra}
        docs = [self.studio.policies[n] for n in names]
        return evaluate(docs, Request(action=action, resource=resource, context=ctx))

    def _checks(self, source_type: str, role: str, target_arn: str) -> list[tuple[str, str]]:
        checks = [(actions.PASS_ROLE, role)]
        if source_type == "emr-ec2":
            checks.append((actions.GET_CLUSTER_SESSION_CREDENTIALS, target_arn))
        return checks

    def _context(self, source_type: str, role: str) -> dict[str, Any]:
        return {
            actions.EXECUTION_ROLE_KEY: role,
            actions.PASSED_TO_SERVICE_KEY: PASSED_TO.get(source_type, ""),
        }

    async def refusal(
        self, identity: Identity, source_type: str, role: str, target_arn: str
    ) -> tuple[str, str] | None:
        """(action, why) when ``identity`` may not run ``target_arn``'s Spark as ``role``."""
        if role not in self.offered(identity):
            return (
                actions.PASS_ROLE,
                f"execution role {role} is not one of the roles offered to {identity.name} "
                "(c.Studio.execution_roles)",
            )
        ctx = self._context(source_type, role)
        for action, resource in self._checks(source_type, role, target_arn):
            decision = await self.decide(identity, action, resource, ctx)
            if not decision.allowed:
                why = (
                    "an explicit deny"
                    if decision is Decision.EXPLICIT_DENY
                    else "no policy allows it"
                )
                return action, (
                    f"{identity.name} may not use execution role {role}: {action} on {resource} "
                    f"is refused ({why}); ask your Studio admin for a policy that allows it"
                )
        return None

    async def require(
        self, identity: Identity, source_type: str, role: str, target_arn: str
    ) -> None:
        """Raise Forbidden naming the role (and record the denial) unless it may be used."""
        refused = await self.refusal(identity, source_type, role, target_arn)
        details = {"execution_role_arn": role, "type": source_type, "cluster_arn": target_arn}
        if refused is not None:
            action, message = refused
            self.audit.record(
                identity, action, role, "denied", error_code="AccessDenied", details=details
            )
            raise Forbidden(message, code="ExecutionRoleRefused", execution_role_arn=role)
        self.audit.record(identity, actions.PASS_ROLE, role, "success", details=details)

    async def choices(self, identity: Identity, source_type: str) -> list[dict[str, Any]]:
        """The offered roles ``identity`` may pass to ``source_type`` (PassRole only: the
        cluster-specific checks run on attach)."""
        if source_type not in PASSED_TO:
            raise BadRequest(f"type must be one of {sorted(PASSED_TO)}, not {source_type!r}")
        out = []
        for role in self.offered(identity):
            decision = await self.decide(
                identity, actions.PASS_ROLE, role, self._context(source_type, role)
            )
            if decision.allowed:
                out.append({"arn": role, "name": role_name(role)})
        return out
