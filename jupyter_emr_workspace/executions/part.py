"""Executions as a part of the server (its entry module, see ``parts.py``): the service,
its handlers, this server's runner and scheduler.

The in-process runner claims only the executions of this server's owner (as terminals
are the owner's): a runner's kernel runs with the server's rights, and sparkmagic's
``%%local`` runs code on this machine, so another user's notebook must never run here.
Anyone's executions are ended here when their runner died (that runs no code).
"""

from __future__ import annotations

import functools
import logging

from tornado import web
from tornado.ioloop import IOLoop

from ..errors import BadRequest, NotFound
from ..handlers import BaseHandler
from ..parts import Host, Part, Route
from ..services import Services, running
from ..studio import Identity
from .model import Execution, is_attachment
from .notebook import NotebookExecutor, Resolver, SessionSettings, Target
from .records import ExecutionStore
from .runner import Runner
from .schedules import Scheduler, ScheduleService, ScheduleStore
from .service import RUNTIME_ROLE_SOURCE, ExecutionService

EX_ID = r"(?P<execution_id>[^/]+)"
SCH_ID = r"(?P<schedule_id>[^/]+)"
log = logging.getLogger(__name__)


def make_resolver(services: Services) -> Resolver:
    """The Livy endpoint (and the Workspace's Livy session settings) of an execution's
    cluster, resolved as a Workspace's reopen does: with the Studio's credentials. With an
    execution role, the runner acts for the submitter, as their interactive kernels do:
    it checks again that they may pass the role (their policies may have changed while it
    was queued), and gets the role's Livy credentials with the submitter's AWS identity
    (``ComputeService.client``: in IDENTITY_CENTER mode the user role narrowed by their
    session policy; else the Studio's service role or this process's own credentials)."""

    async def resolve(ex: Execution) -> Target:
        compute = running(services.compute, "compute")
        cluster = ex.cluster or {}
        source = compute.source(cluster.get("type"))
        _, endpoint = await source.resolve(None, cluster["id"], cluster.get("endpoint_id"))
        endpoint = compute.for_workspace(source, ex.workspace_id, endpoint)
        session: SessionSettings = {}
        try:
            att = (await services.registry.get(ex.workspace_id)).attachment or {}
        except NotFound:  # deleted since: the cluster was named in the record
            att = {}
        if is_attachment(att, cluster):
            session = dict(att.get("session") or {})
        role = cluster.get("execution_role_arn")
        if not role:
            return Target(endpoint, session)
        if source.type != RUNTIME_ROLE_SOURCE:
            raise BadRequest(f"{source.type} takes no execution role")
        submitter = Identity(ex.created_by, tuple(ex.created_by_groups))
        cluster_id = str(cluster["id"])
        await compute.roles.require(submitter, source.type, role, source.arn(cluster_id))
        endpoint, session = compute.roles.adapt(source.type, endpoint, session, role)
        fetch = compute.roles.cluster_session_credentials
        return Target(endpoint, session, functools.partial(fetch, submitter, cluster_id, role))

    return resolve


def make_runner(
    services: Services, service: ExecutionService, runner_id: str, *, shared: bool = False
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


def build(services: Services) -> ExecutionService:
    """The executions and schedules services, on the Studio's store."""
    return ExecutionService(
        services,
        ExecutionStore(services.store, services.layout),
        ScheduleStore(services.store, services.layout),
    )


def make_scheduler(
    services: Services, service: ExecutionService, *, shared: bool = False
) -> Scheduler:
    studio = services.studio
    return Scheduler(
        service.schedules.schedules,
        service.schedules.submit,
        tick_seconds=studio.schedule_tick_seconds,
        idle_seconds=None if shared else studio.execution_idle_poll_seconds,
    )


class ExecutionsPart(Part):
    name = "executions"

    def start(self, host: Host, services: Services) -> None:
        from ..terminals import server_owner

        service = build(services)
        services.executions = service
        if services.studio.executions_runner:
            owner = server_owner(services.studio)
            runner = make_runner(services, service, f"server:{services.leases.server_id}")
            runner.accept = lambda ex: ex.created_by == owner
            service.runner = runner
            service.scheduler = scheduler = make_scheduler(services, service)
            # the server's event loop runs only after the extensions are loaded
            IOLoop.current().add_callback(runner.start)
            IOLoop.current().add_callback(scheduler.start)
            host.log.info("jupyter-emr-workspace: runs the notebook executions of %r here", owner)

    async def stop(self, host: Host, services: Services) -> None:
        service = services.executions
        if service is None:
            return
        if service.scheduler is not None:
            await service.scheduler.stop()
        if service.runner is not None:
            await service.runner.stop(budget=services.studio.flush_timeout)

    def handlers(self) -> list[Route]:
        return [
            ("executions", ExecutionsHandler),
            (f"executions/{EX_ID}", ExecutionHandler),
            (f"executions/{EX_ID}/stop", StopExecutionHandler),
            ("schedules", SchedulesHandler),
            (f"schedules/{SCH_ID}", ScheduleHandler),
        ]


class ExecutionsBase(BaseHandler):
    @property
    def executions(self) -> ExecutionService:
        return running(self.services.executions, "executions")

    @property
    def schedules(self) -> ScheduleService:
        return self.executions.schedules

    def query(self) -> dict[str, str]:
        """The filters, without JupyterLab's cache-buster: ServerConnection adds a bare
        number with no value (``?1796049146029``) to every GET, which is no filter."""
        return {
            k: self.get_query_argument(k, strip=False)
            for k, values in self.request.query_arguments.items()
            if not (k.isdigit() and values == [b""])
        }


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
        self.send(await self.schedules.list(self.identity(), workspace_id))

    @web.authenticated
    async def post(self) -> None:
        self.send(await self.schedules.create(self.identity(), self.json_body()), 201)


class ScheduleHandler(ExecutionsBase):
    @web.authenticated
    async def get(self, schedule_id: str) -> None:
        self.send(await self.schedules.get(self.identity(), schedule_id))

    @web.authenticated
    async def patch(self, schedule_id: str) -> None:
        body = self.json_body()
        self.send(await self.schedules.update(self.identity(), schedule_id, body))

    @web.authenticated
    async def delete(self, schedule_id: str) -> None:
        await self.schedules.delete(self.identity(), schedule_id)
        self.send(None, 204)


PART = ExecutionsPart()
