"""Links to the Spark UI and driver log of a Workspace's Spark sessions, on every source.

- The local engine: each session's Spark UI listens on loopback in the session's process;
  it is served through this Jupyter server under the Workspace's API path
  (`workspaces/<id>/spark-ui/<session>/...`, see `app_ui_proxy.py`), so no port is opened
  to the browser and the server's own authentication applies. The driver log is the
  session's log, read from the engine.
- EMR on EC2: EMR's application UI APIs give presigned URLs, fetched when the user opens
  a link (they expire): the live UI through `GetOnClusterAppUIPresignedURL`, the
  persistent Spark History Server through `CreatePersistentAppUI` (once per cluster) and
  `GetPersistentAppUIPresignedURL`.
- EMR Serverless: each Livy session of an interactive application runs as a job run of
  the application; `GetDashboardForJobRun` gives a URL (valid an hour, fetched when the
  link is opened) to that job run's live Spark UI while it runs and to its Spark History
  Server once it ended. The kernels know each session's job run id (Livy's `appId`), so
  `%%info` carries the links; the server cannot see the sessions (they are behind the
  signed Livy endpoint), so the listing says where to find them.
- EMR on EKS: its persistent UI needs a job run id, which an interactive endpoint's
  sessions do not have, so no link is offered there and the answer says why.

Who may open them: the Studio's policies (the action of each link, on the cluster) and a
lease on the Workspace on this server. The Spark UI shows the session's code and data, so
another user of the same server gets 403 even where every user may do everything else.
Opening a link (the UI's first page, the driver log, an EMR URL) is recorded in the audit
log; the UI's own pages, scripts and images are checked but not each recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .. import actions
from ..errors import BadRequest, Conflict, Forbidden, NotFound, UpstreamError
from ..studio import Identity
from ..workspace_registry import Workspace

#: IAM actions (EMR's names); the lead moves them into actions.py
ON_CLUSTER_APP_UI = actions.GET_ON_CLUSTER_APP_UI_PRESIGNED_URL
CREATE_PERSISTENT_APP_UI = actions.CREATE_PERSISTENT_APP_UI
PERSISTENT_APP_UI = actions.GET_PERSISTENT_APP_UI_PRESIGNED_URL
#: what `GET .../app-ui/open?type=` accepts on EMR on EC2, and what each asks EMR for
EMR_UI_TYPES = {
    "spark-ui": ON_CLUSTER_APP_UI,  # the running application's UI, through the cluster
    "spark-history": PERSISTENT_APP_UI,  # the persistent Spark History Server
}
APPLICATION_ID = re.compile(r"^application_[0-9]{1,20}_[0-9]{1,10}\Z")
#: EMR Serverless: the job run's UI (live while it runs, the History Server after)
SERVERLESS_DASHBOARD = actions.GET_DASHBOARD_FOR_JOB_RUN
JOB_RUN_ID = re.compile(r"^[0-9a-z]{1,64}\Z")  # EMR Serverless's own pattern
MAX_ATTEMPT = 1000
ENGINE_TIMEOUT = 15.0


@dataclass(frozen=True)
class LocalUi:
    """Where a local session's Spark UI listens (loopback), for the proxy."""

    session_id: int
    upstream: str  # e.g. http://127.0.0.1:4041


