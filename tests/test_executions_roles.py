"""Executions with an execution role (EMR on EC2 runtime roles), through the real
jupyter-server and its in-process runner, with the installed `emr-pysparkkernel`.

A moto-listed EMR cluster is mapped (``c.Studio.livy_urls``, as test_compute_e2e.py does)
to the embedded engine. moto has no ``GetClusterSessionCredentials``: its answers are
recorded responses played by botocore's Stubber. Each gives a Livy user and password the
engine knows (its per-owner credential), so the engine attributes the execution's Livy
session to that user: a session made with any other credential would not be the role
user's, and the role user's session answers nobody else.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import Api
from emrws_testing.compute import FakeLivy, run_cluster
from emrws_testing.moto_servers import MotoHttp, client
from test_compute_e2e import livy_sessions, running_statement
from test_executions_api import notebook, workspace_with
from test_executions_spark import parameters_cell, wait_for

from jupyter_emr_workspace.livy import EngineProcess

ROLE = "arn:aws:iam::123456789012:role/analytics-exec"
OTHER_ROLE = "arn:aws:iam::123456789012:role/finance-exec"
#: alice's hub group, which is offered ROLE
ANALYSTS = "analysts"
#: the Livy user GetClusterSessionCredentials answers for ROLE (recorded)
ROLE_USER = "analytics-exec-livy"
GET_CREDENTIALS = "elasticmapreduce:GetClusterSessionCredentials"
SESSION = {"driverMemory": "700m", "conf": {"spark.ui.enabled": "false"}}
ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
POLICIES = {
    "team": {"Version": "2012-10-17", "Statement": [ALLOW_ALL]},
    # may run Spark only as OTHER_ROLE (the condition key of GetClusterSessionCredentials)
    "finance-only": {
        "Version": "2012-10-17",
        "Statement": [
            ALLOW_ALL,
            {
                "Effect": "Deny",
                "Action": GET_CREDENTIALS,
                "Resource": "*",
                "Condition": {"StringNotEquals": {"elasticmapreduce:ExecutionRoleArn": OTHER_ROLE}},
            },
        ],
    },
    "no-pass-role": {
        "Version": "2012-10-17",
        "Statement": [ALLOW_ALL, {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}],
    },
}


@pytest.fixture
def jp_env_jupyter_path() -> Path:
    """The environment's share/jupyter, where the install put the kernelspecs."""
    return Path(sys.prefix) / "share" / "jupyter"


@pytest.fixture(autouse=True)
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARKMAGIC_CONF_DIR", raising=False)
    monkeypatch.delenv("EMR_WORKSPACE_KERNEL_REGISTRY", raising=False)


@pytest.fixture
def runner_on() -> bool:
    return True


@pytest.fixture
def studio_config(
    tmp_path: Path, moto: MotoHttp, subnets: list[str], runner_on: bool
) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-exec-roles",
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": subnets,
        "compute_sources": ["emr-ec2"],
        "livy_probe_timeout": 2.0,
        "server_owner": "alice",  # this server's runner runs alice's executions
        "executions_runner": runner_on,
        "execution_poll_seconds": 0.5,
        "lease_seconds": 900,
        "policies": POLICIES,
        "assignments": {
            "user:alice": "team",
            "user:bob": "finance-only",
            "user:dave": "no-pass-role",
        },
        # alice is offered ROLE through a hub group: the runner acts with her groups
        "execution_roles": {
            "group:analysts": [ROLE],
            "user:bob": [ROLE, OTHER_ROLE],
            "user:dave": [ROLE],
        },
    }


def recorded_credentials(user: str, password: str, seconds: float) -> dict[str, Any]:
    """GetClusterSessionCredentials as AWS answers it (the EMR API reference's fields)."""
    return {
        "Credentials": {"UsernamePassword": {"Username": user, "Password": password}},
        "ExpiresAt": datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds),
    }


def stubbed_emr(services: Any) -> Stubber:
    """GetClusterSessionCredentials answered by a Stubber (moto lacks it); every other EMR
    call still goes to moto."""
    compute = services.compute
    emr = boto3.client("emr", region_name="us-east-1")

    async def clients(identity: Any, service: str) -> Any:
        return emr if service == "emr" else await compute.client(identity, service)

    compute.roles.clients = clients
    return Stubber(emr)


def events(services: Any, action: str | None = None) -> list[dict[str, Any]]:
    """Audit events, oldest first."""
    return [e for e in services.audit.recent(1000)[::-1] if action in (None, e["action"])]


