"""EMR on EKS virtual clusters and the Livy endpoints in front of them.

Livy on EKS is deployed by Helm and has no API of its own, so the admin maps a virtual
cluster to its Livy URL in ``c.Studio.eks_livy_urls`` (or ``livy_urls``), or tags the
virtual cluster with ``c.Studio.eks_livy_tag``. Managed endpoints are listed where the API
offers them; they serve Jupyter Enterprise Gateway, so attaching through one needs a Livy
URL mapped to the endpoint's id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from traitlets import Dict, HasTraits, Unicode

from ... import actions
from ...errors import Conflict, NotFound, UpstreamError
from .. import livy_url
from ..model import ClientFactory, Cluster, LivyEndpoint
from .spec import SourceSpec

if TYPE_CHECKING:
    from ...assignments import Arns
    from ...studio import Identity, Studio

log = logging.getLogger(__name__)


class EmrEksSettings(HasTraits):
    """``c.Studio`` settings of EMR on EKS: where each virtual cluster's Livy is."""

    eks_livy_urls = Dict(
        Unicode(), config=True, help="EMR on EKS virtual cluster id → Livy URL (Livy on EKS)."
    )
    eks_livy_tag = Unicode(
        "emr-workspace:livy-url",
        config=True,
        help="Tag on a virtual cluster whose value is its Livy URL (used when eks_livy_urls "
        "does not name it).",
    )


def validate_settings(studio: Any) -> None:
    for key, url in studio.eks_livy_urls.items():
        livy_url.check_setting(url, f"c.Studio.eks_livy_urls[{key!r}]")


