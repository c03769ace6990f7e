"""EMR Serverless interactive applications, reached through their Livy endpoint.

An application can take a Workspace when it is a Spark application of EMR 6.14 or later with
the interactive Livy endpoint enabled and a network configuration in the Studio's subnets.
Its Livy endpoint is AWS's (``https://<id>.livy.emr-serverless-services.<region>.amazonaws.com``)
and wants every request SigV4-signed: the kernels sign with the credentials
`compute/kernel_credentials.py` keeps fresh for them, and each Spark session runs as the
execution role the user chose (`compute/execution_roles.py`).

All boto3 calls are blocking; the async methods run them in threads.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ... import actions
from ...errors import Conflict, Forbidden, NotFound, UpstreamError
from ...kernels.credential_files import SIGV4_AUTH
from .. import livy_url
from ..model import ClientFactory, Cluster, LivyEndpoint
from .spec import SourceSpec

if TYPE_CHECKING:
    from ...assignments import Arns
    from ...studio import Identity, Studio

MIN_RELEASE = (6, 14)
LISTED_STATES = ["CREATING", "CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED"]
STARTABLE_STATES = {"CREATED", "STOPPED"}
USABLE_STATES = {"STARTING", "STARTED"} | STARTABLE_STATES
GET_CONCURRENCY = 8
RELEASE_RE = re.compile(r"^emr-(\d+)\.(\d+)")


def release_at_least(label: str | None, minimum: tuple[int, int] = MIN_RELEASE) -> bool:
    match = RELEASE_RE.match(label or "")
    return match is not None and (int(match[1]), int(match[2])) >= minimum


def livy_endpoint_url(application_id: str, region: str) -> str:
    return f"https://{application_id}.livy.emr-serverless-services.{region}.amazonaws.com"


@dataclass
class ServerlessApplication(Cluster):
    """A listed application: a Cluster plus what only Serverless has."""

    auto_start: bool | None = None
    auto_stop_minutes: int | None = None
    needs_execution_role: bool = True


class EmrServerlessSource:
    type = "emr-serverless"
    list_action = actions.LIST_APPLICATIONS

    def __init__(self, studio: Studio, arns: Arns, clients: ClientFactory) -> None:
        self.studio, self.arns, self.clients = studio, arns, clients

    def arn(self, cluster_id: str) -> str:
        return SOURCE.arn(self.arns, cluster_id)

    def url_of(self, application_id: str) -> str:
        """The Livy endpoint, unless the admin maps the id elsewhere (proxies, tests)."""
        return self.studio.livy_urls.get(application_id) or livy_endpoint_url(
            application_id, self.arns.region
        )

    def in_studio(self, app: dict[str, Any]) -> str | None:
        subnets = (app.get("networkConfiguration") or {}).get("subnetIds") or []
        allowed = set(self.studio.subnet_ids)
        return next((s for s in subnets if s in allowed), None)

    def to_cluster(self, app: dict[str, Any]) -> ServerlessApplication:
        """An application as listed, with the first reason it cannot take a Workspace."""
        state = app.get("state", "UNKNOWN")
        interactive = app.get("interactiveConfiguration") or {}
        network = app.get("networkConfiguration") or {}
        auto_stop = app.get("autoStopConfiguration") or {}
        subnets = network.get("subnetIds") or []
        entry = ServerlessApplication(
            type=self.type,
            id=app["applicationId"],
            name=app.get("name") or app["applicationId"],
            state=state,
            subnet_id=self.in_studio(app) or (subnets[0] if subnets else None),
            livy_url=self.url_of(app["applicationId"]),
            release_label=app.get("releaseLabel"),
            applications=["Spark", "Livy"] if interactive.get("livyEndpointEnabled") else ["Spark"],
            auto_start=(app.get("autoStartConfiguration") or {}).get("enabled"),
            auto_stop_minutes=auto_stop.get("idleTimeoutMinutes")
            if auto_stop.get("enabled")
            else None,
        )
        reason = None
        if not release_at_least(entry.release_label):
            reason = (
                f"Release {entry.release_label or '?'} has no interactive Livy endpoint: "
                "EMR Serverless serves Workspaces from emr-6.14.0 on; create an application "
                "with a newer release"
            )
        elif not interactive.get("livyEndpointEnabled"):
            reason = (
                "The application's interactive Livy endpoint is off: enable it with "
                "interactiveConfiguration={'livyEndpointEnabled': true} (UpdateApplication "
                "while the application is stopped)"
            )
        elif not subnets:
            reason = (
                "The application has no network configuration, so its Spark cannot reach "
                "the Studio's VPC: give it subnets among the Studio's "
                f"{list(self.studio.subnet_ids)} (networkConfiguration.subnetIds)"
            )
        elif state not in USABLE_STATES:
            reason = f"The application is {state}; attach once it is CREATED, STOPPED or STARTED"
        if reason:
            entry.attachable, entry.reason = False, reason
        return entry

    def visible(self, app: dict[str, Any]) -> bool:
        """Spark applications in the Studio's subnets, or without a network configuration
        (shown with that reason); those in other subnets belong to other Studios."""
        if str(app.get("type", "")).upper() != "SPARK":
            return False
        subnets = (app.get("networkConfiguration") or {}).get("subnetIds") or []
        return not subnets or self.in_studio(app) is not None

    # -- list ---------------------------------------------------------------------------
    async def list_clusters(self, identity: Identity) -> list[Cluster]:
        client = await self.clients(identity, "emr-serverless")
        apps = await asyncio.to_thread(self._describe_all, client)
        return [self.to_cluster(a) for a in apps if self.visible(a)]

    def _describe_all(self, client: Any) -> list[dict[str, Any]]:
        summaries: list[dict[str, Any]] = []
        for page in client.get_paginator("list_applications").paginate(states=LISTED_STATES):
            summaries += [
                a for a in page.get("applications", []) if a.get("type", "").upper() == "SPARK"
            ]

        def get(summary: dict[str, Any]) -> dict[str, Any] | None:
            try:
                app: dict[str, Any] = client.get_application(applicationId=summary["id"])[
                    "application"
                ]
            except ClientError:
                return None  # deleted between the two calls
            return app

        if not summaries:
            return []
        with ThreadPoolExecutor(min(GET_CONCURRENCY, len(summaries))) as pool:
            return [a for a in pool.map(get, summaries) if a]

    # -- resolve ------------------------------------------------------------------------
    async def resolve(
        self, identity: Identity | None, cluster_id: str, endpoint_id: str | None
    ) -> tuple[Cluster, LivyEndpoint]:
        client = await self.clients(identity, "emr-serverless")
        return await asyncio.to_thread(self._resolve, client, cluster_id)

    def describe(self, client: Any, application_id: str) -> dict[str, Any]:
        try:
            app: dict[str, Any] = client.get_application(applicationId=application_id)[
                "application"
            ]
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in {"ResourceNotFoundException", "ValidationException"}:
                raise NotFound(
                    f"No EMR Serverless application {application_id} in this account and region",
                    code="ClusterNotFound",
                ) from None
            raise UpstreamError(f"EMR Serverless GetApplication failed: {e}") from None
        return app

    def _resolve(self, client: Any, application_id: str) -> tuple[Cluster, LivyEndpoint]:
        app = self.describe(client, application_id)
        if str(app.get("type", "")).upper() != "SPARK":
            raise Conflict(
                f"Cannot attach {application_id}: it is a {app.get('type')} application; "
                "Workspaces need a Spark application",
                code="NotInteractive",
            )
        cluster = self.to_cluster(app)
        subnets = (app.get("networkConfiguration") or {}).get("subnetIds") or []
        if subnets and self.in_studio(app) is None:
            raise Forbidden(
                f"Application {application_id} is in subnet(s) {subnets}, none of which is one "
                f"of the Studio's subnets {list(self.studio.subnet_ids)}",
                code="SubnetNotAllowed",
            )
        if not cluster.attachable:
            code = "ClusterNotReady" if cluster.state not in USABLE_STATES else "NotInteractive"
            raise Conflict(f"Cannot attach {application_id}: {cluster.reason}", code=code)
        url = self.url_of(application_id)
        livy_url.probe(url, self.studio.livy_probe_timeout, cluster_id=application_id)
        return cluster, LivyEndpoint(url=url, auth=SIGV4_AUTH)

    def start(self, client: Any, application_id: str) -> str:
        """StartApplication (blocking); the state the application is in afterwards."""
        try:
            client.start_application(applicationId=application_id)
        except ClientError as e:
            raise UpstreamError(
                f"EMR Serverless StartApplication failed for {application_id}: "
                f"{e.response.get('Error', {}).get('Message', e)}",
                code="StartFailed",
            ) from None
        return str(self.describe(client, application_id).get("state", "STARTING"))


SOURCE: SourceSpec = SourceSpec(
    type=EmrServerlessSource.type,
    label="EMR Serverless",
    build=lambda ctx: EmrServerlessSource(ctx.studio, ctx.arns, ctx.clients),
    arn_format="arn:aws:emr-serverless:{region}:{account}:/applications/{id}",
    list_action=EmrServerlessSource.list_action,
    states={
        "STARTED": "ready",
        "STOPPED": "stopped: starts when attached",
        "CREATED": "stopped: starts when attached",
    },
    attach_note="Spark applications (EMR 6.14+) with the interactive Livy endpoint, in the "
    "Studio's subnets; a stopped one starts on attach, and its Spark runs as the execution "
    "role you choose.",
)