def mapped_cluster(moto: MotoHttp, services: Any, name: str, subnet: str, livy_url: str) -> str:
    """A moto EMR cluster in the Studio's subnet whose Livy is ``livy_url``."""
    cluster = run_cluster(client(moto.url, "emr"), name, subnet)
    services.studio.livy_urls = {cluster: livy_url}
    return cluster


async def attach_with_role(api: Api, wid: str, cluster: str, stub: Stubber, password: str) -> None:
    """As the panel does; the attach itself fetches the kernels' credentials once."""
    params = {"ClusterId": cluster, "ExecutionRoleArn": ROLE}
    stub.add_response(
        "get_cluster_session_credentials", recorded_credentials(ROLE_USER, password, 3600), params
    )
    body = {"type": "emr-ec2", "cluster_id": cluster, "execution_role_arn": ROLE}
    r = await api("POST", f"workspaces/{wid}/attach", {**body, "session": SESSION}, groups=ANALYSTS)
    assert r.code == 200 and r.json["attachment"]["execution_role_arn"] == ROLE, r


async def pending(stub: Stubber) -> bool:
    try:
        stub.assert_no_pending_responses()
    except AssertionError:
        return True
    return False


@pytest.mark.spark
async def test_an_execution_runs_as_the_workspace_execution_role(
    api: Api, services: Any, engine: EngineProcess, moto: MotoHttp, subnets: list[str]
) -> None:
    cluster = mapped_cluster(moto, services, "runtime roles", subnets[0], engine.url)
    password = engine.owner_password(ROLE_USER) or ""
    count = notebook(
        "n = 1\nflag = ''",
        "import os, time\nwhile not os.path.exists(flag):\n    time.sleep(0.2)",
        "spark.range(n).count()",
    )
    count["cells"][0] = parameters_cell("n = 1\nflag = ''")
    wid = await workspace_with(api, "runtime role", {"count.ipynb": count})
    stub = stubbed_emr(services)
    params = {"ClusterId": cluster, "ExecutionRoleArn": ROLE}
    with stub:
        await attach_with_role(api, wid, cluster, stub, password)
        # the runner's own credentials: short-lived, so they are renewed while it runs
        for seconds in (2, 3600):
            stub.add_response(
                "get_cluster_session_credentials",
                recorded_credentials(ROLE_USER, password, seconds),
                params,
            )
        flag = Path(services.studio.backup_uri).parent / "go"
        body = {
            "workspace_id": wid,
            "relative_path": "count.ipynb",
            "parameters": {"n": 42, "flag": str(flag)},
            "output_format": "both",
        }
        r = await api("POST", "executions", body, groups=ANALYSTS)
        assert r.code == 201, r
        eid = r.json["id"]
        # the record says which role it runs as: the attachment's, by default
        assert r.json["cluster"] == {
            "type": "emr-ec2",
            "id": cluster,
            "endpoint_id": None,
            "execution_role_arn": ROLE,
        }
        (submitted,) = events(services, "elasticmapreduce:StartNotebookExecution")
        assert submitted["details"]["execution_role_arn"] == ROLE
        assert submitted["outcome"] == "success"

        # -- while the cell waits: the engine holds its session as the role's Livy user ----
        await wait_for(api, eid, {"RUNNING"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while not await asyncio.to_thread(running_statement, engine, "os.path.exists(flag)"):
            assert loop.time() < deadline, "the waiting statement never started"
            await asyncio.sleep(0.3)
        (session,) = await asyncio.to_thread(livy_sessions, engine)
        assert session["owner"] == ROLE_USER and session["name"] == f"emr-execution-{eid}"
        while await pending(stub):  # the 2 s credentials are renewed before they expire
            assert loop.time() < deadline, "the runner never renewed the role's credentials"
            await asyncio.sleep(0.2)
        flag.write_text("go")

        done = await wait_for(api, eid, {"FINISHED", "FAILED", "STOPPED"})
        assert done["status"] == "FINISHED", done
        stub.assert_no_pending_responses()
    # the Livy session was deleted, with the role's credentials (only they see it)
    assert await asyncio.to_thread(livy_sessions, engine) == []

    # -- the record shows the role; no credential reaches the output, record or audit ------
    described = (await api("GET", f"executions/{eid}")).json
    assert described["cluster"]["execution_role_arn"] == ROLE
    output = (await services.store.get(f"{wid}/executions/{eid}/count.ipynb")).data.decode()
    html = (await services.store.get(f"{wid}/executions/{eid}/count.html")).data.decode()
    texts = ["".join(o.get("text", "")) for o in json.loads(output)["cells"][3]["outputs"]]
    assert "42" in texts, texts
    record = json.dumps(described) + json.dumps(
        (await services.executions.records.get(eid)).to_json()
    )
    audit = json.dumps(services.audit.recent(1000))
    for text in (output, html, record, audit):
        assert password not in text and "livy-credentials" not in text
    (ended,) = [e for e in events(services) if e["details"].get("event")]
    assert ended["details"]["status"] == "FINISHED"
    assert ended["details"]["execution_role_arn"] == ROLE
    # the runner checked again, for alice, that she may pass the role when it ran
    passed = [e for e in events(services, "iam:PassRole") if e["resource"] == ROLE]
    assert [e["user"] for e in passed][-2:] == ["alice", "alice"]
    assert all(e["outcome"] == "success" for e in passed)


@pytest.mark.parametrize("runner_on", [False])
async def test_a_user_who_may_not_pass_the_role_is_refused_naming_it(
    api: Api, services: Any, moto: MotoHttp, subnets: list[str], livy: FakeLivy
) -> None:
    cluster = mapped_cluster(moto, services, "guarded", subnets[0], livy.url)
    wid = await workspace_with(api, "guarded", {"nb.ipynb": notebook("spark.range(1).count()")})
    stub = stubbed_emr(services)
    with stub:
        await attach_with_role(api, wid, cluster, stub, "p1")
    submit = {"workspace_id": wid, "relative_path": "nb.ipynb"}

    # bob's policy lets him run Spark only as OTHER_ROLE (elasticmapreduce:ExecutionRoleArn)
    r = await api("POST", "executions", submit, user="bob")
    assert r.code == 403 and r.error["code"] == "ExecutionRoleRefused", r
    assert ROLE in r.error["message"] and GET_CREDENTIALS in r.error["message"]
    # dave may not pass it at all
    r = await api("POST", "executions", submit, user="dave")
    assert r.code == 403 and ROLE in r.error["message"], r
    assert "iam:PassRole" in r.error["message"]
    # alice is not offered OTHER_ROLE (c.Studio.execution_roles)
    named = {"type": "emr-ec2", "id": cluster, "execution_role_arn": OTHER_ROLE}
    r = await api("POST", "executions", {**submit, "cluster": named}, groups=ANALYSTS)
    assert r.code == 403 and OTHER_ROLE in r.error["message"], r
    assert "c.Studio.execution_roles" in r.error["message"]
    assert (await api("GET", "executions")).json["executions"] == []  # nothing was queued
    roles = [e for e in events(services) if e["resource"] in (ROLE, OTHER_ROLE)]
    assert [e["outcome"] for e in roles] == ["success", "denied", "denied", "denied"]  # attach
    denied = roles[1:]
    assert [(e["user"], e["action"], e["resource"]) for e in denied] == [
        ("bob", GET_CREDENTIALS, ROLE),
        ("dave", "iam:PassRole", ROLE),
        ("alice", "iam:PassRole", OTHER_ROLE),
    ]
    refused = events(services, "elasticmapreduce:StartNotebookExecution")
    assert [(e["outcome"], e["details"]["execution_role_arn"]) for e in refused] == [
        ("denied", ROLE),
        ("denied", ROLE),
        ("denied", OTHER_ROLE),
    ]

    # naming the attachment's cluster keeps its role; null asks for none
    echoed = {"type": "emr-ec2", "id": cluster}
    r = await api("POST", "executions", {**submit, "cluster": echoed}, groups=ANALYSTS)
    assert r.code == 201 and r.json["cluster"]["execution_role_arn"] == ROLE, r
    nobody = {**echoed, "execution_role_arn": None}
    r = await api("POST", "executions", {**submit, "cluster": nobody})
    assert r.code == 201 and r.json["cluster"]["execution_role_arn"] is None, r


@pytest.mark.parametrize("runner_on", [False])
async def test_an_execution_whose_submitter_lost_the_role_while_queued_fails_naming_it(
    api: Api, services: Any, moto: MotoHttp, subnets: list[str], livy: FakeLivy
) -> None:
    from jupyter_emr_workspace.executions.part import make_runner

    cluster = mapped_cluster(moto, services, "revoked", subnets[0], livy.url)
    wid = await workspace_with(api, "revoked", {"nb.ipynb": notebook("spark.range(1).count()")})
    stub = stubbed_emr(services)
    with stub:
        await attach_with_role(api, wid, cluster, stub, "p1")
        body = {"workspace_id": wid, "relative_path": "nb.ipynb"}
        r = await api("POST", "executions", body, groups=ANALYSTS)
        assert r.code == 201, r
        # the admin takes the role away from the analysts while it waits for a runner
        services.studio.execution_roles = {"user:bob": [ROLE]}
        runner = make_runner(services, services.executions, "runner:test")
        assert await runner.poll_once() == [r.json["id"]]
        await asyncio.gather(*runner.tasks.values())
        stub.assert_no_pending_responses()  # no credentials were fetched for it
    ex = (await api("GET", f"executions/{r.json['id']}")).json
    assert ex["status"] == "FAILED" and ROLE in ex["reason"], ex
    assert "c.Studio.execution_roles" in ex["reason"]
    (denied,) = [e for e in events(services, "iam:PassRole") if e["outcome"] == "denied"]
    assert denied["user"] == "alice" and denied["resource"] == ROLE


@pytest.mark.parametrize("runner_on", [False])
async def test_a_schedule_names_only_a_role_its_owner_and_its_editor_may_pass(
    api: Api, services: Any, moto: MotoHttp, subnets: list[str]
) -> None:
    cluster = run_cluster(client(moto.url, "emr"), "scheduled", subnets[0])
    wid = await workspace_with(api, "scheduled", {"nb.ipynb": notebook("spark.range(1).count()")})
    roled = {"type": "emr-ec2", "id": cluster, "execution_role_arn": ROLE}
    body = {"workspace_id": wid, "relative_path": "nb.ipynb", "cron": "0 6 * * *"}
    r = await api("POST", "schedules", {**body, "cluster": roled}, user="dave")
    assert r.code == 403 and r.error["code"] == "ExecutionRoleRefused", r
    assert ROLE in r.error["message"] and "iam:PassRole" in r.error["message"]
    assert (await api("GET", "schedules")).json["schedules"] == []
    r = await api("POST", "schedules", {**body, "cluster": roled}, groups=ANALYSTS)
    assert r.code == 201 and r.json["cluster"]["execution_role_arn"] == ROLE, r
    sid = r.json["id"]
    # bob may pass OTHER_ROLE, alice (who owns it and whom it fires as) may not
    other = {**roled, "execution_role_arn": OTHER_ROLE}
    r = await api("PATCH", f"schedules/{sid}", {"cluster": other}, user="bob")
    assert r.code == 403 and OTHER_ROLE in r.error["message"], r
    assert "alice" in r.error["message"]
    r = await api("PATCH", f"schedules/{sid}", {"cluster": roled}, user="dave")
    assert r.code == 403 and ROLE in r.error["message"] and "dave" in r.error["message"], r
    assert (await api("GET", f"schedules/{sid}")).json["cluster"] == {**roled, "endpoint_id": None}


@pytest.mark.parametrize("runner_on", [False])
async def test_the_run_command_names_an_execution_role(
    api: Api, jp_serverapp: Any, moto: MotoHttp, subnets: list[str]
) -> None:
    import contextlib
    import io

    from jupyter_emr_workspace.cli import main

    cluster = run_cluster(client(moto.url, "emr"), "shell", subnets[0])
    wid = await workspace_with(api, "shell", {"nb.ipynb": notebook("spark.range(1).count()")})
    server = ["--url", jp_serverapp.connection_url, "--token", jp_serverapp.identity_provider.token]
    argv = ["run", wid, "nb.ipynb", "--cluster", f"emr-ec2:{cluster}", "--no-wait", *server]

    def run(*extra: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*argv, *extra])
        return code, out.getvalue(), err.getvalue()

    code, _, err = await asyncio.to_thread(run, "--execution-role", OTHER_ROLE)
    assert code == 1 and "ExecutionRoleRefused" in err and OTHER_ROLE in err, err
    code, out, err = await asyncio.to_thread(run, "--execution-role", "none")
    assert code == 0 and json.loads(out)["cluster"]["execution_role_arn"] is None, err
    alone = ["run", wid, "nb.ipynb", "--execution-role", ROLE, *server]
    assert await asyncio.to_thread(main, alone) == 2  # a role goes with a named cluster
