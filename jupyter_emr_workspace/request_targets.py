"""What a request reads or changes, decided by the handler that serves it.

The authorizer only sees ``(handler, user, action, resource)``. Which file, kernel or
session a request is about depends on the handler: jupyter_server's own handlers are
listed here with what each method touches (paths as tornado decoded them, and the
request body read the way the handler reads it, legacy forms included). A handler
that is not listed is read generically: every path-like argument counts, and a change
through a path inside the Workspaces folder is refused (default-deny). Handlers of
jupyter-collaboration and the terminals are guarded for changes by their own layer;
only their reads are judged here.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any, Literal

#: read: see files; write: change or create at a path; remove: delete or rename the
#: path itself; run: start or drive code (a kernel) whose folder is the target;
#: control: stop, restart or rebind a kernel or session; refuse: a change the lock
#: cannot attribute (an unknown handler naming a path in the Workspaces folder).
Kind = Literal["read", "write", "remove", "run", "control", "refuse"]


@dataclass(frozen=True)
class Target:
    kind: Kind
    path: str | None = None  # contents-API path
    kernel_id: str | None = None
    session_id: str | None = None


#: Handlers implemented by another part of the extension (``hub/rooms.py`` and the
#: terminal guard), which decide who may change a document or run a terminal there.
#: Reads are still checked here (section "reads" in docs/security.md).
DELEGATED_MODULES = ("jupyter_server_ydoc", "jupyter_collaboration", "jupyter_server_terminals")

#: Argument names that carry a contents path, for handlers not listed below.
PATH_KEYS = ("path", "file", "cwd", "notebook", "copy_from", "tree", "target", "source", "dest")


def body(handler: Any) -> dict[str, Any]:
    """The JSON body as jupyter_server's ``get_json_body`` reads it: ASCII whitespace
    (form feed and vertical tab included) stripped, then UTF-8 ({} when it is not a JSON
    object; jupyter_server then answers 400 itself)."""
    return _object(lambda: json.loads(handler.request.body.strip().decode("utf-8")))


def bodies(handler: Any) -> list[dict[str, Any]]:
    """Every JSON object a handler we do not know may read from its body: as
    jupyter_server reads it, and as ``json.loads`` reads the raw bytes (which also
    accepts UTF-16 and UTF-32)."""
    found = [body(handler), _object(lambda: json.loads(handler.request.body))]
    return [b for i, b in enumerate(found) if b and b not in found[:i]]


def _object(parse: Any) -> dict[str, Any]:
    try:
        data = parse()
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    return data if isinstance(data, dict) else {}


def _arg(handler: Any, name: str) -> str:
    """A path argument as tornado handed it to the handler (decoded)."""
    kwargs = getattr(handler, "path_kwargs", None) or {}
    if name in kwargs:
        return str(kwargs[name] or "")
    args = getattr(handler, "path_args", None) or []
    return str(args[-1] or "") if name == "path" and args else ""


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def session_path(model: dict[str, Any]) -> str | None:
    """The path a session POST names, read as jupyter_server reads it (the legacy
    ``{"notebook": {"name"|"path": ...}}`` form overrides ``path``)."""
    notebook = model.get("notebook")
    if isinstance(notebook, dict):
        if "name" in notebook:
            return _str(notebook["name"])
        if "path" in notebook:
            return _str(notebook["path"])
    return _str(model.get("path"))


def kernel_folder(path: str) -> str:
    """The folder a session's kernel runs in (the contents manager's get_kernel_path
    gives the parent of a file; walking up to an existing folder stays in it)."""
    return posixpath.dirname(path.strip("/"))


def contents(handler: Any, method: str) -> list[Target]:
    path = _arg(handler, "path")
    if method in {"GET", "HEAD"}:
        return [Target("read", path)]
    if method == "PUT":
        return [Target("write", path)]
    if method == "DELETE":
        return [Target("remove", path)]
    if method == "PATCH":
        new = _str(body(handler).get("path"))
        return [Target("remove", path)] + ([Target("write", new)] if new is not None else [])
    if method == "POST":
        # a new untitled file, an upload or a copy into the folder the URL names
        source = _str(body(handler).get("copy_from"))
        out = [Target("write", posixpath.join(path, "_"))]
        return out + ([Target("read", source)] if source is not None else [])
    return [Target("refuse", path)]


def checkpoints(handler: Any, method: str) -> list[Target]:
    path = _arg(handler, "path")
    return [Target("read" if method in {"GET", "HEAD"} else "write", path)]


def reads_path(handler: Any, method: str) -> list[Target]:
    return [Target("read" if method in {"GET", "HEAD"} else "refuse", _arg(handler, "path"))]


def kernels(handler: Any, method: str) -> list[Target]:
    kernel_id = _arg(handler, "kernel_id")
    if type(handler).__name__ == "KernelWebsocketHandler":  # the channels: code runs
        return [Target("run", kernel_id=kernel_id)]
    if method in {"GET", "HEAD"}:
        return []
    if not kernel_id:  # POST /api/kernels: a new kernel in the folder the body names
        path = _str(body(handler).get("path"))
        return [Target("run", path if path is not None else "")]
    return [Target("control", kernel_id=kernel_id)]


def sessions(handler: Any, method: str) -> list[Target]:
    if method in {"GET", "HEAD"}:
        return []
    session_id = _arg(handler, "session_id")
    model = body(handler)
    if not session_id:  # POST: a kernel starts in the session's folder (or one is reused)
        path = session_path(model)
        out = [Target("run", kernel_folder(path))] if path is not None else []
        kernel = model.get("kernel")
        if isinstance(kernel, dict) and _str(kernel.get("id")):
            out.append(Target("control", kernel_id=kernel["id"]))
        return out
    out = [Target("control", session_id=session_id)]
    if method == "PATCH":
        notebook = model.get("notebook")
        new = _str(notebook.get("path")) if isinstance(notebook, dict) else None
        new = new if new is not None else _str(model.get("path"))
        kernel = model.get("kernel")
        if new is not None:
            out.append(Target("run" if kernel else "write", kernel_folder(new)))
        if isinstance(kernel, dict):
            if _str(kernel.get("id")):
                out.append(Target("control", kernel_id=kernel["id"]))
            else:  # kernel.name: a new kernel starts where the session is
                out.append(Target("run", session_id=session_id))
    return out


#: what tornado's ``get_argument`` turns into spaces before stripping the value
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


def query_values(raw: bytes) -> list[str]:
    """A query value as given, and as ``get_argument`` hands it to a handler (control
    characters made spaces, whitespace stripped)."""
    value = raw.decode("utf-8", "replace")
    return list(dict.fromkeys([value, _CONTROL.sub(" ", value).strip()]))


def file_path(handler: Any, method: str) -> list[Target]:
    """jupyter-server-fileid's ``GET /api/fileid/path?id=``: reads the path of a file id."""
    fim = handler.settings.get("file_id_manager")
    out: list[Target] = []
    for raw in handler.request.query_arguments.get("id", []):
        for value in query_values(raw):
            path = fim.get_path(value) if fim is not None else None
            if isinstance(path, str):
                out.append(Target("read", path))
    return out


