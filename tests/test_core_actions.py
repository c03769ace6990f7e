"""Action names are spelled once (``actions.py``) and asked through one call
(``Guard.on_workspace``): a misspelt action is an AttributeError, not a silent denial,
and no call site can pair a Workspace's ARN with another Workspace's tags."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jupyter_emr_workspace
from jupyter_emr_workspace import actions
from jupyter_emr_workspace.app import build_services
from jupyter_emr_workspace.errors import Forbidden
from jupyter_emr_workspace.permission_checks import ANY_WORKSPACE
from jupyter_emr_workspace.studio import Identity, Studio

PACKAGE = Path(jupyter_emr_workspace.__file__).parent
ACTIONS_PY = PACKAGE / "actions.py"
#: Every service namespace an action of this server (or a policy for it) is in.
SERVICES = (
    "elasticmapreduce",
    "emr-containers",
    "emr-serverless",
    "emr-workspace",
    "iam",
    "servicecatalog",
)
#: An action or condition key ("service:Name"), or EMR's prefix alone (the others are
#: also boto3 client names and folder names, so they may stand alone).
SPELT = re.compile(rf"^(({'|'.join(map(re.escape, SERVICES))}):[A-Z]|elasticmapreduce$)")
#: The tail of ``f"{PREFIX}:ActionName"``.
TAIL = re.compile(r"^:[A-Z][A-Za-z]+$")
ACTION = re.compile(rf"^({'|'.join(map(re.escape, SERVICES))}):[A-Z][A-Za-z]+$")


def modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != ACTIONS_PY:
            yield path, ast.parse(path.read_text(), str(path))


def docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring nodes (prose may name actions)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def spelt_outside_actions() -> list[str]:
    found: list[str] = []
    for path, tree in modules():
        skip = docstrings(tree)
        for node in ast.walk(tree):
            where = f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) not in skip and SPELT.match(node.value):
                    found.append(f"{where} {node.value!r}")
            elif isinstance(node, ast.JoinedStr):
                for part in node.values[1:]:
                    if isinstance(part, ast.Constant) and TAIL.match(str(part.value)):
                        found.append(f"{where} f'...{part.value}'")
    return found


def test_no_module_but_actions_spells_an_action_or_a_service_prefix() -> None:
    # a literal action elsewhere could be misspelt without any tool noticing
    assert spelt_outside_actions() == []


def used_names() -> set[str]:
    """Names of ``actions`` that other modules use (``actions.X`` or imported)."""
    used: set[str] = set()
    for _, tree in modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "actions"
            ):
                used.add(node.attr)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith("actions"):
                used |= {alias.name for alias in node.names}
    # the UI's lists are evaluated whole: their members are used when they are
    for listed in ("STUDIO_ACTIONS", "WORKSPACE_ACTIONS"):
        if listed in used:
            used |= {n for n, v in vars(actions).items() if v in getattr(actions, listed)}
    return used


def defined_actions() -> dict[str, str]:
    return {n: v for n, v in vars(actions).items() if isinstance(v, str) and ACTION.match(v)}


def test_the_actions_the_code_uses_are_the_actions_defined() -> None:
    defined = defined_actions()
    used = used_names()
    assert set(defined) - used == set(), "defined in actions.py but used nowhere"
    missing = {n for n in used if not hasattr(actions, n)}
    assert missing == set(), "used but not defined (a misspelling)"
    # one name per action: two constants for one action would let call sites drift
    values = list(defined.values())
    assert len(values) == len(set(values))


def test_the_ui_lists_hold_only_defined_actions() -> None:
    defined = set(defined_actions().values())
    assert set(actions.STUDIO_ACTIONS) <= defined
    assert set(actions.WORKSPACE_ACTIONS) <= defined


# -- on_workspace: the ARN and the tags a policy sees -----------------------------------

ABAC = {
    "team-only": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [actions.DESCRIBE_EDITOR, actions.UPDATE_EDITOR],
                "Resource": "arn:aws:elasticmapreduce:*:*:editor/*",
                "Condition": {"StringEquals": {"elasticmapreduce:ResourceTag/team": "ds"}},
            },
            {"Effect": "Allow", "Action": actions.LIST_EDITORS, "Resource": "*"},
        ],
    },
    "creator": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions.CREATE_EDITOR, "Resource": "*"}],
    },
}


@pytest.fixture
def services(tmp_path: Path) -> Any:
    studio = Studio(
        id="es-test",
        backup_uri=str(tmp_path / "store"),
        audit_log_path=str(tmp_path / "audit.jsonl"),
        policies=ABAC,
        assignments={"user:dana": "team-only", "user:admin": "creator"},
    )
    return build_services(studio, str(tmp_path / "root"), "server-a")


async def test_on_workspace_judges_a_workspace_by_its_own_arn_and_tags(services: Any) -> None:
    ours = await services.registry.create("ours", "admin", tags={"team": "ds"})
    theirs = await services.registry.create("theirs", "admin", tags={"team": "ops"})
    dana = Identity("dana")

    await services.guard.on_workspace(dana, actions.DESCRIBE_EDITOR, ours)
    with pytest.raises(Forbidden):
        await services.guard.on_workspace(dana, actions.DESCRIBE_EDITOR, theirs)
    # an id alone (a folder whose Workspace is gone) is judged without tags: no ABAC match
    with pytest.raises(Forbidden):
        await services.guard.on_workspace(dana, actions.DESCRIBE_EDITOR, ours.id)

    events = services.audit.recent(10)  # newest first
    assert [(e["resource"], e["outcome"]) for e in events] == [
        (services.arns.workspace(ours.id), "denied"),
        (services.arns.workspace(theirs.id), "denied"),
    ]
    assert services.arns.workspace(ours.id).endswith(f":editor/{ours.id}")


async def test_on_workspace_records_the_body_outcome_with_its_facts(services: Any) -> None:
    ws = await services.registry.create("w", "admin", tags={"team": "ds"})
    dana = Identity("dana")
    async with services.guard.on_workspace(
        dana, actions.UPDATE_EDITOR, ws, details={"fields": ["tags"]}
    ) as facts:
        facts["changed"] = 1
    with pytest.raises(RuntimeError):
        async with services.guard.on_workspace(dana, actions.UPDATE_EDITOR, ws):
            raise RuntimeError("store fell over")
    failed, ok = services.audit.recent(2)  # newest first
    assert (ok["action"], ok["outcome"], ok["details"]) == (
        actions.UPDATE_EDITOR,
        "success",
        {"fields": ["tags"], "changed": 1},
    )
    assert (failed["outcome"], failed["error_code"]) == ("failure", "RuntimeError")
    assert ok["resource"] == failed["resource"] == services.arns.workspace(ws.id)


async def test_on_workspace_any_sees_the_request_tags(services: Any) -> None:
    admin = Identity("admin")
    await services.guard.on_workspace(
        admin, actions.CREATE_EDITOR, ANY_WORKSPACE, request_tags={"team": "ds"}
    )
    with pytest.raises(Forbidden):
        await services.guard.on_workspace(Identity("dana"), actions.CREATE_EDITOR, ANY_WORKSPACE)
    denied = services.audit.recent(1)[0]
    assert denied["resource"] == services.arns.workspace("*")
