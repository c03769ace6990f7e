"""Everything handlers and parts need, in one typed object (``settings["emr_workspace"]``).

The core fields are always set (``app.build_services``). Each optional part sets its own
field when it starts (``parts.py``) and leaves ``None`` when it is not installed, so a
reader of ``services.compute`` sees the type it gets, and a misspelt part is a mypy and
attribute error rather than a ``KeyError`` at request time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .assignments import AccessControl, Arns
from .aws import AwsClients
from .errors import PartNotRunning
from .events import AuditLog
from .folders import WorkspaceFolders
from .hooks import HookChain
from .layout import Layout
from .leases import LeaseManager
from .permission_checks import Guard
from .store import BlobStore
from .studio import Studio
from .workspace_registry import WorkspaceRegistry
from .workspace_service import WorkspaceService

if TYPE_CHECKING:  # the core does not import the parts
    from .compute.service import ComputeService
    from .contents.service import Backups
    from .executions.service import ExecutionService
    from .hub.sharing import HubSharing

T = TypeVar("T")


@dataclass
class Services:
    studio: Studio
    aws: AwsClients
    store: BlobStore
    layout: Layout
    registry: WorkspaceRegistry
    leases: LeaseManager
    access: AccessControl
    audit: AuditLog
    guard: Guard
    arns: Arns
    folders: WorkspaceFolders
    hooks: HookChain
    workspaces: WorkspaceService
    # -- the parts' services (set by their ``start``) ------------------------------------
    storage: Backups | None = None
    compute: ComputeService | None = None
    hub: HubSharing | None = None
    executions: ExecutionService | None = None


def running(service: T | None, part: str) -> T:
    """``service`` when its part runs; else 503 ``PartNotRunning`` naming the part."""
    if service is None:
        raise PartNotRunning(f"The {part} part of this server is not running; ask your admin")
    return service
