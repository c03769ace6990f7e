"""Run one execution: the snapshot, its parameters, the Workspace's Spark kernel, the output.

The notebook is the snapshot taken at submission; parameters are injected as papermill
does (a cell after the one tagged ``parameters``). It runs with the Workspace's
sparkmagic kernel through the same path as interactive kernels: a sparkmagic config for
the chosen cluster (the Workspace's own credential on the embedded engine), found by the
kernel provisioner from the kernel's folder, here a private temporary folder, never the
Workspace's. The kernel makes its own Livy session, named after the execution, which is
deleted when the kernel ends (and, should the kernel die first, by the runner).

Spark statement errors are made fatal for the run (sparkmagic only prints them by
default), so a failing cell fails the execution, naming the cell. A stop interrupts the
kernel, which sparkmagic turns into a cancel of the running statement. The executed
notebook (and its HTML when asked) is written under the Workspace's backups,
``<workspace-id>/executions/<execution-id>/``, so it appears in the Workspace's
``executions/`` folder the next time it is opened.

An execution with an execution role (EMR on EC2 runtime roles) reaches Livy as interactive
kernels with one do: Basic auth with the user and password of
``GetClusterSessionCredentials(ClusterId, ExecutionRoleArn)``, written 0600 into the
execution's private sparkmagic folder (never into the notebook, its output or the record),
read by the kernel's ``RuntimeRoleBasic`` authenticator, and renewed before they expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from jupyter_core.utils import ensure_async
from nbformat import NotebookNode

from ..compute.kernel_credentials import Fetch, KernelCredentials
from ..compute.model import LivyEndpoint
from ..kernels import register_workspace_conf, unregister_workspace_conf
from ..kernels.credential_files import BASIC_FILE
from ..kernels.kernelspecs import KERNELS
from ..kernels.session_cleanup import delete_sessions
from ..kernels.sparkmagic_config import build_sparkmagic_config
from ..store import BlobStore
from .model import (
    FAILED,
    FAILING,
    FINISHED,
    FINISHING,
    RUNNING,
    STOPPED,
    STOPPING,
    Execution,
    output_name,
)
from .runner import Claim, Outcome

if TYPE_CHECKING:
    from nbclient import NotebookClient

log = logging.getLogger(__name__)

#: A Workspace's Livy session settings (``attachment.session``: JSON, as sent to Livy).
SessionSettings = dict[str, Any]


@dataclass
class Target:
    """Where an execution's kernel reaches Livy, and as whom."""

    endpoint: LivyEndpoint
    session: SessionSettings
    #: the execution role's expiring Livy user and password (``{username, password,
    #: expiration}``), fetched before the kernel starts and again before they expire;
    #: None: the endpoint's own authentication
    credentials: Fetch | None = None


#: ``await resolve(execution)`` → its cluster's Livy endpoint, session settings, credentials.
Resolver = Callable[[Execution], Awaitable[Target]]
#: Seconds a stopped execution's kernel has to cancel its statement before it is killed.
STOP_GRACE_SECONDS = 20.0
DEFAULT_KERNEL = "emr-pysparkkernel"


def kernel_for(nb: dict[str, Any]) -> str | None:
    """The Workspace kernel a notebook runs with: its own when it is one of ours, the
    matching one for sparkmagic's upstream names, PySpark when it names none; None for a
    kernel that is not a Spark kernel (it would run code on the runner's machine)."""
    name = str(((nb.get("metadata") or {}).get("kernelspec") or {}).get("name") or "")
    if not name:
        return DEFAULT_KERNEL
    if name in KERNELS:
        return name
    upstream = {"pysparkkernel": "emr-pysparkkernel", "sparkkernel": "emr-sparkkernel"}
    upstream["sparkrkernel"] = "emr-sparkrkernel"
    return upstream.get(name)


#: sparkmagic's own magics: they run on the cluster or only manage the Livy session. Any
#: other cell starting with "%" runs in the kernel process, on the runner's machine.
REMOTE_MAGICS = frozenset(
    {"spark", "sql", "configure", "info", "logs", "cleanup", "delete", "help", "send_to_spark",
     "matplot"}
)  # fmt: skip
#: What a kernel of a shared runner gets from the runner's environment (no credentials).
KERNEL_ENV_KEYS = (
    "PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "JAVA_HOME", "SPARK_LOCAL_IP", "PYTHONPATH",
    "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "EMR_WORKSPACE_KERNEL_REGISTRY",
)  # fmt: skip


