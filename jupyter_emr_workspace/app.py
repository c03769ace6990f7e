"""The server extension: reads the Studio config, builds the services, registers handlers."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_events import EventLogger
from jupyter_server.extension.application import ExtensionApp
from traitlets import TraitError, Unicode

from .assignments import AccessControl, Arns, SessionMappings
from .aws import AwsClients
from .errors import ConfigError
from .events import AuditLog
from .folders import WorkspaceFolders
from .handlers import api_handlers
from .hooks import HookChain
from .kernel_folders import ForeignKernels, KernelFolders
from .layout import Layout
from .leases import LeaseManager
from .listing_index import ListingIndex
from .lock_authorizer import WorkspaceAuthorizer
from .parts import Host, extra_handlers, start_parts, stop_parts
from .permission_checks import Guard
from .services import Services
from .store import BlobStore, open_store
from .studio import Studio
from .workspace_registry import WorkspaceRegistry
from .workspace_service import WorkspaceService


def make_store(studio: Studio, aws: AwsClients) -> BlobStore:
    """The Studio's store, the backend chosen by ``backup_uri``'s scheme (store/__init__.py)."""
    return open_store(studio.resolved_backup_uri, aws)


def build_services(
    studio: Studio, root_dir: str, server_id: str, event_logger: Any = None
) -> Services:
    """Wire the services from a validated Studio (no tornado involved: tests use it too)."""
    aws = AwsClients(studio.aws_settings())
    store = make_store(studio, aws)
    layout = Layout(studio.id)
    arns = Arns(aws.region, studio.account_id, studio.id)
    index = ListingIndex(store, layout)  # one per server: a cold listing reads it once
    # the panel's refreshes reuse what was listed within c.Studio.listing_max_age
    registry = WorkspaceRegistry(
        store, layout, studio.id, index=index, max_age=studio.listing_max_age
    )
    leases = LeaseManager(
        store,
        layout,
        server_id,
        studio.lease_seconds,
        index=index,
        listing_max_age=studio.listing_max_age / 2,
    )
    access = AccessControl(studio, arns, SessionMappings(studio, store, layout.session_mappings))
    audit_path = studio.audit_log_path or os.path.join(
        jupyter_data_dir(), "emr-workspace", f"audit-{studio.id}.jsonl"
    )
    audit = AuditLog(studio.id, audit_path, server_id=server_id, event_logger=event_logger)
    guard = Guard(access, audit)
    folders = WorkspaceFolders(root_dir, studio.workspaces_dir)
    hooks = HookChain()
    service = WorkspaceService(studio, registry, leases, access, guard, audit, arns, folders, hooks)
    return Services(
        studio=studio,
        aws=aws,
        store=store,
        layout=layout,
        registry=registry,
        leases=leases,
        access=access,
        audit=audit,
        guard=guard,
        arns=arns,
        folders=folders,
        hooks=hooks,
        workspaces=service,
    )


class EmrWorkspaceApp(ExtensionApp):
    name = "jupyter_emr_workspace"
    load_other_extensions = True

    server_id = Unicode(
        "",
        config=True,
        help="Names this server in lease locks; default: host name and a random suffix.",
    )

    services: Services

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        """Linking runs before the server builds its contents manager: choose ours here."""
        super()._link_jupyter_server_extension(serverapp)
        from .contents.choice import put_in_place

        put_in_place(serverapp, self.log)

    @property
    def server(self) -> Any:
        assert self.serverapp is not None, "the extension runs inside a ServerApp"
        return self.serverapp

    def initialize_settings(self) -> None:
        try:
            studio = Studio(parent=self)  # a wrong type fails here (traitlets' TraitError)
            studio.validate()
        except (ConfigError, TraitError) as e:
            self.log.critical("jupyter-emr-workspace: invalid configuration: %s", e)
            raise SystemExit(f"jupyter-emr-workspace: invalid configuration: {e}") from None
        server_id = self.server_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        root_dir = self.server.root_dir
        # its own EventLogger, configured like the server's: c.EventLogger.handlers (the
        # admin's sinks) receive audit events, and the default file gets only audit events
        events = EventLogger(parent=self.server)
        self.services = build_services(studio, root_dir, server_id, event_logger=events)
        self.settings["emr_workspace"] = self.services
        self.server.web_app.settings["emr_workspace"] = self.services
        self._install_authorizer()
        self._start_parts()
        # ExtensionApp copies self.settings over the web app's settings after this method:
        # keep the wrapped authorizer (ours, and any part's) from being replaced by the
        # server's original one.
        self.settings["authorizer"] = self.server.web_app.settings["authorizer"]
        self.log.info(
            "jupyter-emr-workspace: Studio %s (%s), store %s, Workspaces in %s",
            studio.name,
            studio.id,
            self.services.store.uri,
            Path(root_dir) / studio.workspaces_dir,
        )

    def _install_authorizer(self) -> None:
        inner = self.server.web_app.settings["authorizer"]
        kernels = KernelFolders(self.server.kernel_manager)
        authorizer = WorkspaceAuthorizer(inner, self.services, kernels, parent=self.server)
        kernels.install(authorizer.check_kernel_start)
        # first of the Workspace hooks: other users' kernels stop before files are restored
        self.services.hooks.add(
            ForeignKernels(kernels, lambda user: not authorizer.open_by_others(user))
        )
        self.server.authorizer = authorizer
        self.server.web_app.settings["authorizer"] = authorizer

    @property
    def host(self) -> Host:
        """What the parts see of this extension."""
        return Host(self.server, self.log)

    def _start_parts(self) -> None:
        """Let the parts (storage, compute, hub, terminals) attach to the services."""
        start_parts(self.host, self.services)

    def initialize_handlers(self) -> None:
        self.handlers.extend(api_handlers(extra_handlers()))

    async def stop_extension(self) -> None:
        if getattr(self, "services", None) is None:
            return  # the extension failed to load: nothing to stop
        await stop_parts(self.host, self.services)
        await self.services.leases.release_all()
        await self.services.store.close()
