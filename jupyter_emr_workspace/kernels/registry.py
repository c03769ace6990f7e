"""Which sparkmagic config belongs to which Workspace folder: a small JSON index file.

The server extension writes `<jupyter runtime dir>/emr-workspace/kernels.json` as
`{"<absolute Workspace folder>": "<absolute sparkmagic conf dir>"}`; the kernel provisioner
reads it at kernel start. A file (not a marker inside the Workspace) keeps the user's folder
clean and lets provisioners in other processes see it. `EMR_WORKSPACE_KERNEL_REGISTRY`
points elsewhere (tests, several servers sharing one runtime dir).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from jupyter_core.paths import jupyter_runtime_dir

REGISTRY_ENV = "EMR_WORKSPACE_KERNEL_REGISTRY"

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; writers are rare and the write is atomic
    fcntl = None  # type: ignore[assignment]


def registry_path() -> Path:
    override = os.environ.get(REGISTRY_ENV)
    if override:
        return Path(override)
    return Path(jupyter_runtime_dir()) / "emr-workspace" / "kernels.json"


def _key(folder: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(folder)))


def read_registry(path: Path | None = None) -> dict[str, str]:
    """The mapping; empty when the file is missing or unreadable (never raises for that)."""
    path = path or registry_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write between servers of the same user."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _write(path: Path, data: dict[str, str]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kernels-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def register_workspace_conf(
    folder: str | os.PathLike[str], conf_dir: str | os.PathLike[str], path: Path | None = None
) -> None:
    """Kernels started in `folder` (or below) get `SPARKMAGIC_CONF_DIR=conf_dir`."""
    path = path or registry_path()
    with _locked(path):
        data = read_registry(path)
        data[_key(folder)] = os.path.abspath(os.fspath(conf_dir))
        _write(path, data)


def unregister_workspace_conf(folder: str | os.PathLike[str], path: Path | None = None) -> None:
    """Forget `folder` (detach, delete, close); a no-op when it is not registered."""
    path = path or registry_path()
    with _locked(path):
        data = read_registry(path)
        if data.pop(_key(folder), None) is not None:
            _write(path, data)


def find_workspace_conf(
    cwd: str | os.PathLike[str], path: Path | None = None
) -> tuple[str, str] | None:
    """(Workspace folder, conf dir) for the innermost registered folder holding `cwd`."""
    data = read_registry(path)
    if not data:
        return None
    here = Path(_key(cwd))
    for candidate in (here, *here.parents):
        conf_dir = data.get(str(candidate))
        if conf_dir is not None:
            return str(candidate), conf_dir
    return None
