"""What attaching with an execution role adds to an attach: the role check, starting a
stopped EMR Serverless application, the session's execution role, and the kernels' renewed
credentials (SigV4 for Serverless, GetClusterSessionCredentials' Livy user for EC2).

ComputeService calls it around a source's resolve (attach, reopen) and when a Workspace's
kernels lose their cluster (detach, close, delete). It is not a source: the role applies to
EMR on EC2 as much as to EMR Serverless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from .. import actions
from ..assignments import AccessControl
from ..aws import AwsClients, _session_name
from ..errors import BadRequest, UpstreamError
from ..kernels.credential_files import (
    BASIC_FILE,
    EXECUTION_ROLE_CONF,
    RUNTIME_ROLE_AUTH,
    SIGV4_FILE,
)
from ..permission_checks import Guard
from ..studio import ROLE_ARN_RE, Identity, Studio
from .execution_roles import ExecutionRoles
from .kernel_credentials import KernelCredentials, epoch
from .model import ClientFactory, Cluster, ClusterSource, LivyEndpoint
from .sources.emr_serverless import STARTABLE_STATES, EmrServerlessSource

SERVERLESS = "emr-serverless"
EC2 = "emr-ec2"
log = logging.getLogger(__name__)


class RoleAttach:
    def __init__(
        self,
        studio: Studio,
        aws: AwsClients,
        access: AccessControl,
        guard: Guard,
        clients: ClientFactory,
        conf_dir: Callable[[str], Path],
    ) -> None:
        self.studio, self.aws, self.access, self.guard = studio, aws, access, guard
        self.clients, self.conf_dir = clients, conf_dir
        self.roles = ExecutionRoles(studio, access, guard.audit)
        self.credentials = KernelCredentials()

    # -- which roles -------------------------------------------------------------------------
    async def choices(self, identity: Identity, source_type: str) -> list[dict[str, Any]]:
        """The offered roles ``identity`` may pass to ``source_type`` (for the panel)."""
        return await self.roles.choices(identity, source_type)

    async def require(
        self, identity: Identity, source_type: str, role: str, target_arn: str
    ) -> None:
        """Forbidden naming the role unless ``identity`` may run ``target_arn``'s Spark as it."""
        await self.roles.require(identity, source_type, role, target_arn)

    # -- before resolving ------------------------------------------------------------------
    async def check(
        self,
        identity: Identity,
        source: ClusterSource,
        cluster_id: str,
        role: Any,
        session: dict[str, Any],
    ) -> str | None:
        """The execution role of this attach, checked; BadRequest/Forbidden naming it."""
        if EXECUTION_ROLE_CONF in (session.get("conf") or {}):
            raise BadRequest(
                f"session.conf may not set {EXECUTION_ROLE_CONF}: choose the role with "
                "execution_role_arn, so that it is checked"
            )
        if source.type == SERVERLESS:
            # attach reads the application as the user, and the kernels will call its Livy
            # endpoint as the user: both before anything starts
            for action in (actions.ACCESS_LIVY_ENDPOINTS, actions.GET_APPLICATION):
                await self.guard.require(
                    identity,
                    action,
                    source.arn(cluster_id),
                    details={"application_id": cluster_id[:128]},
                )
        if role is None:
            if source.type == SERVERLESS:
                offered = await self.roles.choices(identity, SERVERLESS)
                raise BadRequest(
                    "EMR Serverless runs Spark as an execution role: give execution_role_arn, "
                    + (
                        f"one of {[r['arn'] for r in offered]}"
                        if offered
                        else "but no role is offered to you (c.Studio.execution_roles); "
                        "ask your Studio admin"
                    ),
                    code="ExecutionRoleRequired",
                )
            return None
        if not isinstance(role, str) or not ROLE_ARN_RE.match(role):
            raise BadRequest(f"execution_role_arn: {str(role)[:200]!r} is not an IAM role ARN")
        if source.type not in (SERVERLESS, EC2):
            raise BadRequest(
                f"{source.type} takes no execution role; EMR Serverless and EMR on EC2 "
                "(runtime roles, EMR 6.11+) do"
            )
        await self.roles.require(identity, source.type, role, source.arn(cluster_id))
        return role

    # -- after resolving -------------------------------------------------------------------
    async def start_if_stopped(
        self, identity: Identity, source: ClusterSource, cluster: Cluster
    ) -> dict[str, Any]:
        """StartApplication for a CREATED or STOPPED application (when the user may); the
        panel follows its state to STARTED in the cluster list."""
        if not isinstance(source, EmrServerlessSource) or cluster.state not in STARTABLE_STATES:
            return {}
        arn = source.arn(cluster.id)
        async with self.guard.action(
            identity, actions.START_APPLICATION, arn, details={"application_id": cluster.id}
        ) as facts:
            client = await self.clients(identity, SERVERLESS)
            state = await asyncio.to_thread(source.start, client, cluster.id)
            facts["state"] = state
        cluster.state = state
        return {"application_state": state, "started": True}

    @staticmethod
    def adapt(
        source_type: str, endpoint: LivyEndpoint, session: dict[str, Any], role: str | None
    ) -> tuple[LivyEndpoint, dict[str, Any]]:
        """The endpoint and session settings the kernels get with this role (no I/O)."""
        if source_type == SERVERLESS and role:
            conf = {**(session.get("conf") or {}), EXECUTION_ROLE_CONF: role}
            return endpoint, {**session, "conf": conf}
        if source_type == EC2 and role:
            return LivyEndpoint(url=endpoint.url, auth=RUNTIME_ROLE_AUTH), session
        return endpoint, session

    async def issue(
        self,
        identity: Identity,
        workspace_id: str,
        source_type: str,
        cluster_id: str,
        role: str | None,
    ) -> None:
        """Write the kernels' credentials and keep renewing them (or drop old ones)."""
        path = self.conf_dir(workspace_id)
        if source_type == SERVERLESS:

            async def sigv4() -> dict[str, Any]:
                return {
                    **await self.sigv4_credentials(identity),
                    "region": self.aws.region,
                    "service": SERVERLESS,
                    "execution_role_arn": role,
                }

            await self.credentials.issue(workspace_id, path / SIGV4_FILE, sigv4)
        elif source_type == EC2 and role:

            async def basic() -> dict[str, Any]:
                return await self.cluster_session_credentials(identity, cluster_id, role)

            await self.credentials.issue(workspace_id, path / BASIC_FILE, basic)
        else:
            await self.credentials.forget(workspace_id)

    async def forget(self, workspace_id: str) -> None:
        await self.credentials.forget(workspace_id)

    async def reissue_for_cleanup(
        self, identity: Identity, workspace_id: str, attachment: dict[str, Any]
    ) -> None:
        """The kernels' credentials again when the Workspace was closed (which removed
        them) and its sessions are to be deleted (detach, delete): the cleanup needs what
        the kernels sign with. Never raises: the cleanup then says what it could not do."""
        source_type, role = attachment.get("type"), attachment.get("execution_role_arn")
        if not (source_type == SERVERLESS or (source_type == EC2 and role)):
            return
        if self.credentials.holds(workspace_id):
            return
        if not (self.conf_dir(workspace_id) / "config.json").exists():
            return  # no kernels of this server were wired to it
        try:
            await self.issue(
                identity, workspace_id, str(source_type), str(attachment["cluster_id"]), role
            )
        except Exception as e:
            log.warning(
                "Workspace %s: no credentials to delete its Spark sessions with: %s",
                workspace_id,
                getattr(e, "message", None) or e,
            )

    async def stop(self) -> None:
        await self.credentials.stop()

    # -- where credentials come from ---------------------------------------------------------
    async def sigv4_credentials(self, identity: Identity) -> dict[str, Any]:
        """The credentials the Studio acts with for ``identity``: in IDENTITY_CENTER mode the
        user role narrowed by the session policy, else the service role or the server's."""
        if self.studio.auth_mode == "IDENTITY_CENTER" and self.studio.user_role_arn:
            await self.access.require_member(identity)
            policy = await self.access.session_policy(identity)
            return await asyncio.to_thread(
                self._assume, self.studio.user_role_arn, policy, identity.name
            )
        if self.studio.service_role_arn:
            return await asyncio.to_thread(
                self._assume, self.studio.service_role_arn, None, "jupyter-emr-workspace"
            )
        return await asyncio.to_thread(self._own)

    def _assume(self, role_arn: str, policy: dict[str, Any] | None, name: str) -> dict[str, Any]:
        params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": _session_name(name)}
        if policy:
            params["Policy"] = json.dumps(policy, sort_keys=True)
        try:
            creds = self.aws.client("sts").assume_role(**params)["Credentials"]
        except ClientError as e:
            raise UpstreamError(f"STS AssumeRole of {role_arn} failed: {e}") from None
        return {
            "AccessKeyId": creds["AccessKeyId"],
            "SecretAccessKey": creds["SecretAccessKey"],
            "SessionToken": creds["SessionToken"],
            "expiration": epoch(creds["Expiration"]),
        }

    def _own(self) -> dict[str, Any]:
        found = self.aws.session.get_credentials()
        if found is None:
            raise UpstreamError("No AWS credentials on this server to sign Livy requests with")
        frozen = found.get_frozen_credentials()
        expiry = getattr(found, "_expiry_time", None)  # refreshable (instance/pod roles)
        return {
            "AccessKeyId": frozen.access_key,
            "SecretAccessKey": frozen.secret_key,
            "SessionToken": frozen.token,
            "expiration": epoch(expiry),
        }

    async def cluster_session_credentials(
        self, identity: Identity, cluster_id: str, role: str
    ) -> dict[str, Any]:
        emr = await self.clients(identity, "emr")

        def call() -> dict[str, Any]:
            try:
                answer = emr.get_cluster_session_credentials(
                    ClusterId=cluster_id, ExecutionRoleArn=role
                )
            except ClientError as e:
                err = e.response.get("Error", {})
                raise UpstreamError(
                    f"EMR GetClusterSessionCredentials for {role} on {cluster_id} failed: "
                    f"{err.get('Code')}: {err.get('Message')} (runtime roles need EMR 6.11+ "
                    "with a security configuration that enables them)",
                    code="RuntimeRoleUnavailable",
                ) from None
            user = answer["Credentials"]["UsernamePassword"]
            return {
                "username": user["Username"],
                "password": user["Password"],
                "expiration": epoch(answer.get("ExpiresAt")),
            }

        return await asyncio.to_thread(call)
