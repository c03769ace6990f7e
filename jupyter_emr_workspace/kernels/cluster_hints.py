"""sparkmagic's kernels, with errors that say what happened to the Workspace's cluster.

When a cluster terminates under a running kernel, sparkmagic reports only "Error sending
http request and maximum retry encountered.". These subclasses add which cluster the
Workspace is attached to and what to do, from `workspace.json`, which the server writes
beside the Workspace's sparkmagic `config.json` (so the kernel needs no server access).
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

CLUSTER_FILE = "workspace.json"
#: sparkmagic messages that mean the Livy endpoint or the session on it is gone
GONE_MARKERS = (
    "Error sending http request",
    "maximum retry encountered",
    "Invalid status code '404'",
    "Invalid status code '502'",
    "Invalid status code '503'",
    "unexpectedly reached final status",
)


def cluster_info(conf_dir: str | None = None) -> dict[str, Any]:
    """What the server wrote about the attachment; {} when there is nothing to read."""
    folder = conf_dir or os.environ.get("SPARKMAGIC_CONF_DIR")
    if not folder:
        return {}
    try:
        data = json.loads((Path(folder) / CLUSTER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


NOT_IN_WORKSPACE = (
    "This notebook is not in a Workspace (or its Workspace is not attached to a cluster), so "
    "this kernel has no cluster to run on. Open a Workspace from the EMR Workspaces panel and "
    "attach it to a cluster, or move the notebook into the folder of an attached Workspace; "
    "then restart the kernel."
)


def in_workspace(conf_dir: str | None = None) -> bool:
    """Whether the kernel runs in an attached Workspace, or where an admin pointed sparkmagic.

    The provisioner sets `SPARKMAGIC_CONF_DIR` only for a kernel started in an attached
    Workspace's folder (beside a `workspace.json`); a conf dir with a `config.json` set by the
    admin in the server's environment is theirs to use. Anything else would fall back to
    sparkmagic's defaults (Livy at localhost:8998) and fail with tips about a cluster
    that does not exist.
    """
    folder = conf_dir or os.environ.get("SPARKMAGIC_CONF_DIR")
    if not folder:
        return False
    return (Path(folder) / CLUSTER_FILE).is_file() or (Path(folder) / "config.json").is_file()


def start_early(info: dict[str, Any]) -> bool:
    """The Workspace's setting (on by default): start the session with the kernel."""
    return bool((info.get("kernels") or {}).get("start_session_early", True))


def with_hint(message: str, info: dict[str, Any]) -> str:
    """``message``, plus what to do when it means the cluster is gone."""
    if not any(marker in message for marker in GONE_MARKERS):
        return message
    if not info:  # no Workspace wrote what it is attached to: name nothing that is not there
        return f"{message.rstrip()}\n\nLivy did not answer. {NOT_IN_WORKSPACE}\n"
    if info.get("type") == "local":
        what = "The local Spark engine of this Jupyter server"
        todo = (
            "Reattach the Workspace to 'Local Spark' in the EMR Workspaces panel (that "
            "starts the engine again), then restart this kernel."
        )
    else:
        label = info.get("name") or info.get("cluster_id")
        ident = f" ({info['cluster_id']})" if info.get("cluster_id") not in (None, label) else ""
        what = f"The Workspace's cluster {label}{ident}" if label else "The Workspace's cluster"
        todo = (
            "It may have terminated, been stopped or replaced. In the EMR Workspaces panel, "
            "attach the Workspace to a running cluster, then restart this kernel."
        )
    url = info.get("livy_url")
    where = f" at {url}" if url else ""
    return f"{message.rstrip()}\n\n{what} did not answer (Livy{where}). {todo}\n"


LOCAL_INFO_COLUMNS = ("ID", "Kind", "State", "Spark UI", "Driver log", "User", "Current session?")


def local_sessions_info_html(
    sessions: list[Any], current_session_id: Any, info: dict[str, Any] | None = None
) -> str:
    """`%%info`'s table for the local engine: sparkmagic's without its "YARN Application
    ID" column (there is no YARN here), links through the Jupyter server (`info_links`)
    and the user who attached the Workspace rather than "None"."""
    from .info_links import local_links, session_user

    def link(url: Any) -> str:
        return f'<a target="_blank" href="{escape(str(url))}">Link</a>' if url else ""

    about = info or {}
    head = "".join(f"<th>{name}</th>" for name in LOCAL_INFO_COLUMNS)
    rows = []
    for session in sessions:
        ui, log = local_links(about, session)
        if not about.get("api_path"):
            ui, log = session.get_spark_ui_url(), session.get_driver_log_url()
        cells = (
            escape(str(session.id)),
            escape(str(session.kind)),
            escape(str(session.status)),
            link(ui),
            link(log),
            escape(session_user(about, session)),
            "\u2714" if current_session_id is not None and current_session_id == session.id else "",
        )
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table>\n<tr>{head}</tr>{''.join(rows)}</table>"


