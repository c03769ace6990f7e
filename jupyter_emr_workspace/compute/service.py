"""ComputeService: list clusters, attach and detach Workspaces, create clusters from templates.

It authorizes with EMR Studio's action names and records audit events through the guard,
keeps the attachment in the Workspace's metadata (so every server that opens the Workspace
uses the same cluster) and writes this server's per-Workspace sparkmagic config. It knows
nothing of tornado: handlers call it; it raises ApiError subclasses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from .. import actions
from ..assignments import AccessControl, Arns
from ..aws import AwsClients
from ..errors import (
    ApiError,
    BadRequest,
    Conflict,
    Locked,
    NotFound,
    UpstreamError,
    WorkspaceInUse,
)
from ..folders import WorkspaceFolders
from ..hooks import WorkspaceHooks
from ..kernels import register_workspace_conf, registry_path, unregister_workspace_conf
from ..kernels.cluster_hints import CLUSTER_FILE
from ..kernels.notebook_session import KEEP_FILE
from ..kernels.session_cleanup import delete_workspace_sessions, mark_server_stopping
from ..kernels.sparkmagic_config import (
    build_sparkmagic_config,
    validate_kernel_settings,
    write_sparkmagic_config,
)
from ..leases import Lease, LeaseManager
from ..permission_checks import Guard
from ..studio import Identity, Studio
from ..workspace_registry import Workspace, WorkspaceRegistry, utcnow_iso
from ..workspace_service import WorkspaceService
from .config import effective_sources
from .model import Cluster, ClusterSource, LivyEndpoint
from .role_attach import RoleAttach
from .sources import SourceContext, by_type
from .sources.emr_ec2 import EmrEc2Source
from .sources.local import LocalEngineSource
from .templates import Template, parse_templates

if TYPE_CHECKING:
    from .app_ui import AppUiService

log = logging.getLogger(__name__)
LIST_TIMEOUT = 30.0
MEMORY_RE = re.compile(r"^\d+[kKmMgGtT]?[bB]?$")
SESSION_KEYS = {
    "driverMemory",
    "driverCores",
    "executorMemory",
    "executorCores",
    "numExecutors",
    "conf",
}


class KernelControl(Protocol):
    """The server's kernels, as far as compute needs them."""

    def running_in(self, folder: Path) -> list[str]:
        """Ids of the kernels whose working directory is ``folder`` or below it."""
        ...

    async def restart(self, kernel_ids: list[str]) -> None: ...


class NoKernels:
    def running_in(self, folder: Path) -> list[str]:
        return []

    async def restart(self, kernel_ids: list[str]) -> None:
        return None


def validate_session(raw: Any) -> dict[str, Any]:
    """Per-Workspace Livy session settings: memory, cores, executors and Spark conf."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest("session must be an object of Livy session settings")
    unknown = sorted(set(raw) - SESSION_KEYS)
    if unknown:
        raise BadRequest(f"session: unknown settings {unknown}; allowed: {sorted(SESSION_KEYS)}")
    out: dict[str, Any] = {}
    for key in ("driverMemory", "executorMemory"):
        if key in raw:
            if not isinstance(raw[key], str) or not MEMORY_RE.match(raw[key]):
                raise BadRequest(f"session.{key} must look like '2g' or '512m'")
            out[key] = raw[key]
    for key in ("driverCores", "executorCores", "numExecutors"):
        if key in raw:
            value = raw[key]
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # JSON has one number type: 2.0 is the integer 2
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
                raise BadRequest(f"session.{key} must be a whole number from 1 to 4096")
            out[key] = value
    if "conf" in raw:
        conf = raw["conf"]
        if not isinstance(conf, dict) or len(conf) > 200:
            raise BadRequest("session.conf must be an object of at most 200 Spark settings")
        for k, v in conf.items():
            if (
                not isinstance(k, str)
                or not 1 <= len(k) <= 256
                or not isinstance(v, str | int | float | bool)
            ):
                raise BadRequest(f"session.conf[{str(k)[:60]!r}] must map a name to a value")
        out["conf"] = {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in conf.items()
        }
    return out


def _fields(body: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = required - set(body)
    if missing:
        raise BadRequest(f"missing required fields {sorted(missing)}")
    for key in required:
        if not isinstance(body[key], str) or not body[key]:
            raise BadRequest(f"{key} must be a non-empty string")
    if not isinstance(body.get("restart_kernels", False), bool):
        raise BadRequest("restart_kernels must be true or false")


def describe_failure(e: BaseException) -> str:
    """A source's failure as a message that says what to do."""
    if isinstance(e, ApiError):
        return e.message
    if isinstance(e, NoCredentialsError):
        return (
            "No AWS credentials: give this server credentials through boto3's chain "
            "(environment, profile, instance or pod role) or set c.Studio.aws_profile"
        )
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', str(e))}"
    if isinstance(e, TimeoutError):
        return f"No answer within {LIST_TIMEOUT:.0f} s"
    if isinstance(e, BotoCoreError):
        return str(e)
    return f"{type(e).__name__}: {e}"


