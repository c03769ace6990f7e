"""Spark UI links of EMR Serverless sessions through the real jupyter-server.

moto's emr-serverless over HTTP holds the application (its Livy endpoint field set as in
test_compute_serverless.py); moto has no GetDashboardForJobRun, so botocore's Stubber
answers it with responses recorded in EMR Serverless's documented shape (the Stubber checks
each request and response against botocore's model of the API). A stand-in Livy answers
the attach-time probe.
"""

from __future__ import annotations

import datetime
import html
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from conftest import Api
from emrws_testing.compute import FakeLivy, subnet_id
from emrws_testing.moto_servers import MotoHttp, client
from test_compute_serverless import OTHER_ROLE, ROLE, create_application, events, new_workspace

pytestmark = pytest.mark.usefixtures("kernel_registry")

DASHBOARD = "emr-serverless:GetDashboardForJobRun"
JOB_RUN = "00fg2h3j4k5l6m7n"  # a job run id as EMR Serverless spells them
#: a recorded GetDashboardForJobRun answer (the URL is valid for an hour)
RECORDED_URL = (
    "https://p-00fg2h3j4k5l6m7n-{app}.emrappui-prod.us-east-1.amazonaws.com/shs/?authToken=t"
)


def recorded_job_run(app_id: str, job_run_id: str, role: str) -> dict[str, Any]:
    """A GetJobRun answer as EMR Serverless gives it for a Livy session's job run."""
    at = datetime.datetime(2026, 11, 30, 9, 0, tzinfo=datetime.UTC)
    return {
        "jobRun": {
            "applicationId": app_id,
            "jobRunId": job_run_id,
            "arn": f"arn:aws:emr-serverless:us-east-1:123456789012:/applications/{app_id}"
            f"/jobruns/{job_run_id}",
            "createdBy": "arn:aws:sts::123456789012:assumed-role/studio-user/alice",
            "createdAt": at,
            "updatedAt": at,
            "executionRole": role,
            "state": "RUNNING",
            "stateDetails": "Livy session is running",
            "releaseLabel": "emr-7.1.0",
            "jobDriver": {"sparkSubmit": {"entryPoint": "livy-session"}},
            "attempt": 1,
        }
    }


class Session:
    """What `%%info` reads of a sparkmagic session."""

    def __init__(self, sid: int, app_id: str | None) -> None:
        self.id, self.app_id = sid, app_id

    def get_app_id(self) -> str | None:
        return self.app_id


@pytest.fixture
def subnet() -> str:
    return subnet_id()


@pytest.fixture
def compute_config() -> dict[str, Any]:
    return {}


@pytest.fixture
def studio_config(
    tmp_path: Path, moto: MotoHttp, subnet: str, compute_config: dict[str, Any]
) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-serverless-ui",
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": [subnet],
        "livy_probe_timeout": 1.0,
        "execution_roles": {"*": [ROLE]},
        **compute_config,
    }


async def attached(
    api: Api, moto: MotoHttp, services: Any, livy: FakeLivy, subnet: str
) -> tuple[str, str]:
    app_id = create_application(moto, "with-ui", [subnet])
    services.studio.livy_urls = {app_id: livy.url}
    wid = await new_workspace(api, "serverless ui")
    body = {"type": "emr-serverless", "cluster_id": app_id, "execution_role_arn": ROLE}
    r = await api("POST", f"workspaces/{wid}/attach", body)
    assert r.code == 200, r
    return wid, app_id


def stubbed_client(moto: MotoHttp, monkeypatch: pytest.MonkeyPatch, services: Any) -> Stubber:
    """The server's emr-serverless client, its GetDashboardForJobRun answered by Stubber."""
    serverless = client(moto.url, "emr-serverless")
    stub = Stubber(serverless)

    async def clients(identity: Any, service: str) -> Any:
        assert service == "emr-serverless"
        return serverless

    monkeypatch.setattr(services.compute, "client", clients)
    return stub


