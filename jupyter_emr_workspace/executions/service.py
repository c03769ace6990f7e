"""The executions service: StartNotebookExecution and friends, with EMR's action names.

It authorizes and audits every submission and stop (and, through the runner, every
end), snapshots the notebook at submission and writes the record; runners do the rest.
It knows nothing of tornado: handlers call it; it raises ApiError subclasses.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from .. import actions
from ..errors import BadRequest, Conflict, NotFound, check_fields
from ..permission_checks import Check
from ..services import running
from ..store import ObjectNotFound
from ..studio import Identity
from ..workspace_registry import Workspace, validate_tags
from .model import (
    CREATOR_TAG,
    FAILED,
    FINAL,
    NOT_FOR_EXECUTIONS,
    OUTPUT_FORMATS,
    START_PENDING,
    STATUSES,
    STOP_PENDING,
    STOPPED,
    STOPPING,
    Execution,
    id_time_ms,
    is_attachment,
    new_execution_id,
    parse_time,
    utcnow_iso,
    validate_cluster,
    validate_environment,
    validate_name,
    validate_parameters,
    validate_relative_path,
)
from .notebook import kernel_for
from .records import ExecutionStore, Unchanged
from .schedules import ScheduleService, ScheduleStore

if TYPE_CHECKING:
    from ..services import Services
    from .runner import Runner
    from .schedules import Scheduler

#: The source whose clusters run executions as an execution role (EMR on EC2 runtime roles:
#: Livy credentials from GetClusterSessionCredentials).
RUNTIME_ROLE_SOURCE = "emr-ec2"
#: Largest notebook an execution snapshots.
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
SUBMIT_FIELDS = {
    "workspace_id",
    "relative_path",
    "name",
    "parameters",
    "cluster",
    "output_format",
    "environment",
    "tags",
}


class ExecutionService:
    def __init__(
        self, services: Services, records: ExecutionStore, schedules: ScheduleStore
    ) -> None:
        self.services, self.records = services, records
        self.studio, self.registry, self.guard = services.studio, services.registry, services.guard
        self.audit, self.arns = services.audit, services.arns
        self.schedules = ScheduleService(services, self, schedules)
        #: this server's runner and scheduler, when it runs them (a submission wakes the
        #: runner; a stop reaches it without waiting for its next poll)
        self.runner: Runner | None = None
        self.scheduler: Scheduler | None = None

    def on_execution(
        self,
        identity: Identity,
        action: str,
        ex: Execution,
        *,
        details: dict[str, Any] | None = None,
    ) -> Check:
        """``action`` on an execution: its ARN (``notebook-execution/ex-…``) and its tags,
        paired here once (as ``Guard.on_workspace`` pairs a Workspace's)."""
        arn = self.arns.notebook_execution(ex.id)
        return Check(self.guard, identity, action, arn, resource_tags=ex.tags, details=details)

    async def may(self, identity: Identity, action: str, ex: Execution) -> bool:
        """Whether ``identity`` may do ``action`` on ``ex`` (to filter a listing; not
        recorded)."""
        arn = self.arns.notebook_execution(ex.id)
        decision = await self.services.access.decide(identity, action, arn, resource_tags=ex.tags)
        return decision.allowed

    def view(self, ex: Execution) -> dict[str, Any]:
        return ex.view(self.studio.resolved_backup_uri)

    # -- submit ---------------------------------------------------------------------------
    async def start(
        self,
        identity: Identity,
        body: dict[str, Any],
        *,
        schedule_id: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        check_fields(body, SUBMIT_FIELDS, {"workspace_id", "relative_path"})
        if not isinstance(body["workspace_id"], str):
            raise BadRequest("workspace_id must be a string")
        rel = validate_relative_path(body["relative_path"])
        parameters = validate_parameters(body.get("parameters"))
        environment = validate_environment(body.get("environment"))
        cluster = validate_cluster(body.get("cluster"))
        output_format = body.get("output_format", "ipynb")
        if output_format not in OUTPUT_FORMATS:
            raise BadRequest(f"output_format must be one of {list(OUTPUT_FORMATS)}")
        tags = validate_tags(body.get("tags", {}))
        if CREATOR_TAG in tags:
            raise BadRequest(f"tag {CREATOR_TAG!r} is set by the server")
        name = validate_name(body.get("name"), rel.rsplit("/", 1)[-1])
        ws = await self.registry.get(body["workspace_id"])
        # the snapshot reads the Workspace's notebook: as reading its files does
        await self.guard.on_workspace(identity, actions.DESCRIBE_EDITOR, ws)
        async with self.guard.on_workspace(
            identity,
            actions.START_NOTEBOOK_EXECUTION,
            ws,
            request_tags={**tags, CREATOR_TAG: identity.name},
            details={"workspace_id": ws.id, "relative_path": rel[:256], "schedule_id": schedule_id},
        ) as facts:
            cluster = self._with_role(cluster or self._attachment(ws), ws)
            self._check_cluster_type(cluster)
            await self.check_cluster(identity, ws, cluster)
            facts["execution_role_arn"] = cluster["execution_role_arn"]
            await self.check_role(identity, cluster)
            data = await self.read_notebook(ws, rel)
            try:
                nb = await asyncio.to_thread(nbformat.reads, data.decode("utf-8"), as_version=4)
            except Exception as e:
                raise BadRequest(f"{rel} is not a readable notebook: {str(e)[:200]}") from None
            kernel = kernel_for(nb)
            if kernel is None:
                raise BadRequest(
                    f"{rel} uses the kernel {nb.metadata['kernelspec'].get('name')!r}; executions "
                    "run on the Workspace's cluster with its Spark kernels (PySpark, Spark, "
                    "SparkR): change the notebook's kernel"
                )
            ex = Execution(
                id=new_execution_id(),
                workspace_id=ws.id,
                relative_path=rel,
                name=name,
                created_by=identity.name,
                created_at=utcnow_iso(),
                created_by_groups=list(identity.groups),
                parameters=parameters,
                cluster=cluster,
                output_format=output_format,
                environment=environment,
                tags={**tags, CREATOR_TAG: identity.name},
                kernel_name=kernel,
                schedule_id=schedule_id,
            )
            ex.note(START_PENDING, note or f"submitted by {identity.name}")
            await self.records.create(ex, data)
            facts["execution_id"] = ex.id
        if self.runner is not None:
            self.runner.wake()
        return self.view(ex)

    @staticmethod
    def _attachment(ws: Workspace) -> dict[str, Any]:
        att = ws.attachment
        if not att:
            raise Conflict(
                f"Workspace {ws.name!r} is not attached to a cluster: attach it, or name "
                "one in the request's cluster field",
                code="NoCluster",
            )
        return {
            "type": att["type"],
            "id": att["cluster_id"],
            "endpoint_id": att.get("endpoint_id"),
            "execution_role_arn": att.get("execution_role_arn"),
        }

    @staticmethod
    def _with_role(cluster: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        """A cluster that names no role (the key left out) runs with the Workspace's
        attachment's role when it is the attachment's cluster (a form that echoes the
        attachment must not drop the role), else with none; ``null`` asks for none."""
        if "execution_role_arn" in cluster:
            return cluster
        same = is_attachment(ws.attachment, cluster)
        role = (ws.attachment or {}).get("execution_role_arn") if same else None
        return {**cluster, "execution_role_arn": role}

    async def check_cluster(
        self, identity: Identity, ws: Workspace, cluster: dict[str, Any]
    ) -> None:
        """Running a Workspace's notebook on a cluster it is not attached to is attaching it
        there for the run: who may not attach the Workspace may not name another cluster
        (else StartNotebookExecution would be a side door around AttachEditor)."""
        if is_attachment(ws.attachment, cluster):
            return
        await self.guard.on_workspace(
            identity,
            actions.ATTACH_EDITOR,
            ws,
            details={
                "type": cluster["type"],
                "cluster_id": str(cluster["id"])[:128],
                "for": "execution",
            },
        )

    async def check_role(self, identity: Identity, cluster: dict[str, Any]) -> None:
        """The submitter must be allowed to pass the execution's role, with the checks of
        an interactive attach (c.Studio.execution_roles, iam:PassRole, and
        GetClusterSessionCredentials with the elasticmapreduce:ExecutionRoleArn key):
        Forbidden naming the role, before anything is queued."""
        role = cluster.get("execution_role_arn")
        if not role:
            return
        if cluster["type"] != RUNTIME_ROLE_SOURCE:
            raise BadRequest(
                f"{cluster['type']} takes no execution role; executions run with one on "
                f"{RUNTIME_ROLE_SOURCE} (runtime roles, EMR 6.11+)"
            )
        compute = running(self.services.compute, "compute")
        source = compute.source(cluster["type"])
        await compute.roles.require(identity, source.type, role, source.arn(cluster["id"]))

    def _check_cluster_type(self, cluster: dict[str, Any]) -> None:
        if cluster["type"] in NOT_FOR_EXECUTIONS:
            raise BadRequest(
                f"Executions do not run on {cluster['type']} (as in EMR Studio): attach the "
                "Workspace to an EMR cluster or the local engine, or name one in cluster"
            )
        compute = self.services.compute
        if compute is not None and cluster["type"] not in compute.sources:
            raise BadRequest(
                f"cluster.type must be one of {sorted(compute.sources)}, not {cluster['type']!r}"
            )

    async def read_notebook(self, ws: Workspace, rel: str) -> bytes:
        """The Workspace's working copy on this server when there is one, else its backup
        (no lease needed: nothing in the Workspace changes)."""
        folder = self.services.folders.local_path(ws.id)
        local = await asyncio.to_thread(_read_inside, folder, rel)
        if local is not None:
            return local
        try:
            blob = await self.services.store.get(f"{ws.id}/{rel}")
        except ObjectNotFound:
            raise NotFound(
                f"No notebook {rel!r} in Workspace {ws.name!r} (neither on this server nor in "
                "its backups)",
                code="NotebookNotFound",
            ) from None
        if len(blob.data) > MAX_NOTEBOOK_BYTES:
            raise BadRequest(f"{rel} is larger than {MAX_NOTEBOOK_BYTES} bytes")
        return blob.data

    # -- read -------------------------------------------------------------------------------
    async def get(self, identity: Identity, execution_id: str) -> dict[str, Any]:
        ex = await self.records.get(execution_id)
        await self.on_execution(identity, actions.DESCRIBE_NOTEBOOK_EXECUTION, ex)
        return self.view(ex)

    async def list(self, identity: Identity, query: dict[str, str]) -> dict[str, Any]:
        """Newest first; ``next_token`` continues after the last one returned."""
        await self.guard.on_studio(identity, actions.LIST_NOTEBOOK_EXECUTIONS)
        allowed = {"workspace_id", "status", "from", "to", "limit", "next_token", "schedule_id"}
        check_fields(query, allowed, set())
        statuses = set(query["status"].split(",")) if query.get("status") else set()
        if statuses - set(STATUSES):
            raise BadRequest(f"status must be among {list(STATUSES)}")
        raw_limit = query.get("limit", "50")
        if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise BadRequest("limit must be a whole number from 1 to 100")
        limit = int(raw_limit)
        lo = parse_time(query["from"], "from") if "from" in query else None
        hi = parse_time(query["to"], "to") if "to" in query else None
        token = query.get("next_token")
        ids = list(reversed(await self.records.ids()))
        if token:
            ids = [i for i in ids if i < token]
        ids = [i for i in ids if _within(i, lo, hi)]
        out: list[dict[str, Any]] = []
        sem = asyncio.Semaphore(16)

        async def read(i: str) -> Execution | None:
            async with sem:
                try:
                    return await self.records.get(i)
                except NotFound:
                    return None

        for start in range(0, len(ids), limit * 2):
            chunk = ids[start : start + limit * 2]
            for i, ex in zip(chunk, await asyncio.gather(*(read(i) for i in chunk)), strict=True):
                if ex is None or not self._matches(ex, query, statuses):
                    continue
                if await self.may(identity, actions.DESCRIBE_NOTEBOOK_EXECUTION, ex):
                    out.append(self.view(ex))
                if len(out) == limit:
                    more = i != ids[-1]
                    return {"executions": out, "next_token": i if more else None}
        return {"executions": out, "next_token": None}

    @staticmethod
    def _matches(ex: Execution, query: dict[str, str], statuses: set[str]) -> bool:
        if query.get("workspace_id") and ex.workspace_id != query["workspace_id"]:
            return False
        if query.get("schedule_id") and ex.schedule_id != query["schedule_id"]:
            return False
        return not statuses or ex.status in statuses

    # -- stop -------------------------------------------------------------------------------
    async def stop(self, identity: Identity, execution_id: str) -> dict[str, Any]:
        ex = await self.records.get(execution_id)
        async with self.on_execution(
            identity,
            actions.STOP_NOTEBOOK_EXECUTION,
            ex,
            details={"execution_id": ex.id, "workspace_id": ex.workspace_id},
        ) as facts:

            def change(current: Execution) -> None:
                if current.status in FINAL:
                    raise Conflict(
                        f"Execution {current.id} already ended ({current.status})",
                        code="ExecutionEnded",
                    )
                if current.status in (STOP_PENDING, STOPPING):
                    raise Unchanged
                current.stop_requested_by = identity.name
                if current.status == START_PENDING:  # no runner holds it: it ends here
                    current.note(STOPPED, f"stopped by {identity.name} before it started")
                    current.reason = f"Stopped by {identity.name} before it started"
                    current.ended_at = utcnow_iso()
                else:
                    current.note(STOP_PENDING, f"stop asked by {identity.name}")

            ex, _ = await self.records.update(ex.id, change)
            facts["status"] = ex.status
        if ex.status == STOPPED:
            await self.ended(ex)
        runner = self.runner
        claim = runner.claims.get(ex.id) if runner is not None else None
        if claim is not None:
            claim.request_stop()
        return self.view(ex)

    async def ended(self, ex: Execution) -> None:
        """Audit an execution's end (the runner calls this; so does a stop before start)."""
        outcome = "success" if ex.status != FAILED else "failure"
        self.audit.record(
            Identity(ex.created_by),
            actions.START_NOTEBOOK_EXECUTION,
            self.arns.notebook_execution(ex.id),
            outcome,
            error_code="ExecutionFailed" if ex.status == FAILED else None,
            details={
                "event": "NotebookExecutionEnded",
                "execution_id": ex.id,
                "workspace_id": ex.workspace_id,
                "status": ex.status,
                "reason": (ex.reason or "")[:500],
                "schedule_id": ex.schedule_id,
                "execution_role_arn": (ex.cluster or {}).get("execution_role_arn"),
            },
        )


def _within(execution_id: str, lo: datetime | None, hi: datetime | None) -> bool:
    if lo is None and hi is None:
        return True
    created = datetime.fromtimestamp(id_time_ms(execution_id) / 1000, UTC)
    return (lo is None or created >= lo) and (hi is None or created <= hi)


def _read_inside(folder: Path, rel: str) -> bytes | None:
    """The file at ``folder/rel`` if it is a regular file really inside ``folder`` (a
    symlink out of the Workspace is refused, not followed)."""
    path = folder / rel
    try:
        real, root = os.path.realpath(path), os.path.realpath(folder)
        if not real.startswith(root + os.sep):
            raise BadRequest(f"{rel} leads out of the Workspace (a symlink); refused")
        if not os.path.isfile(real):
            return None
        if os.path.getsize(real) > MAX_NOTEBOOK_BYTES:
            raise BadRequest(f"{rel} is larger than {MAX_NOTEBOOK_BYTES} bytes")
        with open(real, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