class ComputeService:
    def __init__(
        self,
        studio: Studio,
        aws: AwsClients,
        registry: WorkspaceRegistry,
        leases: LeaseManager,
        access: AccessControl,
        guard: Guard,
        arns: Arns,
        folders: WorkspaceFolders,
        workspaces: WorkspaceService,
        kernels: KernelControl | None = None,
    ) -> None:
        self.studio, self.aws, self.registry, self.leases = studio, aws, registry, leases
        self.access, self.guard, self.arns, self.folders = access, guard, arns, folders
        self.workspaces = workspaces
        self.kernels: KernelControl = kernels or NoKernels()
        self.templates: dict[str, Template] = parse_templates(
            list(studio.cluster_templates), list(studio.subnet_ids)
        )
        specs = by_type()
        context = SourceContext(studio, arns, self.client)
        #: the Studio's sources, built from the registry (compute/sources/__init__.py)
        self.specs = [specs[name] for name in effective_sources(studio)]
        self.sources: dict[str, ClusterSource] = {
            spec.type: spec.build(context) for spec in self.specs
        }
        #: execution roles, starting Serverless applications, the kernels' credentials
        self.roles = RoleAttach(studio, aws, access, guard, self.client, self.conf_dir)
        #: the last Identity (with its hub groups) of each user seen here: hooks get a name
        self.seen: dict[str, Identity] = {}
        self.hooks = ComputeHooks(self)
        self.app_ui: AppUiService | None = None  # set by part.start (links in kernels)

    @property
    def local(self) -> LocalEngineSource | None:
        """The embedded engine's source, when the Studio lists it."""
        source = self.sources.get(LocalEngineSource.type)
        return source if isinstance(source, LocalEngineSource) else None

    async def client(self, identity: Identity | None, service: str) -> Any:
        """A boto3 client for ``identity``: in IAM Identity Center mode with a user role,
        that role narrowed by the user's session policy; else the Studio's credentials."""
        if (
            identity is not None
            and self.studio.auth_mode == "IDENTITY_CENTER"
            and self.studio.user_role_arn
        ):
            policy = await self.access.session_policy(identity)
            return await asyncio.to_thread(
                self.aws.client,
                service,
                role_arn=self.studio.user_role_arn,
                session_policy=policy,
                session_name=identity.name,
            )
        return await asyncio.to_thread(self.aws.service_client, service)

    async def stop(self) -> None:
        """Stop what sources run themselves (the embedded engine) and stop renewing the
        kernels' credentials."""
        await self.roles.stop()
        # kernels shut down after extensions: they keep their sessions for the next server
        folder = registry_path().parent / "sparkmagic" / self.studio.id
        await asyncio.to_thread(lambda: mark_server_stopping(list(folder.glob("*"))))
        for name, source in self.sources.items():
            stop = getattr(source, "stop", None)
            if stop is not None:
                try:
                    await stop()
                except Exception:
                    log.exception("stopping cluster source %s failed", name)

    def kernel_settings(self, raw: Any = None) -> dict[str, Any]:
        """A Workspace's settings for its kernels (attach body `kernels`) over the Studio's."""
        studio = self.studio
        defaults = {
            "start_session_early": studio.spark_session_start_early,
            "session_start_timeout": studio.spark_session_start_timeout,
            "session_grace_period": studio.spark_session_grace_period,
            "max_rows": studio.spark_max_rows,
        }
        try:
            return validate_kernel_settings(raw, defaults)
        except ValueError as e:
            raise BadRequest(str(e)) from None

    # -- clusters -----------------------------------------------------------------------
    async def list_clusters(self, identity: Identity) -> dict[str, Any]:
        await self.guard.require_member(identity)
        self.seen[identity.name] = identity  # with its groups, for on_open
        names = list(self.sources)
        results = await asyncio.gather(
            *(self._list_source(identity, self.sources[n]) for n in names), return_exceptions=True
        )
        clusters: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                log.info("cluster source %s failed: %s", name, result)
                errors.append({"source": name, "message": describe_failure(result)})
            else:
                clusters += [c.to_json() for c in result]
        # what the panel shows of each source (its label, its words for states)
        sources = [spec.display() for spec in self.specs]
        return {"clusters": clusters, "errors": errors, "sources": sources}

    async def _list_source(self, identity: Identity, source: ClusterSource) -> list[Cluster]:
        await self.guard.require(identity, source.list_action, source.arn("*"))
        return await asyncio.wait_for(source.list_clusters(identity), LIST_TIMEOUT)

    def list_templates(self) -> dict[str, Any]:
        return {"templates": [t.to_json() for t in self.templates.values()]}

    async def create_cluster(self, identity: Identity, body: dict[str, Any]) -> dict[str, Any]:
        _fields(body, {"template", "name", "parameters"}, {"template", "name"})
        template = self.templates.get(body["template"])
        if template is None:
            raise NotFound(
                f"No cluster template {body['template']!r}; GET /templates lists them",
                code="TemplateNotFound",
            )
        values = template.values(body.get("parameters"))
        tags = {
            "emr-workspace:studio-id": self.studio.id,
            "emr-workspace:created-by": identity.name,
        }
        async with self.guard.action(
            identity,
            actions.RUN_JOB_FLOW,
            self.arns.cluster("*"),
            request_tags=tags,
            details={"template": template.name, "name": str(body["name"])[:256]},
        ) as facts:
            catalog = template.service_catalog
            if catalog:
                product_arn = (
                    f"arn:aws:catalog:{self.arns.region}:{self.arns.account}:"
                    f"product/{catalog['product_id']}"
                )
                await self.guard.require(
                    identity,
                    actions.PROVISION_PRODUCT,
                    product_arn,
                    details={"template": template.name},
                )
                if not isinstance(body["name"], str) or not body["name"].strip():
                    raise BadRequest("name must be a non-empty string")
                cluster = await self._provision_product(
                    identity, template, body["name"], values, tags
                )
            else:
                params = template.render(
                    body["name"], values, subnet_ids=list(self.studio.subnet_ids), tags=tags
                )
                cluster = await self._run_job_flow(identity, params)
            facts["cluster_id"] = cluster["id"]
        return cluster

    async def _run_job_flow(self, identity: Identity, params: dict[str, Any]) -> dict[str, Any]:
        emr = await self.client(identity, "emr")
        source = EmrEc2Source(self.studio, self.arns, self.client)

        def run() -> dict[str, Any]:
            try:
                cluster_id = emr.run_job_flow(**params)["JobFlowId"]
                desc = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
            except ClientError as e:
                raise UpstreamError(f"EMR RunJobFlow failed: {describe_failure(e)}") from None
            return source.to_cluster(desc).to_json()

        return await asyncio.to_thread(run)

    async def _provision_product(
        self,
        identity: Identity,
        template: Template,
        name: str,
        values: dict[str, Any],
        tags: dict[str, str],
    ) -> dict[str, Any]:
        catalog = template.service_catalog or {}
        sc = await self.client(identity, "servicecatalog")
        params: dict[str, Any] = {
            "ProductId": catalog["product_id"],
            "ProvisioningArtifactId": catalog["provisioning_artifact_id"],
            "ProvisionedProductName": re.sub(r"[^A-Za-z0-9._-]", "-", name)[:128],
            "ProvisioningParameters": [{"Key": k, "Value": str(v)} for k, v in values.items()],
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }
        if catalog.get("path_id"):
            params["PathId"] = catalog["path_id"]

        def provision() -> dict[str, Any]:
            try:
                record = sc.provision_product(**params)["RecordDetail"]
            except ClientError as e:
                raise UpstreamError(
                    f"Service Catalog ProvisionProduct failed: {describe_failure(e)}"
                ) from None
            return {
                **Cluster(
                    type="emr-ec2",
                    id=record.get("ProvisionedProductId", ""),
                    name=name,
                    state="STARTING",
                    attachable=False,
                    reason="Being provisioned by Service Catalog; the cluster appears "
                    "in the list once EMR starts it",
                ).to_json(),
                "provisioning": {
                    "record_id": record.get("RecordId"),
                    "status": record.get("Status"),
                    "provisioned_product_id": record.get("ProvisionedProductId"),
                },
            }

        return await asyncio.to_thread(provision)

    # -- attach / detach -----------------------------------------------------------------
    def conf_dir(self, workspace_id: str) -> Path:
        """This server's sparkmagic config for a Workspace: in the runtime dir beside the
        kernel registry, never in the Workspace folder (which is backed up and shared)."""
        return registry_path().parent / "sparkmagic" / self.studio.id / workspace_id

    def _wire(
        self,
        workspace_id: str,
        endpoint: LivyEndpoint,
        session: dict[str, Any],
        attachment: dict[str, Any],
    ) -> None:
        conf_dir = self.conf_dir(workspace_id)
        kernels = {**self.kernel_settings(), **(attachment.get("kernels") or {})}
        write_sparkmagic_config(
            conf_dir,
            endpoint.url,
            session_settings=session,
            kernel_settings=kernels,
            **endpoint.sparkmagic_kwargs(),
        )
        # what the kernels say when the cluster stops answering (kernels/cluster_hints.py),
        # and what names and starts their sessions (kernels/notebook_session.py)
        about = {k: attachment.get(k) for k in ("type", "cluster_id", "endpoint_id", "name")}
        if self.app_ui is not None:  # where %%info links to the Spark UI and driver log
            about["api_path"] = self.app_ui.workspace_path(workspace_id)
            about["attached_by"] = attachment.get("attached_by")
        (conf_dir / CLUSTER_FILE).write_text(
            json.dumps(
                {
                    **about,
                    "livy_url": endpoint.url,
                    "workspace_id": workspace_id,
                    "kernels": kernels,
                }
            ),
            encoding="utf-8",
        )
        (conf_dir / KEEP_FILE).unlink(missing_ok=True)  # a server runs this Workspace again
        register_workspace_conf(self.folders.ensure(workspace_id), conf_dir)

    async def _forget(
        self,
        workspace_id: str,
        attachment: dict[str, Any] | None = None,
        identity: Identity | None = None,
    ) -> None:
        # no kernel will use them any more: the sessions of killed kernels, and of live
        # ones, deleted with the kernels' credentials (SigV4, a runtime role's Livy user)
        # while the server still keeps them (again, if closing removed them), then the
        # credentials themselves
        conf_dir = self.conf_dir(workspace_id)
        if attachment:
            who = identity or self._attacher(attachment)
            await self.roles.reissue_for_cleanup(who, workspace_id, attachment)
        await asyncio.to_thread(delete_workspace_sessions, conf_dir, workspace_id)
        await self.roles.forget(workspace_id)  # stop renewing the kernels' credentials
        await asyncio.to_thread(self._unwire, workspace_id)

    def _attacher(self, attachment: dict[str, Any]) -> Identity:
        """Who the kernels' credentials acted for (with the groups last seen for them)."""
        name = str(attachment.get("attached_by") or "")
        groups = tuple(self.studio.groups.get(name, []))
        return self.seen.get(name) or Identity(name, groups)

    def _unwire(self, workspace_id: str) -> None:
        unregister_workspace_conf(self.folders.local_path(workspace_id))
        shutil.rmtree(self.conf_dir(workspace_id), ignore_errors=True)

    async def _check_not_held_by_others(self, identity: Identity, ws: Workspace) -> None:
        holders = ((await self.leases.state(ws.id)) or {}).get("holders", [])
        others = [h for h in holders if h["user"] != identity.name]
        if others and len(others) == len(holders):
            raise Conflict(
                f"Workspace {ws.name!r} is open by {others[0]['user']}; only its editor "
                "changes its cluster",
                code="WorkspaceInUse",
                holder=others[0],
            )

    @staticmethod
    def for_workspace(
        source: ClusterSource, workspace_id: str, endpoint: LivyEndpoint
    ) -> LivyEndpoint:
        """The endpoint with the Workspace's own credential, for sources that have one
        per Workspace (the local engine: `LocalEngineSource.workspace_endpoint`)."""
        per_workspace = getattr(source, "workspace_endpoint", None)
        return per_workspace(workspace_id, endpoint) if per_workspace else endpoint

    def source(self, kind: Any) -> ClusterSource:
        if kind not in self.sources:
            raise BadRequest(f"type must be one of {sorted(self.sources)}, not {kind!r}")
        return self.sources[kind]

    async def attach(
        self, identity: Identity, workspace_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self.seen[identity.name] = identity
        _fields(
            body,
            {
                "type",
                "cluster_id",
                "endpoint_id",
                "session",
                "restart_kernels",
                "execution_role_arn",
                "kernels",
            },
            {"type", "cluster_id"},
        )
        source = self.source(body["type"])
        endpoint_id = body.get("endpoint_id")
        if endpoint_id is not None and not isinstance(endpoint_id, str):
            raise BadRequest("endpoint_id must be a string")
        session = validate_session(body.get("session"))
        kernels = self.kernel_settings(body.get("kernels"))
        ws = await self.registry.get(workspace_id)
        cluster_id = body["cluster_id"]
        async with self.guard.on_workspace(
            identity,
            actions.ATTACH_EDITOR,
            ws,
            details={
                "type": source.type,
                "cluster_id": cluster_id[:128],
                "endpoint_id": endpoint_id,
                "cluster_arn": source.arn(cluster_id),
            },
        ) as facts:
            await self._check_not_held_by_others(identity, ws)
            role = await self.roles.check(
                identity, source, cluster_id, body.get("execution_role_arn"), session
            )
            facts["execution_role_arn"] = role
            cluster, endpoint = await source.resolve(identity, cluster_id, endpoint_id)
            endpoint = self.for_workspace(source, ws.id, endpoint)
            started = await self.roles.start_if_stopped(identity, source, cluster)
            facts.update(started)
            endpoint, session = self.roles.adapt(source.type, endpoint, session, role)
            try:  # refuse what sparkmagic would refuse before anything is stored
                build_sparkmagic_config(
                    endpoint.url, session_settings=session, **endpoint.sparkmagic_kwargs()
                )
            except ValueError as e:
                raise BadRequest(f"Cannot write the sparkmagic config: {e}") from None
            attachment = {
                "type": source.type,
                "cluster_id": cluster.id,
                "endpoint_id": endpoint_id,
                "name": cluster.name,
                "livy_url": endpoint.url,
                "attached_by": identity.name,
                "attached_at": utcnow_iso(),
                "auth": endpoint.auth,
                "session": session,
                "execution_role_arn": role,
                "kernels": kernels,
            }

            def change(current: Workspace) -> None:
                current.attachment = attachment

            before = ws.attachment or {}
            ws = await self.registry.update(ws.id, change)
            if before and before.get("livy_url") != endpoint.url:  # moved off that cluster
                # with what its kernels signed with (again, if closing removed it)
                await self.roles.reissue_for_cleanup(identity, ws.id, before)
                await asyncio.to_thread(delete_workspace_sessions, self.conf_dir(ws.id), ws.id)
            await asyncio.to_thread(self._wire, ws.id, endpoint, session, attachment)
            await self.roles.issue(identity, ws.id, source.type, cluster.id, role)
            facts["livy_url"] = endpoint.url
        answer = await self._answer(identity, ws, bool(body.get("restart_kernels")))
        return {**answer, **started}

    async def detach(
        self, identity: Identity, workspace_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        _fields(body, {"restart_kernels"}, set())
        ws = await self.registry.get(workspace_id)
        before = ws.attachment or {}
        async with self.guard.on_workspace(
            identity,
            actions.DETACH_EDITOR,
            ws,
            details={"type": before.get("type"), "cluster_id": before.get("cluster_id")},
        ):
            await self._check_not_held_by_others(identity, ws)

            def change(current: Workspace) -> None:
                current.attachment = None

            ws = await self.registry.update(ws.id, change)
            await self._forget(ws.id, before, identity)
        return await self._answer(identity, ws, bool(body.get("restart_kernels")))

    async def _answer(self, identity: Identity, ws: Workspace, restart: bool) -> dict[str, Any]:
        running = self.kernels.running_in(self.folders.local_path(ws.id))
        if restart and running:
            await self.kernels.restart(running)
        view = await self.workspaces.view(identity, ws)
        view["running_kernels"] = len(running)
        view["restarted_kernels"] = len(running) if restart else 0
        return view

    async def restart_kernels(self, identity: Identity, workspace_id: str) -> dict[str, Any]:
        ws = await self.registry.get(workspace_id)
        async with self.guard.on_workspace(
            identity,
            actions.ATTACH_EDITOR,
            ws,
            details={"operation": "restart-kernels"},
        ) as facts:
            if not self.leases.holds(ws.id, identity.name):
                raise Locked(f"Open Workspace {ws.name!r} to restart its kernels")
            running = self.kernels.running_in(self.folders.local_path(ws.id))
            await self.kernels.restart(running)
            facts["kernels"] = len(running)
        return {"restarted": len(running), "kernel_ids": running}

    # -- reopen ---------------------------------------------------------------------------
    async def rewire(self, ws: Workspace, opener: Identity | None = None) -> dict[str, Any]:
        """Re-resolve a Workspace's attachment (a restarted cluster may have a new primary
        node; the local engine is this server's) and rewrite its sparkmagic config."""
        att = ws.attachment
        if not att:
            await self._forget(ws.id)
            return {}
        # the kernels act for the user who opens the Workspace, with the attachment's role
        who = opener or Identity(str(att.get("attached_by") or ""))
        role = att.get("execution_role_arn")
        session = att.get("session") or {}
        try:
            source = self.source(att.get("type"))
            if role:
                await self.roles.require(who, source.type, role, source.arn(att["cluster_id"]))
            _, endpoint = await source.resolve(None, att["cluster_id"], att.get("endpoint_id"))
            endpoint = self.for_workspace(source, ws.id, endpoint)
            endpoint, session = self.roles.adapt(source.type, endpoint, session, role)
            await self.roles.issue(who, ws.id, source.type, att["cluster_id"], role)
        except ApiError as e:
            log.warning(
                "Workspace %s: its cluster %s did not resolve: %s",
                ws.id,
                att.get("cluster_id"),
                e.message,
            )
            await self.roles.forget(ws.id)  # no credentials for a refused role
            return {"attachment_error": e.message}
        if endpoint.url != att.get("livy_url"):
            url = endpoint.url

            def change(current: Workspace) -> None:
                if current.attachment and current.attachment.get("cluster_id") == att["cluster_id"]:
                    current.attachment["livy_url"] = url

            await self.registry.update(ws.id, change)
            ws.attachment = {**att, "livy_url": url}
        await asyncio.to_thread(self._wire, ws.id, endpoint, session, att)
        return {"attachment_livy_url": endpoint.url}


class ComputeHooks(WorkspaceHooks):
    """Workspace lifecycle, as compute sees it (registered on the HookChain)."""

    def __init__(self, service: ComputeService) -> None:
        self.service = service

    async def on_open(self, ws: Workspace, lease: Lease) -> dict[str, Any]:
        # who the kernels' credentials act for (hooks are given only a name)
        groups = tuple(self.service.studio.groups.get(lease.user, []))
        opener = self.service.seen.get(lease.user) or Identity(lease.user, groups)
        return await self.service.rewire(ws, opener)

    async def on_close(self, ws: Workspace) -> None:
        await self.service.roles.forget(ws.id)  # stop renewing its kernels' credentials

    async def before_delete(self, ws: Workspace) -> None:
        """Refuse to delete a Workspace whose folder kernels still run in, naming them:
        they (and their Spark sessions) would run on against a folder that is gone."""
        kernels = self.service.kernels
        running = kernels.running_in(self.service.folders.local_path(ws.id))
        if not running:
            return
        describe = getattr(kernels, "describe", None)
        names = await describe(running) if describe is not None else running
        raise WorkspaceInUse(
            f"Workspace {ws.name!r} has {len(running)} running "
            f"{'kernel' if len(running) == 1 else 'kernels'} on this server "
            f"({', '.join(names)}); shut them down (close its notebooks) before deleting it",
            kernels=names,
        )

    async def on_delete(self, ws: Workspace, delete_notebooks: bool) -> dict[str, Any]:
        await self.service._forget(ws.id, ws.attachment)
        return {}