def outside(handler: Any, method: str) -> list[Target]:
    return []


def runs_code(handler: Any, method: str) -> list[Target]:
    """A process the server starts for the caller (a language server): code that runs
    with the server's rights, wherever its folder is."""
    return [Target("run", "")]


#: jupyter_server's handlers (and jupyter-lsp's), by module and class name: what each
#: method touches. tests/test_core_routes.py proves each guarded route refuses.
KNOWN: dict[str, Any] = {
    "jupyter_server.services.contents.handlers.ContentsHandler": contents,
    "jupyter_server.services.contents.handlers.CheckpointsHandler": checkpoints,
    "jupyter_server.services.contents.handlers.ModifyCheckpointsHandler": checkpoints,
    "jupyter_server.services.contents.handlers.TrustNotebooksHandler": checkpoints,
    "jupyter_server.services.contents.handlers.NotebooksRedirectHandler": outside,
    "jupyter_server.base.handlers.AuthenticatedFileHandler": reads_path,
    "jupyter_server.files.handlers.FilesHandler": reads_path,
    "jupyter_server.view.handlers.ViewHandler": reads_path,
    "jupyter_server.nbconvert.handlers.NbconvertFileHandler": reads_path,
    "jupyter_server.nbconvert.handlers.NbconvertPostHandler": outside,  # converts the body
    "jupyter_server.services.kernels.handlers.MainKernelHandler": kernels,
    "jupyter_server.services.kernels.handlers.KernelHandler": kernels,
    "jupyter_server.services.kernels.handlers.KernelActionHandler": kernels,
    "jupyter_server.services.kernels.websocket.KernelWebsocketHandler": kernels,
    "jupyter_server.services.sessions.handlers.SessionRootHandler": sessions,
    "jupyter_server.services.sessions.handlers.SessionHandler": sessions,
    "jupyter_lsp.handlers.LanguageServerWebSocketHandler": runs_code,
    "jupyter_server_fileid.handler.FilePathHandler": file_path,
    # /api/me?permissions=... asks the authorizer hypothetical questions: nothing is touched
    "jupyter_server.services.api.handlers.IdentityHandler": outside,
}


