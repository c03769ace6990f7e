"""A pytest plugin that points jupyter_server's own contents tests at our manager.

``tests/test_stock_contents.py`` runs ``tests/services/contents/test_{manager,api,
largefilemanager,checkpoints}.py`` of the installed jupyter_server release (a copy taken
from its sdist, see ``scripts/_env.sh``) in a pytest subprocess with ``-p`` this module.
Their manager fixtures are parametrized inside each test module, so a conftest cannot
override them; a ``parametrize`` mark on each test can (pytest then skips the fixture's
own params). Every test that reaches a manager gets ``WorkspaceContentsManager``, and
the run fails if a module has no such test (jupyter_server renamed a fixture), so the
tests can never pass against the stock classes by accident.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from typing import Any

import pytest
from traitlets.config import Config

MODULES = ("test_manager", "test_api", "test_largefilemanager", "test_checkpoints")


def _manager() -> type:
    """The class a plain install puts in place (contents/choice.py), not one named here:
    the manager-level tests construct it directly (no server, so no config to leave out),
    while test_api.py gets it from a server configured as installed (`_served_as_installed`)."""
    from traitlets.utils.importstring import import_item

    from jupyter_emr_workspace.contents.choice import MANAGER

    cls: type = import_item(MANAGER)
    return cls


def _checkpoints() -> type:
    from jupyter_emr_workspace.contents.checkpoints import WorkspaceCheckpoints

    return WorkspaceCheckpoints


_STORE = tempfile.mkdtemp(prefix="emrws-stock-")  # the Studio's (unused) backup location


def _served_as_installed() -> Config:
    """The extension enabled with a Studio, no contents manager named: it picks its own."""
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {
                    "jupyter_server_terminals": True,
                    "jupyter_emr_workspace": True,
                }
            },
            "Studio": {"id": "es-stock", "backup_uri": _STORE},
        }
    )


@functools.cache
def _marks() -> dict[str, Any]:
    """Fixture name → the parametrize mark that replaces its params (stock classes)."""
    manager = _manager()
    return {
        # test_manager.py: (class, use_atomic_writing) and the bare class
        "jp_contents_manager": pytest.mark.parametrize(
            "jp_contents_manager", [(manager, True), (manager, False)], indirect=True
        ),
        "jp_file_contents_manager_class": pytest.mark.parametrize(
            "jp_file_contents_manager_class", [manager], indirect=True
        ),
        "file_manager_with_notary": pytest.mark.parametrize(
            "file_manager_with_notary", [manager], indirect=True
        ),
        # test_largefilemanager.py
        "jp_large_contents_manager": pytest.mark.parametrize(
            "jp_large_contents_manager", [manager], indirect=True
        ),
        # test_checkpoints.py: (manager class, checkpoints class)
        "contents_manager": pytest.mark.parametrize(
            "contents_manager", [(manager, _checkpoints())], indirect=True
        ),
        # test_api.py builds the server's argv from a class name in jupyter_server's
        # filemanager module: replace it (and the server config) with the extension as
        # installed, which puts WorkspaceContentsManager in place by itself.
        "jp_argv": pytest.mark.parametrize(
            "jp_argv,jp_server_config",
            [pytest.param([], _served_as_installed(), id="extension-installed")],
        ),
    }


_applied: dict[str, int] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module not in MODULES:
        return
    for name, mark in _marks().items():
        if name == "jp_argv" and module != "test_api":
            continue  # other modules' servers only host the files their managers read
        if name in metafunc.fixturenames:
            metafunc.definition.add_marker(mark)
            _applied[module] = _applied.get(module, 0) + 1


def pytest_collection_finish(session: pytest.Session) -> None:
    """Fail the run if a manager fixture was not replaced (jupyter_server renamed or added
    one): its tests would otherwise pass against the stock classes."""
    missed: set[str] = set()
    collected: set[str] = set()
    for item in session.items:
        module = getattr(item, "module", None)
        if module is None or module.__name__.rsplit(".", 1)[-1] not in MODULES:
            continue
        collected.add(module.__name__.rsplit(".", 1)[-1])
        names = getattr(item, "fixturenames", [])
        missed |= {n for n in names if "manager" in n and n not in _marks()} - {"extension_manager"}
    missed |= {m for m in collected if not _applied.get(m)}
    if missed:
        raise pytest.UsageError(
            f"not pointed at WorkspaceContentsManager: {sorted(missed)}; jupyter_server "
            "changed its contents tests: update tests/emrws_testing/stock_contents.py"
        )


@pytest.fixture(autouse=True)
def _api_served_by_workspace_contents(request: pytest.FixtureRequest) -> None:
    """Each test of the REST API is served by WorkspaceContentsManager."""
    if request.module.__name__.endswith(".test_api") and "jp_serverapp" in request.fixturenames:
        app = request.getfixturevalue("jp_serverapp")
        assert isinstance(app.contents_manager, _manager()), type(app.contents_manager)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_STORE, ignore_errors=True)