class EmrEksSource:
    type = "emr-eks"
    list_action = actions.LIST_VIRTUAL_CLUSTERS

    def __init__(self, studio: Studio, arns: Arns, clients: ClientFactory) -> None:
        self.studio, self.arns, self.clients = studio, arns, clients

    def arn(self, cluster_id: str) -> str:
        return SOURCE.arn(self.arns, cluster_id)

    def livy_url_of(self, vc: dict[str, Any]) -> str | None:
        return (
            self.studio.eks_livy_urls.get(vc["id"])
            or self.studio.livy_urls.get(vc["id"])
            or (vc.get("tags") or {}).get(self.studio.eks_livy_tag)
        )

    def to_clusters(self, vc: dict[str, Any], endpoints: list[dict[str, Any]]) -> list[Cluster]:
        url = self.livy_url_of(vc)
        namespace = (
            ((vc.get("containerProvider") or {}).get("info") or {}).get("eksInfo") or {}
        ).get("namespace")
        cluster = Cluster(
            type=self.type,
            id=vc["id"],
            name=vc.get("name", vc["id"]),
            state=vc.get("state", "UNKNOWN"),
            livy_url=url,
            applications=["Spark", "Livy"] if url else ["Spark"],
        )
        if cluster.state != "RUNNING":
            cluster.attachable, cluster.reason = False, f"The virtual cluster is {cluster.state}"
        elif url is None:
            cluster.attachable = False
            cluster.reason = (
                f"No Livy endpoint is known for this virtual cluster (EKS namespace "
                f"{namespace or '?'}): the admin maps it in c.Studio.eks_livy_urls or tags it "
                f"{self.studio.eks_livy_tag}=<Livy URL>"
            )
        out = [cluster]
        for ep in endpoints:
            ep_url = self.studio.livy_urls.get(ep["id"])
            entry = Cluster(
                type=self.type,
                id=vc["id"],
                endpoint_id=ep["id"],
                name=f"{cluster.name} / {ep.get('name', ep['id'])}",
                state=ep.get("state", "UNKNOWN"),
                livy_url=ep_url,
                release_label=ep.get("releaseLabel"),
                applications=["Spark"],
            )
            if ep_url is None:
                entry.attachable = False
                entry.reason = (
                    f"Managed endpoint of type {ep.get('type', '?')} (Jupyter Enterprise "
                    "Gateway), which sparkmagic cannot use: map its id to a Livy URL in "
                    "c.Studio.livy_urls"
                )
            elif entry.state != "ACTIVE":
                entry.attachable, entry.reason = False, f"The endpoint is {entry.state}"
            out.append(entry)
        return out

    # -- list ---------------------------------------------------------------------------
    async def list_clusters(self, identity: Identity) -> list[Cluster]:
        client = await self.clients(identity, "emr-containers")
        return await asyncio.to_thread(self._list, client)

    def _list(self, client: Any) -> list[Cluster]:
        out: list[Cluster] = []
        for vc in self._virtual_clusters(client):
            out += self.to_clusters(vc, self.managed_endpoints(client, vc["id"]))
        return out

    def _virtual_clusters(self, client: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"states": ["RUNNING"]}
        while True:
            page = client.list_virtual_clusters(**kwargs)
            found += page.get("virtualClusters", [])
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]

    def managed_endpoints(self, client: Any, vc_id: str) -> list[dict[str, Any]]:
        """Active and creating endpoints; [] where the API does not offer them."""
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"virtualClusterId": vc_id, "states": ["ACTIVE", "CREATING"]}
        try:
            while True:
                page = client.list_managed_endpoints(**kwargs)
                found += page.get("endpoints", [])
                if not page.get("nextToken"):
                    return found
                kwargs["nextToken"] = page["nextToken"]
        except ClientError as e:
            log.debug("no managed endpoints for %s: %s", vc_id, e)
            return found

    # -- resolve ------------------------------------------------------------------------
    async def resolve(
        self, identity: Identity | None, cluster_id: str, endpoint_id: str | None
    ) -> tuple[Cluster, LivyEndpoint]:
        client = await self.clients(identity, "emr-containers")
        return await asyncio.to_thread(self._resolve, client, cluster_id, endpoint_id)

    def _resolve(
        self, client: Any, vc_id: str, endpoint_id: str | None
    ) -> tuple[Cluster, LivyEndpoint]:
        try:
            vc = client.describe_virtual_cluster(id=vc_id)["virtualCluster"]
        except ClientError as e:
            # unknown ids answer ResourceNotFoundException, or ValidationException "Virtual
            # cluster ... doesn't exist"; throttling and access errors are not "not found"
            if e.response.get("Error", {}).get("Code") in {
                "ResourceNotFoundException",
                "ValidationException",
            }:
                raise NotFound(
                    f"No EMR on EKS virtual cluster {vc_id}", code="ClusterNotFound"
                ) from None
            raise UpstreamError(f"emr-containers DescribeVirtualCluster failed: {e}") from None
        endpoints = []
        if endpoint_id:
            try:
                ep = client.describe_managed_endpoint(id=endpoint_id, virtualClusterId=vc_id)
            except ClientError:
                raise NotFound(
                    f"No managed endpoint {endpoint_id} in virtual cluster {vc_id}",
                    code="EndpointNotFound",
                ) from None
            endpoints = [ep["endpoint"]]
        entries = self.to_clusters(vc, endpoints)
        cluster = entries[-1] if endpoint_id else entries[0]
        if not cluster.attachable:
            ready = cluster.state in {"RUNNING", "ACTIVE"}
            code = "NoLivyEndpoint" if ready else "ClusterNotReady"
            raise Conflict(f"Cannot attach {vc_id}: {cluster.reason}", code=code)
        assert cluster.livy_url
        livy_url.probe(cluster.livy_url, self.studio.livy_probe_timeout, cluster_id=vc_id)
        endpoint = livy_url.emr_auth(
            self.studio.livy_auth,
            self.studio.livy_username,
            self.studio.livy_password_env,
            cluster.livy_url,
        )
        return cluster, endpoint


SOURCE: SourceSpec = SourceSpec(
    type=EmrEksSource.type,
    label="EMR on EKS",
    build=lambda ctx: EmrEksSource(ctx.studio, ctx.arns, ctx.clients),
    arn_format="arn:aws:emr-containers:{region}:{account}:/virtualclusters/{id}",
    list_action=EmrEksSource.list_action,
    settings=EmrEksSettings,
    validate=validate_settings,
    attach_note="Virtual clusters with Livy on EKS (mapped by the admin or tagged); managed "
    "endpoints need a Livy URL mapped to their id.",
)
