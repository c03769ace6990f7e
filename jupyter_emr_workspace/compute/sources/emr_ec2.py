"""EMR on EC2 clusters: the ones in the Studio's subnets, and Livy on their primary node.

All boto3 calls are blocking; the async methods run them in threads.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from traitlets import Bool, HasTraits

from ... import actions
from ...errors import Conflict, Forbidden, NotFound, UpstreamError
from .. import livy_url
from ..model import ClientFactory, Cluster, LivyEndpoint
from .spec import SourceSpec

if TYPE_CHECKING:
    from ...assignments import Arns
    from ...studio import Identity, Studio

ACTIVE_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
READY_STATES = {"RUNNING", "WAITING"}
DESCRIBE_CONCURRENCY = 8


def cluster_subnets(desc: dict[str, Any]) -> list[str]:
    """Instance groups name one subnet; instance fleets may request several."""
    attrs = desc.get("Ec2InstanceAttributes") or {}
    subnets = list(attrs.get("RequestedEc2SubnetIds") or [])
    if attrs.get("Ec2SubnetId"):
        subnets.insert(0, attrs["Ec2SubnetId"])
    return list(dict.fromkeys(subnets))


def applications(desc: dict[str, Any]) -> list[str]:
    return [a["Name"] for a in desc.get("Applications") or [] if a.get("Name")]


def has_livy(desc: dict[str, Any]) -> bool:
    return any(name.lower() == "livy" for name in applications(desc))


class EmrEc2Settings(HasTraits):
    """``c.Studio`` settings of EMR on EC2 (``livy_urls`` and ``livy_auth`` are shared with
    EMR on EKS: ``compute/settings.py``)."""

    use_public_dns = Bool(
        False, config=True, help="Reach Livy on the primary node's public DNS name."
    )


class EmrEc2Source:
    type = "emr-ec2"
    list_action = actions.LIST_CLUSTERS

    #: seconds a listing reuses a cluster's DescribeCluster while its state is unchanged
    DESCRIBE_TTL = 60.0

    def __init__(self, studio: Studio, arns: Arns, clients: ClientFactory) -> None:
        self.studio, self.arns, self.clients = studio, arns, clients
        # the panel polls the list: one DescribeCluster per cluster per poll would cost
        # N calls (and throttling) for facts that change only with the state
        self._described: dict[str, tuple[float, str, dict[str, Any]]] = {}

    def arn(self, cluster_id: str) -> str:
        return SOURCE.arn(self.arns, cluster_id)

    def in_studio(self, desc: dict[str, Any]) -> str | None:
        """The first of the cluster's subnets that is one of the Studio's, or None."""
        allowed = set(self.studio.subnet_ids)
        return next((s for s in cluster_subnets(desc) if s in allowed), None)

    def to_cluster(self, desc: dict[str, Any]) -> Cluster:
        subnets = cluster_subnets(desc)
        state = desc.get("Status", {}).get("State", "UNKNOWN")
        cluster = Cluster(
            type=self.type,
            id=desc["Id"],
            name=desc.get("Name", desc["Id"]),
            state=state,
            subnet_id=self.in_studio(desc) or (subnets[0] if subnets else None),
            livy_url=self.studio.livy_urls.get(desc["Id"]) or self._listed_url(desc),
            release_label=desc.get("ReleaseLabel"),
            applications=applications(desc),
        )
        if not has_livy(desc) and desc["Id"] not in self.studio.livy_urls:
            cluster.attachable = False
            cluster.reason = (
                "Livy is not installed on this cluster: create clusters with the Livy "
                "application (Applications=[{'Name': 'Livy'}, ...]) to attach Workspaces"
            )
        elif state not in READY_STATES:
            cluster.attachable = False
            cluster.reason = f"The cluster is {state}; attach once it is WAITING or RUNNING"
        return cluster

    def _listed_url(self, desc: dict[str, Any]) -> str | None:
        """A best guess for the list (the scheme is only known after probing, on attach)."""
        host = desc.get("MasterPublicDnsName")
        if not host or not has_livy(desc):
            return None
        return f"http://{host}:{livy_url.livy_port(desc.get('Configurations'))}"

    # -- list ---------------------------------------------------------------------------
    async def list_clusters(self, identity: Identity) -> list[Cluster]:
        emr = await self.clients(identity, "emr")
        descs = await asyncio.to_thread(self._describe_active, emr)
        return [self.to_cluster(d) for d in descs if self.in_studio(d)]

    def _describe_active(self, emr: Any) -> list[dict[str, Any]]:
        states: dict[str, str] = {}
        for page in emr.get_paginator("list_clusters").paginate(ClusterStates=ACTIVE_STATES):
            states.update(
                {c["Id"]: c.get("Status", {}).get("State", "") for c in page.get("Clusters", [])}
            )
        now = time.monotonic()
        self._described = {k: v for k, v in self._described.items() if k in states}
        fresh = {
            cid: entry[2]
            for cid, entry in self._described.items()
            if entry[1] == states[cid] and now - entry[0] < self.DESCRIBE_TTL
        }
        missing = [cid for cid in states if cid not in fresh]

        def describe(cluster_id: str) -> dict[str, Any] | None:
            try:
                desc: dict[str, Any] = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
            except ClientError:
                return None  # terminated between the two calls
            self._described[cluster_id] = (now, states[cluster_id], desc)
            return desc

        if missing:
            with ThreadPoolExecutor(min(DESCRIBE_CONCURRENCY, len(missing))) as pool:
                fresh.update({d["Id"]: d for d in pool.map(describe, missing) if d})
        return [fresh[cid] for cid in states if cid in fresh]

    # -- resolve ------------------------------------------------------------------------
    async def resolve(
        self, identity: Identity | None, cluster_id: str, endpoint_id: str | None
    ) -> tuple[Cluster, LivyEndpoint]:
        emr = await self.clients(identity, "emr")
        return await asyncio.to_thread(self._resolve, emr, cluster_id)

    def _resolve(self, emr: Any, cluster_id: str) -> tuple[Cluster, LivyEndpoint]:
        try:
            desc = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
        except ClientError as e:
            # EMR answers InvalidRequestException "Cluster id '...' is not valid." for an
            # unknown id; throttling and access errors must not read as "no such cluster"
            code = e.response.get("Error", {}).get("Code", "")
            if code in {"InvalidRequestException", "ResourceNotFoundException"}:
                raise NotFound(
                    f"No EMR cluster {cluster_id} in this account and region",
                    code="ClusterNotFound",
                ) from None
            raise UpstreamError(f"EMR DescribeCluster failed: {e}") from None
        cluster = self.to_cluster(desc)
        subnet = self.in_studio(desc)
        if subnet is None:
            raise Forbidden(
                f"Cluster {cluster_id} is in subnet(s) {cluster_subnets(desc) or ['unknown']}, "
                f"none of which is one of the Studio's subnets {list(self.studio.subnet_ids)}; "
                "attach a cluster in the Studio's subnets, or ask the admin to add the subnet",
                code="SubnetNotAllowed",
            )
        if not cluster.attachable:
            code = "ClusterNotReady" if cluster.state not in READY_STATES else "LivyNotInstalled"
            raise Conflict(f"Cannot attach {cluster_id}: {cluster.reason}", code=code)
        timeout = self.studio.livy_probe_timeout
        url = self.studio.livy_urls.get(cluster_id)
        if url is None:
            host = self._primary_dns(emr, desc)
            port = livy_url.livy_port(desc.get("Configurations"))
            try:
                url = livy_url.url_for_host(host, port, timeout)
            except OSError as e:
                raise UpstreamError(
                    livy_url.unreachable_hint(f"http://{host}:{port}", cluster_id, subnet)
                    + f" ({e})",
                    code="LivyUnreachable",
                ) from None
        livy_url.probe(url, timeout, cluster_id=cluster_id, subnet_id=subnet)
        cluster.livy_url = url
        endpoint = livy_url.emr_auth(
            self.studio.livy_auth, self.studio.livy_username, self.studio.livy_password_env, url
        )
        return cluster, endpoint

    def _primary_dns(self, emr: Any, desc: dict[str, Any]) -> str:
        """Private DNS of the primary node (public with ``use_public_dns``)."""
        public = desc.get("MasterPublicDnsName")
        if self.studio.use_public_dns and public:
            return str(public)
        kind = (
            "InstanceFleetType"
            if desc.get("InstanceCollectionType") == "INSTANCE_FLEET"
            else "InstanceGroupTypes"
        )
        value: Any = "MASTER" if kind == "InstanceFleetType" else ["MASTER"]
        try:
            instances = emr.list_instances(
                ClusterId=desc["Id"], **{kind: value}, InstanceStates=["RUNNING"]
            )["Instances"]
        except ClientError:
            instances = []
        for instance in instances:
            if instance.get("PrivateDnsName"):
                return str(instance["PrivateDnsName"])
        if public:  # in a private subnet EMR reports the private name here
            return str(public)
        raise Conflict(
            f"Cluster {desc['Id']} has no primary node address yet; try again once it is WAITING",
            code="ClusterNotReady",
        )


SOURCE: SourceSpec = SourceSpec(
    type=EmrEc2Source.type,
    label="EMR on EC2",
    build=lambda ctx: EmrEc2Source(ctx.studio, ctx.arns, ctx.clients),
    arn_format="arn:aws:elasticmapreduce:{region}:{account}:cluster/{id}",
    list_action=EmrEc2Source.list_action,
    settings=EmrEc2Settings,
    attach_note="EMR clusters in the Studio's subnets with Livy installed; kernels reach "
    "Livy on the primary node.",
)