def handler_name(handler: Any) -> str:
    cls = type(handler)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_delegated(handler: Any) -> bool:
    return type(handler).__module__.split(".")[0] in DELEGATED_MODULES


#: Resources whose non-read actions run code (jupyter_server's names).
CODE_RESOURCES = ("kernels", "terminals", "lsp")


def generic(handler: Any, action: str, resource: str) -> list[Target]:
    """Every path-like argument of a handler this module does not know; a kernel or
    session it names by id; and, for an action on a code-running resource, the rule for
    running code."""
    # a route that asks for "read" but is called with a method that may change things
    # (a POST that writes, say) is judged as a change
    reads = action == "read" and handler.request.method in {"GET", "HEAD", "OPTIONS"}
    kind: Kind = "read" if reads else "refuse"
    out: list[Target] = []
    kwargs = getattr(handler, "path_kwargs", None) or {}
    if not reads:
        if isinstance(kwargs.get("kernel_id"), str):
            out.append(Target("run", kernel_id=kwargs["kernel_id"]))
        if isinstance(kwargs.get("session_id"), str):
            out.append(Target("control", session_id=kwargs["session_id"]))
        if resource in CODE_RESOURCES:
            out.append(Target("run", ""))
    found: list[str] = []
    found += [str(v) for v in kwargs.values() if isinstance(v, str)]
    found += [str(v) for v in (getattr(handler, "path_args", None) or []) if isinstance(v, str)]
    request = handler.request
    for key in PATH_KEYS:  # get_argument reads the query and a form-encoded body
        for value in request.query_arguments.get(key, []) + request.body_arguments.get(key, []):
            found += query_values(value)
    if request.method in {"POST", "PUT", "PATCH", "DELETE"}:
        for model in bodies(handler):
            found += [v for k in PATH_KEYS if (v := _str(model.get(k))) is not None]
            notebook = model.get("notebook")
            if isinstance(notebook, dict) and (path := _str(notebook.get("path"))) is not None:
                found.append(path)
    return out + [Target(kind, p) for p in dict.fromkeys(found)]


def targets(handler: Any, action: str, resource: str) -> list[Target]:
    """What the request served by ``handler`` reads or changes."""
    method = handler.request.method.upper()
    known = KNOWN.get(handler_name(handler))
    if known is not None:
        return list(known(handler, method))
    return generic(handler, action, resource)