async def fetch(jp_fetch: Any, path: str, user: str = "alice") -> Any:
    where, _, query = path.partition("?")
    params = dict(q.split("=", 1) for q in query.split("&")) if query else {}
    return await jp_fetch(
        where,
        headers={"X-Test-User": user},
        params=params,
        raise_error=False,
        follow_redirects=False,
    )


async def test_a_serverless_session_link_opens_its_job_runs_dashboard_for_the_holder_only(
    api: Api,
    jp_fetch: Any,
    moto: MotoHttp,
    services: Any,
    livy: FakeLivy,
    subnet: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wid, app_id = await attached(api, moto, services, livy, subnet)
    url = RECORDED_URL.format(app=app_id)

    # the listing: no session list (the server cannot see them), the link %%info fills in
    r = await api("GET", f"workspaces/{wid}/app-ui")
    assert r.code == 200, r
    assert r.json["cluster"]["type"] == "emr-serverless" and r.json["sessions"] == []
    assert "%%info" in r.json["reason"]
    link = r.json["job_run_link"].replace("{job_run_id}", JOB_RUN)
    assert link.endswith(f"/workspaces/{wid}/app-ui/open?type=spark-ui&job_run_id={JOB_RUN}")
    # what the kernels read for %%info leads to the same link
    from jupyter_emr_workspace.kernels.cluster_hints import cluster_info
    from jupyter_emr_workspace.kernels.info_links import emr_links_html

    info = cluster_info(str(services.compute.conf_dir(wid)))
    assert info["type"] == "emr-serverless"
    assert f'href="{html.escape(link)}"' in emr_links_html(info, [Session(1, JOB_RUN)])
    path = link.split("/emr-workspace/", 1)[1]
    opener = "emr-workspace/" + path.split("?")[0]

    stub = stubbed_client(moto, monkeypatch, services)
    ids = {"applicationId": app_id, "jobRunId": JOB_RUN}
    stub.add_response("get_job_run", recorded_job_run(app_id, JOB_RUN, ROLE), ids)
    stub.add_response("get_dashboard_for_job_run", {"url": url}, ids)
    stub.add_response("get_job_run", recorded_job_run(app_id, JOB_RUN, ROLE), ids)
    stub.add_response(
        "get_dashboard_for_job_run",
        {"url": url + "&attempt=2"},
        {"applicationId": app_id, "jobRunId": JOB_RUN, "attempt": 2},
    )
    # another user's session on the same application (another role): never its dashboard
    theirs = {"applicationId": app_id, "jobRunId": "00theirs"}
    stub.add_response("get_job_run", recorded_job_run(app_id, "00theirs", OTHER_ROLE), theirs)
    stub.add_client_error(
        "get_job_run",
        service_error_code="ResourceNotFoundException",
        service_message="Job run gone123 does not exist",
        http_status_code=404,
    )
    with stub:
        opened = await fetch(jp_fetch, "emr-workspace/" + path)
        assert (opened.code, opened.headers["Location"]) == (302, url)
        opened = await fetch(jp_fetch, f"{opener}?type=spark-ui&job_run_id={JOB_RUN}&attempt=2")
        assert (opened.code, opened.headers["Location"]) == (302, url + "&attempt=2")
        other = await fetch(jp_fetch, f"{opener}?type=spark-ui&job_run_id=00theirs")
        assert other.code == 404 and b"JobRunNotFound" in other.body
        assert OTHER_ROLE.encode() not in other.body  # nor whose it is
        gone = await fetch(jp_fetch, f"{opener}?type=spark-ui&job_run_id=gone123")
        assert gone.code == 404 and b"JobRunNotFound" in gone.body
        stub.assert_no_pending_responses()

        # bad requests and other users never reach EMR (the Stubber has nothing left)
        for query in (
            "type=spark-ui",  # no job run
            "type=spark-ui&job_run_id=../../x",
            "type=spark-ui&job_run_id=" + "a" * 65,
            "type=spark-history&job_run_id=" + JOB_RUN,  # one link per job run
            f"type=spark-ui&job_run_id={JOB_RUN}&attempt=0",
            f"type=spark-ui&job_run_id={JOB_RUN}&attempt=x",
            f"type=spark-ui&job_run_id={JOB_RUN}&application_id=application_1_1",
        ):
            bad = await fetch(jp_fetch, f"{opener}?{query}")
            assert bad.code == 400, (query, bad.body[:200])
        denied = await fetch(jp_fetch, f"{opener}?type=spark-ui&job_run_id={JOB_RUN}", user="bob")
        assert denied.code == 403 and b"WorkspaceNotOpen" in denied.body
        assert (await api("GET", f"workspaces/{wid}/app-ui", user="bob")).code == 403

    # each opening is in the audit log, on the job run's ARN
    recorded = events(services, DASHBOARD)
    ok = [e for e in recorded if e["outcome"] == "success"]
    assert len(ok) == 2 and all(e["user"] == "alice" for e in ok)
    assert all(e["resource"].endswith(f"/applications/{app_id}/jobruns/{JOB_RUN}") for e in ok)
    assert sorted(str(e["details"]["attempt"]) for e in ok) == ["2", "None"]
    assert all(e["details"]["workspace_id"] == wid for e in ok)
    outcomes = sorted((e["user"], e["outcome"]) for e in recorded if e["outcome"] != "success")
    assert outcomes == [("alice", "failure"), ("alice", "failure"), ("bob", "denied")]


def denying_dashboards() -> dict[str, Any]:
    """alice may do everything but open the UI of job runs."""
    return {
        "policies": {
            "no-ui": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Effect": "Deny", "Action": DASHBOARD, "Resource": "*"},
                ],
            }
        },
        "assignments": {"user:alice": "no-ui"},
    }


