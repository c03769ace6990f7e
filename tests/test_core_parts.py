"""The optional parts keep one typed contract (``parts.Part``, ``services.Services``,
``hooks.WorkspaceHooks``): a part is one entry module, overrides only what it needs,
and finds the others' services in typed fields, never under string keys."""

from __future__ import annotations

import dataclasses
import logging
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from jupyter_emr_workspace import parts
from jupyter_emr_workspace.app import build_services
from jupyter_emr_workspace.handlers import BaseHandler
from jupyter_emr_workspace.hooks import WorkspaceHooks
from jupyter_emr_workspace.parts import Host, Part, extra_handlers, load_parts, start_parts
from jupyter_emr_workspace.services import Services
from jupyter_emr_workspace.studio import Identity, Studio
from jupyter_emr_workspace.workspace_registry import Workspace

ALICE = Identity("alice")


def test_services_has_a_typed_field_for_each_part_and_no_untyped_bag() -> None:
    fields = {f.name: str(f.type) for f in dataclasses.fields(Services)}
    untyped = {n: t for n, t in fields.items() if "Any" in t or t.startswith("dict[")}
    assert untyped == {}, "a field a part can hide anything in"
    assert {"storage", "compute", "hub", "executions"} <= set(fields)


def test_every_part_is_one_entry_module_whose_part_keeps_the_contract() -> None:
    loaded = load_parts()
    assert [p.name for p in loaded] == ["hub", "storage", "compute", "terminals", "executions"]
    for name in ("hub", "contents", "compute", "executions"):
        assert f"jupyter_emr_workspace.{name}.part" in parts.PARTS
    for part in loaded:
        assert isinstance(part, Part)
        for path, handler in part.handlers():
            assert issubclass(handler, BaseHandler), (part.name, path)


@pytest.fixture
def core(tmp_path: Path) -> Services:
    studio = Studio(backup_uri=str(tmp_path / "store"), audit_log_path=str(tmp_path / "a.jsonl"))
    return build_services(studio, str(tmp_path / "root"), "server-a")


class ClosesOnly(WorkspaceHooks):
    """A part's hooks that care about one moment only."""

    def __init__(self) -> None:
        self.closed: list[str] = []

    async def on_close(self, ws: Workspace) -> None:
        self.closed.append(ws.id)


async def test_a_hook_overrides_only_the_moments_it_needs(core: Services) -> None:
    hook = ClosesOnly()
    core.hooks.add(hook)
    ws = await core.workspaces.create_workspace(ALICE, {"name": "w"})
    opened = await core.workspaces.open(ALICE, ws["id"])
    await core.workspaces.update_workspace(ALICE, ws["id"], {"description": "d"})
    await core.workspaces.close(ALICE, ws["id"], {"token": opened["lease"]["token"]})
    deleted = await core.workspaces.delete_workspace(ALICE, ws["id"], delete_notebooks=True)
    assert hook.closed == [ws["id"]]
    assert deleted["id"] == ws["id"]


ECHO_PART = """
from tornado import web

from jupyter_emr_workspace.handlers import BaseHandler
from jupyter_emr_workspace.parts import Host, Part, Route
from jupyter_emr_workspace.services import Services


class EchoHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.send({"echo": True})


class EchoPart(Part):
    name = "echo"

    def start(self, host: Host, services: Services) -> None:
        self.started = services.studio.id

    def handlers(self) -> list[Route]:
        return [("echo", EchoHandler)]


PART = EchoPart()
"""


async def test_a_new_part_is_one_module_and_one_line(
    core: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "echo_part.py").write_text(textwrap.dedent(ECHO_PART))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(parts, "PARTS", ["echo_part"])  # the one line
    host = Host(server=None, log=logging.getLogger("test"))  # type: ignore[arg-type]
    start_parts(host, core)
    echo = sys.modules["echo_part"].PART
    assert echo.started == core.studio.id
    assert [path for path, _ in extra_handlers()] == ["echo"]
    await parts.stop_parts(host, core)  # the default stop: nothing to do, no error


def test_an_entry_module_without_a_part_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not_a_part.py").write_text("def start(app, services):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(parts, "PARTS", ["not_a_part"])
    with pytest.raises(TypeError, match=r"not_a_part\.PART"):
        load_parts()


async def test_a_stopped_part_answers_503_naming_it_not_500(
    api: Any, services: Services, jp_serverapp: Any
) -> None:
    wid = (await api("POST", "workspaces", {"name": "w"})).json["id"]
    assert (await api("GET", f"workspaces/{wid}/share")).code == 200
    hub = next(p for p in load_parts() if p.name == "hub")
    await hub.stop(Host(jp_serverapp, logging.getLogger("test")), services)
    r = await api("GET", f"workspaces/{wid}/share")
    assert r.code == 503 and r.error["code"] == "PartNotRunning"
    assert "hub" in r.error["message"]