def local_code_cells(nb: NotebookNode) -> list[int]:
    """Cells that sparkmagic would run in the kernel process (``%%local``, ``%%bash``, any
    IPython magic), not on the cluster."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        source = str(cell.get("source", "")).lstrip()
        if source.startswith("%"):
            name = source.lstrip("%").split(None, 1)[0] if source.lstrip("%") else ""
            if name not in REMOTE_MAGICS:
                found.append(index)
    return found


def session_name(execution_id: str) -> str:
    return f"emr-execution-{execution_id}"


def inject_parameters(
    nb: NotebookNode, parameters: dict[str, Any], kernel_name: str
) -> NotebookNode:
    """papermill's injection: after the cell tagged ``parameters`` (or first), a cell
    tagged ``injected-parameters`` assigns each value."""
    if not parameters:
        return nb
    from papermill.parameterize import parameterize_notebook

    # what papermill's own loader (iorw.load_notebook_node) adds before it parameterizes
    nb.metadata.setdefault("papermill", {"parameters": {}})
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    language = KERNELS[kernel_name][2]
    return parameterize_notebook(nb, parameters, kernel_name=kernel_name, language=language)


def failed_cell(nb: NotebookNode, index: int | None, ename: str, evalue: str) -> dict[str, Any]:
    """What the record says about the cell that failed."""
    source = ""
    if index is not None and 0 <= index < len(nb.cells):
        source = str(nb.cells[index].get("source", ""))
    return {
        "cell_index": index,
        "cell_number": None if index is None else index + 1,
        "cell_source": source[:1000],
        "ename": ename[:200],
        "evalue": evalue[:2000],
    }


class NotebookExecutor:
    """The runner's executor for notebooks (``runner.Executor``)."""

    def __init__(
        self,
        snapshot: Callable[[str], Awaitable[bytes]],
        store: BlobStore,
        backup_uri: str,
        resolve: Resolver,
        *,
        cell_timeout: float | None = None,
        shared: bool = False,
    ) -> None:
        """``shared``: a runner that runs everyone's executions (a hub service): it runs
        no cell that executes on its own machine, and kernels get no credentials from its
        environment. The in-process runner runs only its owner's, as their kernels do."""
        self.snapshot, self.store, self.backup_uri = snapshot, store, backup_uri.rstrip("/")
        self.resolve, self.cell_timeout, self.shared = resolve, cell_timeout, shared

    async def __call__(self, ex: Execution, claim: Claim) -> Outcome:
        text = (await self.snapshot(ex.id)).decode("utf-8")
        nb = await asyncio.to_thread(nbformat.reads, text, as_version=4)
        kernel = ex.kernel_name or kernel_for(nb) or DEFAULT_KERNEL
        if self.shared and (local := local_code_cells(nb)):
            numbers = ", ".join(str(i + 1) for i in local[:10])
            return Outcome(
                FAILED,
                f"cell {numbers} would run code on the runner's machine (%%local or another "
                "IPython magic); this runner runs notebooks only on the cluster",
                failed_cell(nb, local[0], "LocalCodeRefused", "runs on the runner's machine"),
            )
        nb = await asyncio.to_thread(inject_parameters, nb, ex.parameters, kernel)
        workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=f"emr-{ex.id}-"))
        cwd, conf_dir = workdir / "run", workdir / "sparkmagic"
        endpoint: LivyEndpoint | None = None
        credentials = KernelCredentials()
        try:
            if claim.stop_requested.is_set():
                return Outcome(STOPPED)
            try:
                target = await self.resolve(ex)
            except Exception as e:
                return Outcome(FAILED, f"The cluster {ex.cluster} cannot be used: {_said(e)}")
            endpoint = target.endpoint
            await asyncio.to_thread(self._wire, ex, endpoint, target.session, cwd, conf_dir)
            if target.credentials is not None:
                role = (ex.cluster or {}).get("execution_role_arn")
                try:  # renewed by credentials' own task until the execution ends
                    await credentials.issue(ex.id, conf_dir / BASIC_FILE, target.credentials)
                except Exception as e:
                    why = f"No Livy credentials for execution role {role}: {_said(e)}"
                    return Outcome(FAILED, why)
            outcome = await self._execute(ex, claim, nb, kernel, cwd)
            if outcome.status != STOPPED:
                await claim.set(FINISHING if outcome.status == FINISHED else FAILING)
            outcome.output = await self._write_output(ex, nb)
            return outcome
        finally:
            if endpoint is not None:  # while its credentials are still there
                await asyncio.to_thread(delete_leftover_session, conf_dir, ex.id)
            await credentials.stop()
            await credentials.forget(ex.id)
            await asyncio.to_thread(unregister_workspace_conf, cwd)
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    def _wire(
        self,
        ex: Execution,
        endpoint: LivyEndpoint,
        session: SessionSettings,
        cwd: Path,
        conf_dir: Path,
    ) -> None:
        """A sparkmagic config of its own, found by the provisioner from the kernel's cwd."""
        cwd.mkdir(parents=True)
        conf_dir.mkdir(parents=True)
        settings = {**session, "name": session_name(ex.id)}
        config = build_sparkmagic_config(
            endpoint.url,
            session_settings=settings,
            log_dir=conf_dir,
            **endpoint.sparkmagic_kwargs(),
        )
        # a failing statement must fail its cell (sparkmagic only prints it by default)
        config["all_errors_are_fatal"] = True
        target = conf_dir / "config.json"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f)
        register_workspace_conf(cwd, conf_dir)

    async def _execute(
        self, ex: Execution, claim: Claim, nb: NotebookNode, kernel: str, cwd: Path
    ) -> Outcome:
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        current: dict[str, int] = {}

        async def started(**_: Any) -> None:
            await claim.set(RUNNING, f"kernel {kernel} started")

        def cell_start(cell: NotebookNode, cell_index: int, **_: Any) -> None:
            current["index"] = cell_index

        client = NotebookClient(
            nb,
            kernel_name=kernel,
            timeout=self.cell_timeout,
            allow_errors=False,
            resources={"metadata": {"path": str(cwd)}},
            on_notebook_start=started,
            on_cell_start=cell_start,
        )
        base = (
            {k: os.environ[k] for k in KERNEL_ENV_KEYS if k in os.environ}
            if self.shared
            else dict(os.environ)
        )
        env = {**base, **ex.environment}
        env.pop("SPARKMAGIC_CONF_DIR", None)  # the provisioner sets the execution's own
        run = asyncio.create_task(client.async_execute(env=env, cwd=str(cwd)))
        stop = asyncio.create_task(claim.stop_requested.wait())
        try:
            await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done():
                if not claim.lost:
                    await claim.set(STOPPING, "cancelling the running statement")
                await self._interrupt(client, run)
        finally:
            stop.cancel()
        stopped = claim.stop_requested.is_set()
        try:
            run.result()
        except asyncio.CancelledError:
            return Outcome(STOPPED, "Stopped; the kernel did not cancel in time and was ended")
        except CellExecutionError as e:
            if stopped:
                return Outcome(STOPPED)
            index = current.get("index")
            error = failed_cell(nb, index, e.ename or "Error", e.evalue or str(e))
            where = f"cell {index + 1}" if index is not None else "a cell"
            return Outcome(FAILED, f"{where} failed: {error['ename']}: {error['evalue']}", error)
        except CellTimeoutError as e:
            index = current.get("index")
            error = failed_cell(nb, index, "CellTimeoutError", str(e))
            return Outcome(FAILED, f"cell {error['cell_number']} ran out of time", error)
        except DeadKernelError as e:
            return Outcome(STOPPED if stopped else FAILED, f"The kernel died: {e}")
        except Exception as e:
            if stopped:
                return Outcome(STOPPED)
            return Outcome(
                FAILED, f"The kernel could not run the notebook: {type(e).__name__}: {e}"
            )
        return Outcome(STOPPED) if stopped and not _all_ran(nb) else Outcome(FINISHED)

    async def _interrupt(self, client: NotebookClient, run: asyncio.Task[NotebookNode]) -> None:
        """sparkmagic turns an interrupt into a cancel of the running Spark statement."""
        with contextlib.suppress(Exception):
            if client.km is not None and client.kc is not None:
                # an AsyncKernelManager here (nbclient types it as the sync one)
                await ensure_async(client.km.interrupt_kernel())
        done, _ = await asyncio.wait({run}, timeout=STOP_GRACE_SECONDS)
        if not done:
            run.cancel()
            with contextlib.suppress(BaseException):
                await run

    async def _write_output(self, ex: Execution, nb: NotebookNode) -> dict[str, str]:
        """The executed notebook (and HTML), beside the Workspace's backups."""
        metadata = {"writer": f"execution-{ex.id}"}
        out: dict[str, str] = {}
        key = output_name(ex, ".ipynb")
        # always the notebook (the record of what ran); the HTML too when asked
        data = (await asyncio.to_thread(nbformat.writes, nb)).encode()
        await self.store.put(key, data, metadata=metadata)
        out["notebook"] = f"{self.backup_uri}/{key}"
        if ex.output_format in ("html", "both"):
            html = await asyncio.to_thread(to_html, nb)
            key = output_name(ex, ".html")
            await self.store.put(key, html.encode(), metadata=metadata)
            out["html"] = f"{self.backup_uri}/{key}"
        return out


def _all_ran(nb: NotebookNode) -> bool:
    return all(c.get("execution_count") for c in nb.cells if c.get("cell_type") == "code")


def to_html(nb: NotebookNode) -> str:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    return str(body)


def _said(e: BaseException) -> str:
    return getattr(e, "message", None) or f"{type(e).__name__}: {e}"


def delete_leftover_session(conf_dir: Path, execution_id: str) -> list[int]:
    """Delete the execution's Livy session if the kernel left it (it died, or was ended
    before sparkmagic could clean up), authenticated as the kernel was (its sparkmagic
    config and the role's current Livy user: `session_cleanup.py`, as for Workspaces)."""
    name = session_name(execution_id)
    return delete_sessions(conf_dir, lambda found: found == name, f"Execution {execution_id}")