def _install_local_info() -> None:
    """Make sparkmagic's `%%info` use `local_sessions_info_html` while the Workspace is
    attached to the local engine (checked at each call: a reattach restarts kernels)."""
    import sparkmagic.livyclientlib.livysession as livysession
    import sparkmagic.magics.sparkmagicsbase as sparkmagicsbase

    for module in (sparkmagicsbase, livysession):
        original = module.get_sessions_info_html
        if getattr(original, "_emr_workspace", False):
            continue

        def info_html(sessions: Any, current: Any, _original: Any = original) -> str:
            from .info_links import emr_links_html

            info = cluster_info()
            if info.get("type") == "local":
                return local_sessions_info_html(list(sessions), current, info)
            return str(_original(sessions, current)) + emr_links_html(info, list(sessions))

        info_html._emr_workspace = True  # type: ignore[attr-defined]
        module.get_sessions_info_html = info_html


def install(kernel: Any) -> None:
    """Route the sparkmagic magics' error output of ``kernel`` through `with_hint`."""
    from . import feedback, row_limit
    from .livy_errors import readable

    feedback.install()
    row_limit.install()
    _install_local_info()
    shell = getattr(kernel, "shell", None)
    magics = shell.magics_manager.registry.get("KernelMagics") if shell else None
    for display in {
        id(d): d
        for d in (
            getattr(magics, "ipython_display", None),
            getattr(kernel, "ipython_display", None),
        )
        if d
    }.values():
        original = display.send_error

        def send_error(error: str, _original: Any = original) -> None:
            _original(with_hint(readable(str(error)), cluster_info()))

        display.send_error = send_error


def hinting(base: type) -> type:
    """A subclass of sparkmagic kernel ``base`` that adds cluster hints to its errors."""

    class HintingKernel(base):
        _notebook_session: Any = None

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if not kwargs.get("testing") and in_workspace() and start_early(cluster_info()):
                self._start_notebook_session()

        def _load_magics_extension(self) -> None:
            super()._load_magics_extension()
            install(self)
            magics = self.shell.magics_manager.registry.get("KernelMagics")
            if magics is not None:  # the Spark magics start sessions through this
                original = magics._do_not_call_start_session

                def start_session(line: str, cell: str = "", local_ns: Any = None) -> Any:
                    self._ensure_notebook_session(magics)
                    return original(line, cell, local_ns)

                magics._do_not_call_start_session = start_session

        def _start_notebook_session(self) -> None:
            """Find this notebook's live session or start one, in the background
            (`notebook_session.py`); sparkmagic then uses it as if it had made it."""
            from .notebook_session import NotebookSession

            magics = self.shell.magics_manager.registry.get("KernelMagics")
            if magics is None or self._fatal_error is not None or magics.session_started:
                return
            self._notebook_session = NotebookSession(magics, magics.ipython_display)
            self._notebook_session.start()

        def _ensure_notebook_session(self, magics: Any) -> None:
            """A Spark cell needs the session: the notebook's own (found or started here,
            when not started with the kernel, or after %%configure -f deleted it)."""
            if not in_workspace() or magics.fatal_error:
                return
            current = self._notebook_session
            if current is None or (current.consumed and not magics.session_started):
                self._start_notebook_session()
            if self._notebook_session is not None:
                self._notebook_session.wait()

        def do_execute(
            self,
            code: str,
            silent: bool,
            store_history: bool = True,
            user_expressions: Any = None,
            allow_stdin: bool = False,
        ) -> Any:
            # The signature is sparkmagic's: ipykernel passes cell_id only to a do_execute
            # that takes it, and sparkmagic's does not.
            # Outside a Workspace say so at once, instead of sparkmagic's retries against a
            # Livy at localhost:8998 and its tips about a cluster.
            if not in_workspace():
                self.ipython_display.send_error(NOT_IN_WORKSPACE)
                return self._complete_cell()
            if self._notebook_session is not None:  # started with the kernel
                try:
                    self._notebook_session.wait()
                except KeyboardInterrupt:
                    self.ipython_display.send_error(
                        "Interrupted while waiting for the Spark session; it goes on "
                        "starting, and the next cell waits for it again."
                    )
                    return self._complete_cell()
            return super().do_execute(code, silent, store_history, user_expressions, allow_stdin)

        def do_shutdown(self, restart: bool) -> Any:
            # a bar left open would read as a broken widget after the restart
            from .feedback import retire_all
            from .notebook_session import forget_sessions, keep_sessions_for_next_server

            retire_all()
            if self._notebook_session is not None:
                self._notebook_session.settle()  # a session still starting is deleted too
            if not restart and keep_sessions_for_next_server():
                # the server is stopping, not the user: the next server's kernel reattaches,
                # and Livy's heartbeat timeout reaps the session if none comes
                magics = self.shell.magics_manager.registry.get("KernelMagics")
                if magics is not None:
                    forget_sessions(magics.spark_controller)
                return self._do_shutdown_ipykernel(restart)
            return super().do_shutdown(restart)

    HintingKernel.__name__ = HintingKernel.__qualname__ = f"Workspace{base.__name__}"
    return HintingKernel


def launch(kernel_class: type) -> None:
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=kernel_class)
