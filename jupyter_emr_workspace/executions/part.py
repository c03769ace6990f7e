"""Executions as a part of the server: the service, its handlers, this server's runner.

The in-process runner claims only the executions of this server's owner (as terminals
are the owner's): a runner's kernel runs with the server's rights, and sparkmagic's
``%%local`` runs code on this machine, so another user's notebook must never run here.
Anyone's executions are ended here when their runner died (that runs no code).
"""

from __future__ import annotations

import logging
from typing import Any

from tornado import web
from tornado.ioloop import IOLoop

from ..compute.model import LivyEndpoint
from ..errors import UpstreamError
from ..handlers import BaseHandler
from .model import Execution
from .notebook import NotebookExecutor
from .records import ExecutionStore
from .runner import Runner
from .schedules import Scheduler, ScheduleService, ScheduleStore
from .service import ExecutionService

KEY = "executions"
EX_ID = r"(?P<execution_id>[^/]+)"
SCH_ID = r"(?P<schedule_id>[^/]+)"
log = logging.getLogger(__name__)


def make_resolver(services: Any) -> Any:
    """The Livy endpoint (and the Workspace's Livy session settings) of an execution's
    cluster, resolved as a Workspace's reopen does: with the Studio's credentials."""

    async def resolve(ex: Execution) -> tuple[LivyEndpoint, dict[str, Any]]:
        compute = services.extra.get("compute")
        cluster = ex.cluster or {}
        if compute is None:
            raise UpstreamError("Compute is not available on this server")
        source = compute.source(cluster.get("type"))
        _, endpoint = await source.resolve(None, cluster["id"], cluster.get("endpoint_id"))
        per_workspace = getattr(source, "workspace_endpoint", None)
        if per_workspace is not None:  # the Workspace's own credential (embedded engine)
            endpoint = per_workspace(ex.workspace_id, endpoint)
        session: dict[str, Any] = {}
        try:
            att = (await services.registry.get(ex.workspace_id)).attachment or {}
        except Exception:  # deleted since: the cluster was named in the record
            att = {}
        if att.get("type") == cluster.get("type") and att.get("cluster_id") == cluster.get("id"):
            session = dict(att.get("session") or {})
        return endpoint, session

    return resolve


def make_runner(
    services: Any, service: ExecutionService, runner_id: str, *, shared: bool = False
) -> Runner:
    """``shared``: the runner runs everyone's executions (``notebook.NotebookExecutor``)
    and always polls; an in-process runner goes quiet while the queue is empty."""
    studio = services.studio
    records = service.records
    executor = NotebookExecutor(
        records.snapshot,
        services.store,
        studio.resolved_backup_uri,
        make_resolver(services),
        shared=shared,
    )
    return Runner(
        records,
        executor,
        runner_id,
        poll_seconds=studio.execution_poll_seconds,
        heartbeat_seconds=studio.execution_heartbeat_seconds,
        claim_timeout=studio.execution_claim_timeout,
        concurrency=studio.execution_concurrency,
        on_end=service.ended,
        idle_poll_seconds=None if shared else studio.execution_idle_poll_seconds,
    )


def build(services: Any) -> ExecutionService:
    """The executions and schedules services, on the Studio's store."""
    service = ExecutionService(services, ExecutionStore(services.store, services.layout))
    service.schedules = ScheduleService(
        services, service, ScheduleStore(services.store, services.layout)
    )
    return service


def make_scheduler(services: Any, service: ExecutionService, *, shared: bool = False) -> Scheduler:
    studio = services.studio
    scheduler = Scheduler(
        service.schedules.schedules,
        service.schedules.submit,
        tick_seconds=studio.schedule_tick_seconds,
        idle_seconds=None if shared else studio.execution_idle_poll_seconds,
    )
    return scheduler


def start(app: Any, services: Any) -> None:
    from ..terminals import server_owner

    service = build(services)
    services.extra[KEY] = service
    if services.studio.executions_runner:
        owner = server_owner(services.studio)
        runner_id = f"server:{services.leases.server_id}"
        runner = make_runner(services, service, runner_id)
        runner.accept = lambda ex: ex.created_by == owner
        service.runner = runner
        service.scheduler = make_scheduler(services, service)
        # the server's event loop runs only after the extensions are loaded
        IOLoop.current().add_callback(runner.start)
        IOLoop.current().add_callback(service.scheduler.start)
        log.info("jupyter-emr-workspace: runs the notebook executions of %r here", owner)


async def stop(app: Any, services: Any) -> None:
    service: ExecutionService | None = services.extra.get(KEY)
    if service is None:
        return
    if service.scheduler is not None:
        await service.scheduler.stop()
    if service.runner is not None:
        await service.runner.stop(budget=services.studio.flush_timeout)


class ExecutionsBase(BaseHandler):
    @property
    def executions(self) -> ExecutionService:
        return self.services.extra[KEY]

    def query(self) -> dict[str, str]:
        return {k: self.get_query_argument(k, strip=False) for k in self.request.query_arguments}


class ExecutionsHandler(ExecutionsBase):
    @web.authenticated
    async def get(self) -> None:
        self.send(await self.executions.list(self.identity(), self.query()))

    @web.authenticated
    async def post(self) -> None:
        self.send(await self.executions.start(self.identity(), self.json_body()), 201)


class ExecutionHandler(ExecutionsBase):
    @web.authenticated
    async def get(self, execution_id: str) -> None:
        self.send(await self.executions.get(self.identity(), execution_id))


class StopExecutionHandler(ExecutionsBase):
    @web.authenticated
    async def post(self, execution_id: str) -> None:
        self.empty_body()
        self.send(await self.executions.stop(self.identity(), execution_id))


class SchedulesHandler(ExecutionsBase):
    @web.authenticated
    async def get(self) -> None:
        workspace_id = self.get_query_argument("workspace_id", None)
        self.send(await self.executions.schedules.list(self.identity(), workspace_id))

    @web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        self.send(await self.executions.schedules.create(self.identity(), body), 201)


class ScheduleHandler(ExecutionsBase):
    @web.authenticated
    async def get(self, schedule_id: str) -> None:
        self.send(await self.executions.schedules.get(self.identity(), schedule_id))

    @web.authenticated
    async def patch(self, schedule_id: str) -> None:
        body = self.json_body()
        self.send(await self.executions.schedules.update(self.identity(), schedule_id, body))

    @web.authenticated
    async def delete(self, schedule_id: str) -> None:
        await self.executions.schedules.delete(self.identity(), schedule_id)
        self.send(None, 204)


def handlers() -> list[tuple[str, Any]]:
    return [
        ("executions", ExecutionsHandler),
        (f"executions/{EX_ID}", ExecutionHandler),
        (f"executions/{EX_ID}/stop", StopExecutionHandler),
        ("schedules", SchedulesHandler),
        (f"schedules/{SCH_ID}", ScheduleHandler),
    ]