class AppUiService:
    """Links per Workspace; knows nothing of tornado's handlers (the proxy is elsewhere)."""

    def __init__(self, compute: Any, base_url: str = "/") -> None:
        self.compute = compute
        self.base_url = base_url
        self._persistent_ids: dict[str, str] = {}  # cluster id → PersistentAppUIId

    # -- paths ------------------------------------------------------------------------------
    def workspace_path(self, workspace_id: str) -> str:
        """The server-relative API path of a Workspace (what kernels link to)."""
        base = self.base_url.rstrip("/")
        return f"{base}/emr-workspace/api/workspaces/{quote(workspace_id, safe='')}"

    def spark_ui_path(self, workspace_id: str, session_id: int) -> str:
        return f"{self.workspace_path(workspace_id)}/spark-ui/{session_id}"

    # -- who may ------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _checked(
        self,
        identity: Identity,
        ws: Workspace,
        action: str,
        *,
        audit: bool,
        under: str = "",
        **facts: Any,
    ) -> AsyncIterator[None]:
        """The policy's say on ``action`` (on the attached cluster, or ``under`` it: a job
        run) and the lease, around the body; with ``audit``, the outcome of the body is
        recorded (a link opened)."""
        attachment = ws.attachment or {}
        source = self.compute.source(attachment.get("type"))
        resource = source.arn(str(attachment.get("cluster_id"))) + under
        details = {"workspace_id": ws.id, **facts}
        if audit:
            async with self.compute.guard.action(identity, action, resource, details=details):
                self._require_holder(identity, ws)
                yield
        else:
            await self.compute.guard.require(identity, action, resource, details=details)
            self._require_holder(identity, ws)
            yield

    def _require_holder(self, identity: Identity, ws: Workspace) -> None:
        if not self.compute.leases.holds(ws.id, identity.name):
            raise Forbidden(
                f"The Spark UI and logs of Workspace {ws.name!r} are for whoever has it open "
                f"on this server; {identity.name} does not. Open the Workspace first.",
                code="WorkspaceNotOpen",
            )

    async def _attached(self, workspace_id: str, *types: str) -> Workspace:
        ws = await self.compute.registry.get(workspace_id)
        kind = (ws.attachment or {}).get("type")
        if kind is None:
            raise Conflict(
                f"Workspace {ws.name!r} is not attached to a cluster", code="NotAttached"
            )
        if types and kind not in types:
            raise NotFound(
                f"Workspace {ws.name!r} is attached to {kind}, which has no such link",
                code="LinkNotFound",
            )
        return ws

    # -- the list -------------------------------------------------------------------------
    async def links(self, identity: Identity, workspace_id: str) -> dict[str, Any]:
        """What the panel and the kernels show for the attached cluster."""
        ws = await self._attached(workspace_id)
        att = ws.attachment or {}
        kind = att.get("type")
        action = {"emr-ec2": PERSISTENT_APP_UI, "emr-serverless": SERVERLESS_DASHBOARD}.get(
            str(kind), ON_CLUSTER_APP_UI
        )
        under = "/jobruns/*" if kind == "emr-serverless" else ""
        async with self._checked(identity, ws, action, audit=False, under=under):
            pass
        about = {"type": kind, "cluster_id": att.get("cluster_id"), "name": att.get("name")}
        if kind == "local":
            sessions = await self._local_sessions(ws.id)
            links = []
            for s in sessions:
                has_ui = bool((s.get("appInfo") or {}).get("sparkUiUrl"))
                links.append(
                    {
                        "session_id": s["id"],
                        "kind": s.get("kind"),
                        "state": s.get("state"),
                        "spark_ui": f"{self.spark_ui_path(ws.id, s['id'])}/" if has_ui else None,
                        "driver_log": f"{self.workspace_path(ws.id)}/driver-log/{s['id']}",
                        "reason": None
                        if has_ui
                        else "The Spark UI is off for this session (spark.ui.enabled=false)",
                    }
                )
            reason = None if links else "No Spark session yet: run a cell in a notebook"
            return {"cluster": about, "sessions": links, "links": [], "reason": reason}
        if kind == "emr-ec2":
            opener = f"{self.workspace_path(ws.id)}/app-ui/open?type="
            return {
                "cluster": about,
                "sessions": [],
                "links": [
                    {"label": "Spark UI (running applications)", "url": opener + "spark-ui"},
                    {"label": "Spark History Server", "url": opener + "spark-history"},
                ],
                "reason": None,
            }
        if kind == "emr-serverless":
            opener = f"{self.workspace_path(ws.id)}/app-ui/open?type=spark-ui&job_run_id="
            return {
                "cluster": about,
                "sessions": [],
                "links": [],
                # what %%info fills in with each session's job run id (Livy's appId)
                "job_run_link": opener + "{job_run_id}",
                "reason": (
                    "EMR Serverless gives a Spark UI per session (the job run it runs as): "
                    "run %%info in a notebook for the links of its sessions"
                ),
            }
        return {
            "cluster": about,
            "sessions": [],
            "links": [],
            "reason": (
                f"{kind} offers no Spark UI link for interactive sessions: EMR's persistent "
                "UI for EMR on EKS needs a job run, which an endpoint's sessions do not have"
            ),
        }

    # -- the local engine -----------------------------------------------------------------
    def _engine(self) -> Any:
        engine = self.compute.local.engine
        if engine is None or not engine.running:
            raise UpstreamError(
                "The local Spark engine is not running: attach the Workspace to it again",
                code="EngineStopped",
            )
        return engine

    async def _engine_get(self, path: str) -> Any:
        engine = self._engine()
        request = HTTPRequest(
            f"{engine.url}{path}", headers=engine.auth_header(), request_timeout=ENGINE_TIMEOUT
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as e:
            if e.code == 404:
                return None
            raise UpstreamError(f"The local Spark engine answered {e.code}") from None
        except OSError as e:
            raise UpstreamError(f"The local Spark engine did not answer: {e}") from None
        return json.loads(response.body)

    async def _local_sessions(self, workspace_id: str) -> list[dict[str, Any]]:
        listing = await self._engine_get("/sessions?size=1000") or {}
        return [s for s in listing.get("sessions", []) if s.get("owner") == workspace_id]

    async def _local_session(self, workspace_id: str, session_id: int) -> dict[str, Any]:
        session = await self._engine_get(f"/sessions/{session_id}")
        if not session or session.get("owner") != workspace_id:  # another's: as if missing
            raise NotFound(
                f"The Workspace has no Spark session {session_id} on the local engine",
                code="SessionNotFound",
            )
        return dict(session)

    async def local_ui(
        self, identity: Identity, workspace_id: str, session_id: int, *, opening: bool
    ) -> LocalUi:
        """Where to proxy a request for a local session's Spark UI (``opening``: the
        link itself was followed, which the audit log records)."""
        ws = await self._attached(workspace_id, "local")
        async with self._checked(
            identity, ws, ON_CLUSTER_APP_UI, audit=opening, link="spark-ui", session=session_id
        ):
            session = await self._local_session(ws.id, session_id)
            upstream = (session.get("appInfo") or {}).get("sparkUiUrl")
            if not upstream:
                raise Conflict(
                    f"Spark session {session_id} has no Spark UI (spark.ui.enabled=false, "
                    "or Spark is still starting)",
                    code="SparkUiUnavailable",
                )
        return LocalUi(session_id, str(upstream).rstrip("/"))

    async def driver_log(self, identity: Identity, workspace_id: str, session_id: int) -> str:
        ws = await self._attached(workspace_id, "local")
        async with self._checked(
            identity, ws, ON_CLUSTER_APP_UI, audit=True, link="driver-log", session=session_id
        ):
            await self._local_session(ws.id, session_id)
            log = await self._engine_get(f"/sessions/{session_id}/log?from=0&size=-1") or {}
        return "\n".join(str(line) for line in log.get("log", [])) + "\n"

    # -- EMR on EC2 -------------------------------------------------------------------------
    async def open_emr(
        self,
        identity: Identity,
        workspace_id: str,
        ui_type: str,
        application_id: str | None,
        job_run_id: str | None = None,
        attempt: str | None = None,
    ) -> str:
        """A presigned URL for the attached EMR cluster's (or Serverless job run's) UI,
        recorded as opened."""
        if ui_type not in EMR_UI_TYPES:
            raise BadRequest(f"type must be one of {sorted(EMR_UI_TYPES)}, not {ui_type[:40]!r}")
        if application_id is not None and not APPLICATION_ID.match(application_id):
            raise BadRequest("application_id must look like application_1700000000000_0001")
        ws = await self._attached(workspace_id, "emr-ec2", "emr-serverless")
        if (ws.attachment or {}).get("type") == "emr-serverless":
            if application_id is not None:
                raise BadRequest(
                    "application_id is for EMR on EC2 (a YARN application); on EMR Serverless "
                    "name the session's job_run_id"
                )
            return await self._open_serverless(identity, ws, ui_type, job_run_id, attempt)
        if job_run_id is not None or attempt is not None:
            raise BadRequest("job_run_id and attempt are for EMR Serverless applications")
        cluster_id = str((ws.attachment or {})["cluster_id"])
        action = EMR_UI_TYPES[ui_type]
        async with self.compute.guard.action(
            identity,
            action,
            self.compute.arns.cluster(cluster_id),
            details={"workspace_id": ws.id, "link": ui_type, "application_id": application_id},
        ):
            self._require_holder(identity, ws)
            if ui_type == "spark-history":
                await self.compute.guard.require(
                    identity, CREATE_PERSISTENT_APP_UI, self.compute.arns.cluster(cluster_id)
                )
            emr = await self.compute.client(identity, "emr")
            return await asyncio.to_thread(
                self._presigned, emr, cluster_id, ui_type, application_id
            )

    def _presigned(
        self, emr: Any, cluster_id: str, ui_type: str, application_id: str | None
    ) -> str:
        extra = {"ApplicationId": application_id} if application_id else {}
        try:
            if ui_type == "spark-ui":
                answer = emr.get_on_cluster_app_ui_presigned_url(
                    ClusterId=cluster_id, OnClusterAppUIType="ApplicationMaster", **extra
                )
            else:
                ui_id = self._persistent_ids.get(cluster_id)
                if ui_id is None:
                    arn = self.compute.arns.cluster(cluster_id)
                    ui_id = emr.create_persistent_app_ui(TargetResourceArn=arn)["PersistentAppUIId"]
                    self._persistent_ids[cluster_id] = ui_id
                answer = emr.get_persistent_app_ui_presigned_url(
                    PersistentAppUIId=ui_id, PersistentAppUIType="SHS", **extra
                )
        except ClientError as e:
            err = e.response.get("Error", {})
            raise UpstreamError(
                f"EMR did not give a link to the cluster's UI: {err.get('Code')}: "
                f"{err.get('Message', '')}"
            ) from None
        except BotoCoreError as e:
            raise UpstreamError(f"EMR did not answer: {e}") from None
        if not answer.get("PresignedURLReady") or not answer.get("PresignedURL"):
            raise Conflict(
                "EMR is still preparing the cluster's UI; try again in a minute",
                code="AppUiNotReady",
            )
        return str(answer["PresignedURL"])

    # -- EMR Serverless -----------------------------------------------------------------------
    async def _open_serverless(
        self,
        identity: Identity,
        ws: Workspace,
        ui_type: str,
        job_run_id: str | None,
        attempt: str | None,
    ) -> str:
        """GetDashboardForJobRun for one of the application's job runs (a Livy session)."""
        if ui_type != "spark-ui":
            raise BadRequest(
                "EMR Serverless has one link per job run (type=spark-ui): the live UI while "
                "it runs, its Spark History Server after"
            )
        if job_run_id is None or not JOB_RUN_ID.match(job_run_id):
            raise BadRequest(
                "job_run_id is needed on EMR Serverless: the id of the session's job run "
                "(Livy's appId, lower-case letters and digits), as %%info links it"
            )
        number: int | None = None
        if attempt is not None:
            if not attempt.isdigit() or not 1 <= int(attempt) <= MAX_ATTEMPT:
                raise BadRequest(f"attempt must be a number from 1 to {MAX_ATTEMPT}")
            number = int(attempt)
        application_id = str((ws.attachment or {})["cluster_id"])
        role = (ws.attachment or {}).get("execution_role_arn")
        async with self._checked(
            identity,
            ws,
            SERVERLESS_DASHBOARD,
            audit=True,
            under=f"/jobruns/{job_run_id}",
            link="spark-ui",
            job_run_id=job_run_id,
            attempt=number,
        ):
            client = await self.compute.client(identity, "emr-serverless")
            return await asyncio.to_thread(
                self._dashboard, client, application_id, job_run_id, number, role
            )

    def _dashboard(
        self,
        client: Any,
        application_id: str,
        job_run_id: str,
        attempt: int | None,
        role: str | None,
    ) -> str:
        """The job run's dashboard URL, for a job run that runs as the Workspace's execution
        role: the application's other job runs are other users' sessions and jobs, whose
        UI shows what their roles may read, and IAM has no key to tell them apart."""
        extra = {"attempt": attempt} if attempt is not None else {}
        missing = NotFound(
            f"Application {application_id} has no job run {job_run_id} of this Workspace "
            f"(one that runs as its execution role {role})",
            code="JobRunNotFound",
        )
        try:
            run = client.get_job_run(applicationId=application_id, jobRunId=job_run_id)["jobRun"]
            if not role or run.get("executionRole") != role:
                raise missing
            answer = client.get_dashboard_for_job_run(
                applicationId=application_id, jobRunId=job_run_id, **extra
            )
        except ClientError as e:
            err = e.response.get("Error", {})
            if err.get("Code") == "ResourceNotFoundException":
                raise missing from None
            raise UpstreamError(
                f"EMR Serverless did not give a link to job run {job_run_id}'s UI: "
                f"{err.get('Code')}: {err.get('Message', '')}"
            ) from None
        except BotoCoreError as e:
            raise UpstreamError(f"EMR Serverless did not answer: {e}") from None
        if not answer.get("url"):
            raise Conflict(
                "EMR Serverless has no UI for this job run yet; try again in a minute",
                code="AppUiNotReady",
            )
        return str(answer["url"])
