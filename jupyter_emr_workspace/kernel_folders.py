"""Which folder each kernel runs in, and the last check before a kernel starts.

A request names a kernel by id; the lock needs the folder it runs in. This server's
kernel manager is wrapped once at start: every kernel start records the folder it runs
in, whatever route (or extension) asked for it, and a start inside a Workspace is
refused unless the user whose request is being served holds its lease. That user is
carried in a context variable set by the authorizer, so a start that no authorized
request asked for counts as nobody's (refused inside Workspaces).
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Callable
from typing import Any

from jupyter_server.utils import ensure_async

from .hooks import WorkspaceHooks
from .leases import Lease
from .workspace_registry import Workspace

log = logging.getLogger(__name__)

#: The user whose request is being served (set by the authorizer, per request task).
requester: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "emr_workspace_requester", default=None
)

#: ``check(user or None, cwd)`` raises to refuse a kernel start in ``cwd``.
StartCheck = Callable[[str | None, str], None]


class KernelFolders:
    """Kernel id → the local folder it runs in (no I/O beyond a readlink), and who
    started it."""

    def __init__(self, kernel_manager: Any) -> None:
        self.km = kernel_manager
        self.started_in: dict[str, str] = {}
        self.started_by: dict[str, str | None] = {}

    def cwd_for(self, path: str | None, kwargs: dict[str, Any]) -> str:
        """The folder a start with these arguments runs in (as MappingKernelManager
        computes it; without a path the kernel inherits the server's folder)."""
        if path is not None:
            cwd_for_path = getattr(self.km, "cwd_for_path", None)
            if cwd_for_path is not None:
                return str(cwd_for_path(path))
            return os.path.join(self.km.root_dir, *path.strip("/").split("/"))
        return str(kwargs.get("cwd") or os.getcwd())

    def install(self, check: StartCheck) -> None:
        """Wrap ``start_kernel``: check the folder, start, remember the folder."""
        original = self.km.start_kernel

        async def start_kernel(*args: Any, **kwargs: Any) -> str:
            kernel_id = kwargs.get("kernel_id")
            if kernel_id is not None and kernel_id in self.km:
                return str(await ensure_async(original(*args, **kwargs)))  # reused, not started
            cwd = self.cwd_for(kwargs.get("path"), kwargs)
            user = requester.get()
            check(user, cwd)
            kernel_id = str(await ensure_async(original(*args, **kwargs)))
            self._record(kernel_id, cwd)
            self.started_by[kernel_id] = user
            return kernel_id

        self.km.start_kernel = start_kernel

    def _record(self, kernel_id: str, cwd: str) -> None:
        for stale in [k for k in self.started_in if k not in self.km]:
            del self.started_in[stale]
            self.started_by.pop(stale, None)
        self.started_in[kernel_id] = os.path.realpath(cwd)  # a few lstat calls

    def folders_of(self, kernel_id: str) -> list[str] | None:
        """Every folder the kernel may be running in: where it was started (as recorded
        here and as the kernel manager remembers it) and, where the OS tells, its
        process's current folder. None: no such kernel; []: a kernel nobody can place."""
        if kernel_id not in self.km:
            return None
        found = [self.started_in.get(kernel_id)]
        try:
            kernel = self.km.get_kernel(kernel_id)
        except KeyError:
            return None
        found.append((getattr(kernel, "_launch_args", None) or {}).get("cwd"))
        pid = getattr(getattr(kernel, "provisioner", None), "pid", None)
        if isinstance(pid, int):
            try:
                found.append(os.readlink(f"/proc/{pid}/cwd"))
            except OSError:
                pass  # not Linux, or the process is gone
        return [str(f) for f in dict.fromkeys(found) if f]


class ForeignKernels(WorkspaceHooks):
    """Workspace hook: when a Workspace opens, stop the kernels of users who may no
    longer run code on this server.

    Code runs with the server's rights, so the authorizer lets a user run code only
    while they hold every Workspace held here (``WorkspaceAuthorizer.check_run``). A
    kernel started before someone else opened a Workspace would otherwise keep running,
    and a thread in it could keep writing into the newly opened folder (the set-aside at
    open catches only what was written before). Its channels are already refused; this
    stops the process itself, before the Workspace's files are restored. Kernels that no
    request started (an extension's own) are left alone.
    """

    def __init__(self, kernels: KernelFolders, may_run: Callable[[str], bool]) -> None:
        self.kernels, self.may_run = kernels, may_run

    def foreign(self) -> list[tuple[str, str]]:
        """(kernel id, who started it) for each running kernel whose starter may not
        run code now."""
        return [
            (kernel_id, user)
            for kernel_id, user in list(self.kernels.started_by.items())
            if user is not None and kernel_id in self.kernels.km and not self.may_run(user)
        ]

    async def on_open(self, ws: Workspace, lease: Lease) -> dict[str, Any]:
        stopped = []
        for kernel_id, user in self.foreign():
            log.warning(
                "Workspace %s opened by %s: stopping kernel %s of %s, who does not hold it "
                "(code runs with the server's rights and could change its files)",
                ws.id,
                lease.user,
                kernel_id,
                user,
            )
            try:
                await ensure_async(self.kernels.km.shutdown_kernel(kernel_id, now=True))
            except KeyError:
                continue  # gone meanwhile
            stopped.append(kernel_id)
        return {"stopped_kernels": len(stopped)} if stopped else {}
