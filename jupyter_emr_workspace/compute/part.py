"""Compute as a part of the server (its entry module, see ``parts.py``): builds the
ComputeService, its handlers and hooks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_server.utils import ensure_async
from tornado import web

from ..handlers import WS_ID, BaseHandler
from ..parts import Host, Part, Route
from ..services import Services, running
from . import app_ui_proxy
from .app_ui import AppUiService
from .service import ComputeService

if TYPE_CHECKING:
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
    from jupyter_server.services.sessions.sessionmanager import SessionManager


class ServerKernels:
    """The jupyter-server's kernels, found by the folder they run in."""

    def __init__(
        self, kernel_manager: MappingKernelManager, session_manager: SessionManager | None = None
    ) -> None:
        self.km = kernel_manager
        self.sm = session_manager

    async def describe(self, kernel_ids: list[str]) -> list[str]:
        """What a user knows these kernels by: their sessions' paths, else their ids."""
        paths: dict[str, str] = {}
        if self.sm is not None:
            for session in await self.sm.list_sessions():
                kernel = (session.get("kernel") or {}).get("id")
                if kernel in kernel_ids and session.get("path"):
                    paths[kernel] = str(session["path"])
        return [paths.get(k, f"kernel {k}") for k in kernel_ids]

    def running_in(self, folder: Path) -> list[str]:
        root = os.path.realpath(folder)
        found = []
        for kernel_id in list(self.km.list_kernel_ids()):
            try:
                kernel = self.km.get_kernel(kernel_id)
            except KeyError:
                continue
            cwd = (getattr(kernel, "_launch_args", None) or {}).get("cwd")
            if cwd:
                real = os.path.realpath(cwd)
                if real == root or real.startswith(root + os.sep):
                    found.append(kernel_id)
        return found

    async def restart(self, kernel_ids: list[str]) -> None:
        for kernel_id in kernel_ids:
            await ensure_async(self.km.restart_kernel(kernel_id))


class ComputePart(Part):
    name = "compute"

    def start(self, host: Host, services: Services) -> None:
        server = host.server
        compute = ComputeService(
            services.studio,
            services.aws,
            services.registry,
            services.leases,
            services.access,
            services.guard,
            services.arns,
            services.folders,
            services.workspaces,
            ServerKernels(server.kernel_manager, server.session_manager),
        )
        services.compute = compute
        services.hooks.add(compute.hooks)
        # Spark UI / driver log links (app_ui.py); kernels find the API path in workspace.json
        compute.app_ui = AppUiService(compute, server.base_url or "/")

    async def stop(self, host: Host, services: Services) -> None:
        if services.compute is not None:
            await services.compute.stop()

    def handlers(self) -> list[Route]:
        return [
            ("clusters", ClustersHandler),
            ("templates", TemplatesHandler),
            ("execution-roles", ExecutionRolesHandler),
            (f"workspaces/{WS_ID}/attach", AttachHandler),
            (f"workspaces/{WS_ID}/detach", DetachHandler),
            (f"workspaces/{WS_ID}/restart-kernels", RestartKernelsHandler),
            *app_ui_proxy.handlers(),
        ]


class ComputeHandler(BaseHandler):
    @property
    def compute(self) -> ComputeService:
        return running(self.services.compute, "compute")


class ClustersHandler(ComputeHandler):
    @web.authenticated
    async def get(self) -> None:
        self.send(await self.compute.list_clusters(self.identity()))

    @web.authenticated
    async def post(self) -> None:
        self.send(await self.compute.create_cluster(self.identity(), self.json_body()), 201)


class TemplatesHandler(ComputeHandler):
    @web.authenticated
    async def get(self) -> None:
        await self.services.guard.require_member(self.identity())
        self.send(self.compute.list_templates())


class AttachHandler(ComputeHandler):
    @web.authenticated
    async def post(self, workspace_id: str) -> None:
        self.send(await self.compute.attach(self.identity(), workspace_id, self.json_body()))


class DetachHandler(ComputeHandler):
    @web.authenticated
    async def post(self, workspace_id: str) -> None:
        self.send(await self.compute.detach(self.identity(), workspace_id, self.json_body()))


class RestartKernelsHandler(ComputeHandler):
    @web.authenticated
    async def post(self, workspace_id: str) -> None:
        self.empty_body()
        self.send(await self.compute.restart_kernels(self.identity(), workspace_id))


class ExecutionRolesHandler(ComputeHandler):
    """The roles the user may run Spark as on a source (the panel offers only these)."""

    @web.authenticated
    async def get(self) -> None:
        identity = self.identity()
        await self.services.guard.require_member(identity)
        kind = self.get_query_argument("type", "emr-serverless")
        self.send({"roles": await self.compute.roles.choices(identity, kind)})


PART = ComputePart()
