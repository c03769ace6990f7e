"""The executions API through the real jupyter-server, with EMR Studio's policies: what a
submission checks and snapshots, listing, stop, audit, and who may do what. The runner is
off here (``c.Studio.executions_runner = False``, as with a hub-managed runner), so
records stay as the API left them; running is tested in test_executions_spark.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import Api

OWN = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {  # executions: only one's own (ABAC on the creatorUserId tag, as EMR's examples)
            "Effect": "Deny",
            "Action": [
                "elasticmapreduce:DescribeNotebookExecution",
                "elasticmapreduce:StopNotebookExecution",
            ],
            "Resource": "arn:aws:elasticmapreduce:*:*:notebook-execution/*",
            "Condition": {"StringNotEquals": {"aws:ResourceTag/creatorUserId": "${aws:username}"}},
        },
    ],
}
READ_ONLY = {
    "Statement": [
        {"Effect": "Allow", "Action": ["elasticmapreduce:Describe*", "elasticmapreduce:List*"],
         "Resource": "*"}
    ]
}  # fmt: skip
BLIND = {
    "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "elasticmapreduce:DescribeEditor", "Resource": "*"},
    ]
}
NO_ATTACH = {
    "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "elasticmapreduce:AttachEditor", "Resource": "*"},
    ]
}
LOCAL = {"type": "local", "id": "local"}


@pytest.fixture
def studio_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-exec",
        "executions_runner": False,
        "auth_mode": "IDENTITY_CENTER",
        "policies": {"own": OWN, "read": READ_ONLY, "blind": BLIND, "no-attach": NO_ATTACH},
        "assignments": {
            "user:alice": "own",
            "user:bob": "own",
            "user:reader": "read",
            "user:blind": "blind",
            "user:carol": "no-attach",
        },
    }


def notebook(*sources: str, kernel: str = "emr-pysparkkernel") -> dict[str, Any]:
    cells = [
        {
            "id": f"cell-{i}",
            "cell_type": "code",
            "source": s,
            "metadata": {},
            "outputs": [],
            "execution_count": None,
        }
        for i, s in enumerate(sources)
    ]
    spec = {"name": kernel, "display_name": kernel, "language": "python"}
    return {"cells": cells, "metadata": {"kernelspec": spec}, "nbformat": 4, "nbformat_minor": 5}


async def workspace_with(api: Api, name: str, files: dict[str, dict[str, Any]]) -> str:
    wid = str((await api("POST", "workspaces", {"name": name})).json["id"])
    assert (await api("POST", f"workspaces/{wid}/open")).code == 200
    for path, nb in files.items():
        if "/" in path:
            folder = f"api/contents/workspaces/{wid}/{path.rsplit('/', 1)[0]}"
            assert (await api("PUT", folder, {"type": "directory"}, base="")).code == 201
        body = {"type": "notebook", "format": "json", "content": nb}
        r = await api("PUT", f"api/contents/workspaces/{wid}/{path}", body, base="")
        assert r.code in (200, 201), r
    return wid


async def test_a_submission_is_snapshot_and_queued(api: Api, services: Any, jp_root_dir: Path):
    wid = await workspace_with(api, "runs", {"etl/nb.ipynb": notebook("n = 1", "print(n)")})
    body = {
        "workspace_id": wid,
        "relative_path": "etl/nb.ipynb",
        "parameters": {"n": 42},
        "cluster": LOCAL,
        "output_format": "both",
        "environment": {"STAGE": "test"},
        "tags": {"team": "data"},
    }
    r = await api("POST", "executions", body)
    assert r.code == 201, r
    ex = r.json
    assert ex["id"].startswith("ex-") and ex["status"] == "START_PENDING"
    assert ex["tags"] == {"team": "data", "creatorUserId": "alice"}
    assert ex["kernel_name"] == "emr-pysparkkernel" and ex["name"] == "nb.ipynb"
    assert ex["output_folder"].endswith(f"/{wid}/executions/{ex['id']}/")
    # the notebook changes after submission: the execution keeps what was submitted
    changed = notebook("n = 1", "print('changed')")
    path = Path(jp_root_dir) / "workspaces" / wid / "etl" / "nb.ipynb"
    path.write_text(json.dumps(changed))
    snapshot = json.loads(await services.executions.records.snapshot(ex["id"]))
    assert "".join(snapshot["cells"][1]["source"]) == "print(n)"
    assert (await api("GET", f"executions/{ex['id']}")).json["status"] == "START_PENDING"


async def test_a_closed_workspace_runs_from_its_backup(api: Api, services: Any) -> None:
    wid = await workspace_with(api, "from backup", {})
    await services.store.put(f"{wid}/b.ipynb", json.dumps(notebook("1 + 1")).encode())
    body = {"workspace_id": wid, "relative_path": "b.ipynb", "cluster": LOCAL}
    r = await api("POST", "executions", body, user="bob")  # bob holds no lease: none needed
    assert r.code == 201, r
    snapshot = json.loads(await services.executions.records.snapshot(r.json["id"]))
    assert "".join(snapshot["cells"][0]["source"]) == "1 + 1"


BAD_SUBMISSIONS: list[tuple[dict[str, Any], int, str]] = [
    ({"relative_path": "../x.ipynb"}, 400, "'..'"),
    ({"relative_path": "/etc/passwd"}, 400, "relative"),
    ({"relative_path": "nb.py"}, 400, ".ipynb"),
    ({"relative_path": "missing.ipynb"}, 404, "No notebook"),
    ({"relative_path": "local.ipynb"}, 400, "Spark kernels"),
    ({"relative_path": "out.ipynb"}, 400, "leads out of the Workspace"),
    ({"parameters": {"not an identifier": 1}}, 400, "identifier"),
    ({"parameters": [1]}, 400, "parameters"),
    ({"environment": {"SPARKMAGIC_CONF_DIR": "/tmp"}}, 400, "set by the runner"),
    ({"environment": {"LD_PRELOAD": "/tmp/x.so"}}, 400, "set by the runner"),
    ({"environment": {"AWS_ACCESS_KEY_ID": "x"}}, 400, "set by the runner"),
    ({"output_format": "pdf"}, 400, "output_format"),
    ({"cluster": {"type": "nope", "id": "x"}}, 400, "cluster.type"),
    ({"cluster": {"type": "emr-serverless", "id": "00f1"}}, 400, "do not run on emr-serverless"),
    ({"cluster": None}, 409, "not attached"),
    ({"cluster": {**LOCAL, "execution_role_arn": "spark-jobs"}}, 400, "not an IAM role ARN"),
    ({"tags": {"creatorUserId": "bob"}}, 400, "set by the server"),
    ({"workspace_id": "e-" + "Z" * 25}, 404, "Workspace"),
    ({"colour": "red"}, 400, "unknown fields"),
]


async def test_bad_submissions_get_a_clear_4xx_and_queue_nothing(
    api: Api, jp_root_dir: Path
) -> None:
    files = {"nb.ipynb": notebook("1"), "local.ipynb": notebook("1", kernel="python3")}
    wid = await workspace_with(api, "bad", files)
    secret = Path(jp_root_dir) / "secret.ipynb"
    secret.write_text(json.dumps(notebook("1")))
    os.symlink(secret, Path(jp_root_dir) / "workspaces" / wid / "out.ipynb")
    for change, code, needle in BAD_SUBMISSIONS:
        body = {"workspace_id": wid, "relative_path": "nb.ipynb", "cluster": LOCAL, **change}
        if change.get("cluster", 0) is None:
            del body["cluster"]
        r = await api("POST", "executions", body)
        assert r.code == code and needle in r.error["message"], (change, r)
    assert (await api("GET", "executions")).json["executions"] == []


async def test_an_execution_role_on_a_source_that_takes_none_is_refused(
    api: Api, services: Any
) -> None:
    """Executions take the attachment's role (test_executions_roles.py); a role only on a
    source that runs Spark as one (EMR on EC2), never silently dropped."""
    wid = await workspace_with(api, "roled", {"nb.ipynb": notebook("1")})
    role = "arn:aws:iam::123456789012:role/spark-jobs"

    def attach(ws: Any) -> None:  # a record from elsewhere: attach itself refuses this
        ws.attachment = {"type": "local", "cluster_id": "local", "execution_role_arn": role}

    await services.registry.update(wid, attach)
    r = await api("POST", "executions", {"workspace_id": wid, "relative_path": "nb.ipynb"})
    assert r.code == 400 and "local takes no execution role" in r.error["message"], r
    assert (await api("GET", "executions")).json["executions"] == []


async def test_listing_filters_and_pages_newest_first(api: Api) -> None:
    w1 = await workspace_with(api, "one", {"a.ipynb": notebook("1")})
    w2 = await workspace_with(api, "two", {"a.ipynb": notebook("1")})
    ids = []
    for wid in (w1, w2, w1, w1):
        body = {"workspace_id": wid, "relative_path": "a.ipynb", "cluster": LOCAL}
        ids.append((await api("POST", "executions", body)).json["id"])
    await api("POST", f"executions/{ids[0]}/stop")
    listed = (await api("GET", "executions")).json
    assert [e["id"] for e in listed["executions"]] == ids[::-1] and listed["next_token"] is None
    # JupyterLab's ServerConnection adds a bare-number cache-buster to every GET: no filter
    busted = await api("GET", "executions", params={"1796049146029": ""})
    assert busted.code == 200 and busted.json == listed, busted
    page1 = (await api("GET", "executions", params={"workspace_id": w1, "limit": "2"})).json
    assert [e["id"] for e in page1["executions"]] == [ids[3], ids[2]]
    page2 = await api(
        "GET",
        "executions",
        params={"workspace_id": w1, "limit": "2", "next_token": page1["next_token"]},
    )
    assert [e["id"] for e in page2.json["executions"]] == [ids[0]]
    stopped = (await api("GET", "executions", params={"status": "STOPPED"})).json
    assert [e["id"] for e in stopped["executions"]] == [ids[0]]
    future = (await api("GET", "executions", params={"from": "2999-01-01T00:00:00Z"})).json
    assert future["executions"] == []
    for bad in ({"status": "DONE"}, {"limit": "0"}, {"from": "yesterday"}, {"sort": "x"}):
        r = await api("GET", "executions", params=bad)
        assert r.code == 400, (bad, r)


async def test_stop_before_start_ends_it_and_is_audited(api: Api, services: Any) -> None:
    wid = await workspace_with(api, "stops", {"a.ipynb": notebook("1")})
    body = {"workspace_id": wid, "relative_path": "a.ipynb", "cluster": LOCAL}
    eid = (await api("POST", "executions", body)).json["id"]
    r = await api("POST", f"executions/{eid}/stop")
    assert r.code == 200 and r.json["status"] == "STOPPED" and "alice" in r.json["reason"]
    r = await api("POST", f"executions/{eid}/stop")
    assert r.code == 409 and r.error["code"] == "ExecutionEnded"
    assert (await api("POST", f"executions/{eid}/stop", {"force": True})).code == 400
    events = services.audit.recent(50)
    actions = [(e["action"].split(":")[1], e["outcome"], e["details"].get("event")) for e in events]
    assert ("StartNotebookExecution", "success", None) in actions  # the submission
    assert ("StopNotebookExecution", "success", None) in actions
    assert ("StopNotebookExecution", "failure", None) in actions  # the second stop
    assert ("StartNotebookExecution", "success", "NotebookExecutionEnded") in actions


async def test_users_see_and_stop_only_their_own_executions(api: Api) -> None:
    wid = await workspace_with(api, "shared", {"a.ipynb": notebook("1")})
    body = {"workspace_id": wid, "relative_path": "a.ipynb", "cluster": LOCAL}
    eid = (await api("POST", "executions", body)).json["id"]
    assert (await api("GET", f"executions/{eid}", user="bob")).code == 403
    assert (await api("POST", f"executions/{eid}/stop", user="bob")).code == 403
    assert (await api("GET", "executions", user="bob")).json["executions"] == []
    assert (await api("GET", f"executions/{eid}")).code == 200


async def test_a_reader_cannot_submit(api: Api) -> None:
    wid = await workspace_with(api, "readers", {"a.ipynb": notebook("1")})
    body = {"workspace_id": wid, "relative_path": "a.ipynb", "cluster": LOCAL}
    r = await api("POST", "executions", body, user="reader")
    assert r.code == 403 and "StartNotebookExecution" in r.error["message"]
    # running a notebook reads it: who may not read the Workspace may not run its notebooks
    r = await api("POST", "executions", body, user="blind")
    assert r.code == 403 and "DescribeEditor" in r.error["message"]
    assert (await api("GET", "executions", user="reader")).code == 200
    # the panel learns it from the Workspace's and the Studio's permissions (no Run there)
    start, manage = "elasticmapreduce:StartNotebookExecution", "emr-workspace:ManageSchedules"
    for user, may in (("reader", False), ("alice", True)):
        permissions = (await api("GET", f"workspaces/{wid}", user=user)).json["permissions"]
        assert (permissions[start], permissions[manage]) == (may, may), user
        studio = (await api("GET", "studio", user=user)).json["permissions"]
        assert studio["elasticmapreduce:ListNotebookExecutions"] is True, user


async def test_naming_a_cluster_the_workspace_is_not_attached_to_needs_attach_editor(
    api: Api, services: Any
) -> None:
    wid = await workspace_with(api, "elsewhere", {"a.ipynb": notebook("1")})
    body = {"workspace_id": wid, "relative_path": "a.ipynb", "cluster": LOCAL}
    r = await api("POST", "executions", body, user="carol")
    assert r.code == 403 and "AttachEditor" in r.error["message"], r
    assert (await api("GET", "executions", user="carol")).json["executions"] == []
    assert (await api("POST", "executions", body)).code == 201  # alice may attach it


async def test_an_unassigned_user_gets_403_on_every_executions_route(api: Api) -> None:
    wid = await workspace_with(api, "members", {"a.ipynb": notebook("1")})
    body = {"workspace_id": wid, "relative_path": "a.ipynb", "cluster": LOCAL}
    eid = (await api("POST", "executions", body)).json["id"]
    for method, path in [
        ("GET", "executions"),
        ("POST", "executions"),
        ("GET", f"executions/{eid}"),
        ("POST", f"executions/{eid}/stop"),
    ]:
        r = await api(method, path, body if method == "POST" else None, user="mallory")
        assert r.code == 403 and r.error["code"] == "NotAssignedToStudio", (method, path, r)
    assert (await api("GET", f"executions/{eid}")).json["status"] == "START_PENDING"


async def test_unknown_or_malformed_ids_are_404(api: Api) -> None:
    for eid in ("ex-" + "0" * 25, "ex-..%2F..", "e-" + "A" * 25):
        assert (await api("GET", f"executions/{eid}")).code == 404


async def test_run_command_submits_with_typed_parameters(
    api: Api, jp_serverapp: Any, services: Any
) -> None:
    import asyncio
    import contextlib
    import io

    from jupyter_emr_workspace.cli import main

    wid = await workspace_with(api, "from the shell", {"nb.ipynb": notebook("n = 1")})
    out = io.StringIO()
    server = ["--url", jp_serverapp.connection_url, "--token", jp_serverapp.identity_provider.token]
    argv = ["run", "from the shell", "nb.ipynb", "-p", "n=42", "-p", "day=monday",
            "-p", 'opts={"a": [1]}', "--cluster", "local:local", "--no-wait", *server]  # fmt: skip

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return main(argv)

    assert await asyncio.to_thread(run) == 0
    ex = json.loads(out.getvalue())
    assert ex["workspace_id"] == wid and ex["status"] == "START_PENDING"
    assert ex["parameters"] == {"n": 42, "day": "monday", "opts": {"a": [1]}}
    bad = await asyncio.to_thread(main, [*argv[:3], "-p", "novalue", *server])
    assert bad == 2


async def test_real_responses_match_the_documented_schemas(api: Api) -> None:
    import yaml
    from test_core_openapi import Checker

    from jupyter_emr_workspace.handlers import served_document

    check = Checker(yaml.safe_load(served_document((), ("local",))))
    wid = await workspace_with(api, "documented", {"a.ipynb": notebook("1")})

    async def call(method: str, template: str, path: str, body: Any = None, **kw: Any) -> Any:
        r = await api(method, path, body, **kw)
        check(method, template, r)
        return r

    body = {"workspace_id": wid, "relative_path": "a.ipynb", "cluster": LOCAL}
    eid = (await call("POST", "/executions", "executions", body)).json["id"]
    await call("POST", "/executions", "executions", {**body, "relative_path": "../a.ipynb"})
    await call("POST", "/executions", "executions", {**body, "relative_path": "b.ipynb"})
    await call("GET", "/executions", "executions", params={"status": "START_PENDING"})
    await call("GET", "/executions/{execution_id}", f"executions/{eid}")
    await call("GET", "/executions/{execution_id}", f"executions/ex-{'0' * 25}")
    await call("POST", "/executions/{execution_id}/stop", f"executions/{eid}/stop")
    await call("POST", "/executions/{execution_id}/stop", f"executions/{eid}/stop")  # 409
    schedule = {"workspace_id": wid, "relative_path": "a.ipynb", "cron": "0 6 * * *"}
    sid = (await call("POST", "/schedules", "schedules", schedule)).json["id"]
    await call("POST", "/schedules", "schedules", {**schedule, "cron": "soon"})
    await call("GET", "/schedules", "schedules")
    await call("GET", "/schedules/{schedule_id}", f"schedules/{sid}")
    await call("PATCH", "/schedules/{schedule_id}", f"schedules/{sid}", {"enabled": False})
    await call("DELETE", "/schedules/{schedule_id}", f"schedules/{sid}")
    await call("GET", "/schedules/{schedule_id}", f"schedules/{sid}")  # 404