@pytest.mark.parametrize("compute_config", [denying_dashboards()], ids=["denied"])
async def test_serverless_links_need_get_dashboard_for_job_run(
    api: Api,
    jp_fetch: Any,
    moto: MotoHttp,
    services: Any,
    livy: FakeLivy,
    subnet: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wid, app_id = await attached(api, moto, services, livy, subnet)
    stub = stubbed_client(moto, monkeypatch, services)  # no answers: EMR must not be asked
    with stub:
        r = await api("GET", f"workspaces/{wid}/app-ui")
        assert r.code == 403 and DASHBOARD in r.error["message"], r
        opened = await fetch(
            jp_fetch,
            f"emr-workspace/api/workspaces/{wid}/app-ui/open?type=spark-ui&job_run_id={JOB_RUN}",
        )
        assert opened.code == 403 and DASHBOARD.encode() in opened.body
    (denied,) = [e for e in events(services, DASHBOARD) if e["details"].get("job_run_id")]
    assert denied["outcome"] == "denied" and denied["resource"].endswith(
        f"/applications/{app_id}/jobruns/{JOB_RUN}"
    )


def test_info_links_each_serverless_session_to_its_job_run() -> None:
    """%%info on EMR Serverless: one link per session that has a job run, through the server."""
    from jupyter_emr_workspace.kernels.info_links import emr_links_html

    base = "/user/al/emr-workspace/api/workspaces/e-ALPHA"
    info = {"type": "emr-serverless", "api_path": base}
    html = emr_links_html(info, [Session(1, JOB_RUN), Session(2, None)])
    assert f'href="{base}/app-ui/open?type=spark-ui&amp;job_run_id={JOB_RUN}"' in html
    assert "Session 1" in html and "Session 2" not in html  # still starting: no job run
    assert emr_links_html(info, [Session(2, None)]) == ""
    assert emr_links_html({"type": "emr-serverless"}, [Session(1, JOB_RUN)]) == ""
