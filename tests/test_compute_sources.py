"""Cluster sources, Livy URL resolution, templates and compute settings, without a server.

moto lacks EMR on EKS managed endpoints, and reports neither instance fleets'
RequestedEc2SubnetIds nor primary-node instances: the code for those is tested here against
recorded AWS responses (botocore Stubber), as the design asks. The Livy endpoints probed are
real local HTTP(S) servers.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from emrws_testing.compute import FakeLivy, subnet_id

from jupyter_emr_workspace.assignments import Arns
from jupyter_emr_workspace.compute.livy_url import livy_port
from jupyter_emr_workspace.compute.sources.emr_ec2 import EmrEc2Source
from jupyter_emr_workspace.compute.sources.emr_eks import EmrEksSource
from jupyter_emr_workspace.compute.templates import parse_templates
from jupyter_emr_workspace.errors import ConfigError, Conflict, NotFound, UpstreamError
from jupyter_emr_workspace.studio import Studio

ARNS = Arns("us-east-1", "123456789012", "es-units")
WHEN = datetime.datetime(2026, 11, 2, 9, 30, tzinfo=datetime.UTC)


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def factory(client: Any) -> Any:
    async def clients(identity: Any, service: str) -> Any:
        return client

    return clients


# -- EMR on EKS: managed endpoints (recorded responses) -----------------------------------


def virtual_cluster(vc_id: str, name: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": vc_id,
        "name": name,
        "state": "RUNNING",
        "arn": f"arn:aws:emr-containers:us-east-1:123456789012:/virtualclusters/{vc_id}",
        "containerProvider": {
            "type": "EKS",
            "id": "analytics-eks",
            "info": {"eksInfo": {"namespace": name}},
        },
        "createdAt": WHEN,
        "tags": tags or {},
    }


def managed_endpoint(ep_id: str, vc_id: str, name: str) -> dict[str, Any]:
    return {
        "id": ep_id,
        "name": name,
        "virtualClusterId": vc_id,
        "arn": f"arn:aws:emr-containers:us-east-1:123456789012:/virtualclusters/{vc_id}"
        f"/endpoints/{ep_id}",
        "type": "JUPYTER_ENTERPRISE_GATEWAY",
        "state": "ACTIVE",
        "releaseLabel": "emr-6.15.0-latest",
        "executionRoleArn": "arn:aws:iam::123456789012:role/emr-eks-job-role",
        "serverUrl": f"https://{ep_id}.emrcontainers.us-east-1.amazonaws.com",
        "createdAt": WHEN,
        "securityGroup": "sg-0123456789abcdef0",
        "subnetIds": ["subnet-0123456789abcdef0"],
    }


def test_eks_lists_virtual_clusters_and_managed_endpoints_across_pages() -> None:
    client, stub = stubbed("emr-containers")
    stub.add_response(
        "list_virtual_clusters",
        {
            "virtualClusters": [virtual_cluster("vc1aaaaaaaaaaaaaaaaaaaaaaa", "etl")],
            "nextToken": "page-2",
        },
        {"states": ["RUNNING"]},
    )
    stub.add_response(
        "list_virtual_clusters",
        {"virtualClusters": [virtual_cluster("vc2aaaaaaaaaaaaaaaaaaaaaaa", "adhoc")]},
        {"states": ["RUNNING"], "nextToken": "page-2"},
    )
    stub.add_response(
        "list_managed_endpoints",
        {
            "endpoints": [
                managed_endpoint("ep1aaaaaaaaaa", "vc1aaaaaaaaaaaaaaaaaaaaaaa", "notebooks"),
                managed_endpoint("ep2aaaaaaaaaa", "vc1aaaaaaaaaaaaaaaaaaaaaaa", "livy-proxy"),
            ]
        },
        {"virtualClusterId": "vc1aaaaaaaaaaaaaaaaaaaaaaa", "states": ["ACTIVE", "CREATING"]},
    )
    stub.add_client_error(
        "list_managed_endpoints",
        "AccessDeniedException",
        "not authorized to perform: emr-containers:ListManagedEndpoints",
        403,
    )
    studio = Studio(
        eks_livy_urls={"vc1aaaaaaaaaaaaaaaaaaaaaaa": "http://livy.etl.svc:8998"},
        livy_urls={"ep2aaaaaaaaaa": "http://livy-proxy.internal:8998"},
    )
    with stub:
        found = asyncio.run(EmrEksSource(studio, ARNS, factory(client)).list_clusters(None))  # type: ignore[arg-type]
        stub.assert_no_pending_responses()
    by_key = {(c.id, c.endpoint_id): c for c in found}
    vc1 = by_key[("vc1aaaaaaaaaaaaaaaaaaaaaaa", None)]
    assert vc1.attachable and vc1.livy_url == "http://livy.etl.svc:8998"
    jeg = by_key[("vc1aaaaaaaaaaaaaaaaaaaaaaa", "ep1aaaaaaaaaa")]
    assert not jeg.attachable and "Jupyter Enterprise Gateway" in (jeg.reason or "")
    assert jeg.name == "etl / notebooks" and jeg.release_label == "emr-6.15.0-latest"
    mapped = by_key[("vc1aaaaaaaaaaaaaaaaaaaaaaa", "ep2aaaaaaaaaa")]
    assert mapped.attachable and mapped.livy_url == "http://livy-proxy.internal:8998"
    vc2 = by_key[("vc2aaaaaaaaaaaaaaaaaaaaaaa", None)]  # endpoints unavailable: still listed
    assert not vc2.attachable and "eks_livy_urls" in (vc2.reason or "")
    assert "namespace adhoc" in (vc2.reason or "")


def test_eks_attach_through_a_managed_endpoint(livy: FakeLivy) -> None:
    client, stub = stubbed("emr-containers")
    vc_id, ep_id = "vc1aaaaaaaaaaaaaaaaaaaaaaa", "ep2aaaaaaaaaa"
    stub.add_response(
        "describe_virtual_cluster", {"virtualCluster": virtual_cluster(vc_id, "etl")}, {"id": vc_id}
    )
    stub.add_response(
        "describe_managed_endpoint",
        {"endpoint": managed_endpoint(ep_id, vc_id, "livy-proxy")},
        {"id": ep_id, "virtualClusterId": vc_id},
    )
    stub.add_response(
        "describe_virtual_cluster", {"virtualCluster": virtual_cluster(vc_id, "etl")}, {"id": vc_id}
    )
    stub.add_client_error(
        "describe_managed_endpoint", "ResourceNotFoundException", "endpoint not found", 404
    )
    source = EmrEksSource(Studio(livy_urls={ep_id: livy.url}), ARNS, factory(client))
    with stub:
        cluster, endpoint = asyncio.run(source.resolve(None, vc_id, ep_id))
        assert cluster.endpoint_id == ep_id and endpoint.url == livy.url
        assert livy.requests  # probed
        with pytest.raises(NotFound):
            asyncio.run(source.resolve(None, vc_id, "epnope"))
        stub.assert_no_pending_responses()


# -- EMR on EC2: instance fleets, primary node DNS, TLS (recorded responses) ----------------


def fleet_cluster(cluster_id: str, subnets: list[str], port: int) -> dict[str, Any]:
    return {
        "Id": cluster_id,
        "Name": "fleet",
        "Status": {
            "State": "WAITING",
            "StateChangeReason": {"Message": "Cluster ready"},
            "Timeline": {"CreationDateTime": WHEN},
        },
        "Ec2InstanceAttributes": {
            "RequestedEc2SubnetIds": subnets,
            "Ec2AvailabilityZone": "us-east-1b",
        },
        "InstanceCollectionType": "INSTANCE_FLEET",
        "ReleaseLabel": "emr-7.2.0",
        "Applications": [
            {"Name": "Spark", "Version": "3.5.1"},
            {"Name": "Livy", "Version": "0.8.0"},
        ],
        "Configurations": [
            {"Classification": "livy-conf", "Properties": {"livy.server.port": str(port)}}
        ],
        "MasterPublicDnsName": "ip-10-0-1-23.ec2.internal",
    }


def test_fleet_cluster_in_requested_subnets_with_livy_over_tls(tmp_path: Path) -> None:
    ours, other = subnet_id(), subnet_id()
    livy = FakeLivy(tls_dir=tmp_path / "tls")
    try:
        desc = fleet_cluster("j-FLEET1234567", [other, ours], livy.port)
        client, stub = stubbed("emr")
        stub.add_response(
            "list_clusters", {"Clusters": [{"Id": "j-FLEET1234567", "Name": "fleet"}]}
        )
        stub.add_response("describe_cluster", {"Cluster": desc}, {"ClusterId": "j-FLEET1234567"})
        stub.add_response("describe_cluster", {"Cluster": desc}, {"ClusterId": "j-FLEET1234567"})
        stub.add_response(
            "list_instances",
            {
                "Instances": [
                    {
                        "Id": "ci-1",
                        "Ec2InstanceId": "i-0abc",
                        "PrivateDnsName": "localhost",
                        "PrivateIpAddress": "127.0.0.1",
                        "Status": {"State": "RUNNING"},
                        "InstanceFleetId": "if-1",
                    }
                ]
            },
            {
                "ClusterId": "j-FLEET1234567",
                "InstanceFleetType": "MASTER",
                "InstanceStates": ["RUNNING"],
            },
        )
        source = EmrEc2Source(Studio(subnet_ids=[ours]), ARNS, factory(client))
        with stub:
            (listed,) = asyncio.run(source.list_clusters(None))  # type: ignore[arg-type]
            assert listed.subnet_id == ours and listed.applications == ["Spark", "Livy"]
            cluster, endpoint = asyncio.run(source.resolve(None, "j-FLEET1234567", None))
            stub.assert_no_pending_responses()
        # private DNS of the primary node, the livy-conf port, https because it speaks TLS
        assert endpoint.url == f"https://localhost:{livy.port}" == cluster.livy_url
        assert livy.requests
    finally:
        livy.close()


def test_livy_port_from_the_livy_conf_classification() -> None:
    assert livy_port(None) == 8998
    assert livy_port([{"Classification": "spark-defaults", "Properties": {}}]) == 8998
    assert (
        livy_port([{"Classification": "livy-conf", "Properties": {"livy.server.port": "18998"}}])
        == 18998
    )


def test_unknown_and_not_ready_clusters() -> None:
    client, stub = stubbed("emr")
    stub.add_client_error(
        "describe_cluster", "InvalidRequestException", "Cluster id 'j-NOPE' is not valid.", 400
    )
    starting = fleet_cluster("j-STARTING1234", [], 8998)
    starting["Status"]["State"] = "STARTING"
    starting["Ec2InstanceAttributes"] = {"Ec2SubnetId": "subnet-0123456789abcdef0"}
    stub.add_response("describe_cluster", {"Cluster": starting})
    stub.add_client_error("describe_cluster", "ThrottlingException", "Rate exceeded", 400)
    source = EmrEc2Source(Studio(subnet_ids=["subnet-0123456789abcdef0"]), ARNS, factory(client))
    with stub:
        with pytest.raises(NotFound):
            asyncio.run(source.resolve(None, "j-NOPE", None))
        with pytest.raises(Conflict, match="STARTING"):
            asyncio.run(source.resolve(None, "j-STARTING1234", None))
        with pytest.raises(UpstreamError, match="Rate exceeded"):  # not "no such cluster"
            asyncio.run(source.resolve(None, "j-BUSY12345678", None))


# -- templates and settings -------------------------------------------------------------------


def test_template_rendering_fills_fields_and_places_fleets_in_the_studio_subnets() -> None:
    subnets = [subnet_id(), subnet_id()]
    (template,) = parse_templates(
        [
            {
                "name": "fleet",
                "description": "",
                "run_job_flow": {
                    "ReleaseLabel": "emr-7.2.0",
                    "Instances": {
                        "InstanceFleets": [
                            {
                                "InstanceFleetType": "MASTER",
                                "TargetOnDemandCapacity": 1,
                                "InstanceTypeConfigs": [{"InstanceType": "{{type}}"}],
                            }
                        ]
                    },
                    "LogUri": "s3://logs/{{team}}/",
                    "StepConcurrencyLevel": "{{steps}}",
                },
                "fields": [
                    {
                        "name": "type",
                        "type": "choice",
                        "choices": ["m5.xlarge"],
                        "default": "m5.xlarge",
                    },
                    {"name": "team"},
                    {"name": "steps", "type": "number", "min": 1},
                ],
            }
        ],
        subnets,
    ).values()
    params = template.render(
        "n", template.values({"team": "ds"}), subnet_ids=subnets, tags={"k": "v"}
    )
    assert params["Instances"]["Ec2SubnetIds"] == subnets
    assert params["Instances"]["InstanceFleets"][0]["InstanceTypeConfigs"] == [
        {"InstanceType": "m5.xlarge"}
    ]
    assert params["LogUri"] == "s3://logs/ds/"
    assert "StepConcurrencyLevel" not in params  # optional and empty: left to EMR's default
    assert params["Tags"] == [{"Key": "k", "Value": "v"}] and params["Name"] == "n"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"compute_sources": ["emr-ec2", "hadoop"]}, "c.Studio.compute_sources"),
        ({"livy_urls": {"j-1": "livy:8998"}}, "c.Studio.livy_urls['j-1']"),
        ({"eks_livy_urls": {"vc": "ftp://x"}}, "c.Studio.eks_livy_urls['vc']"),
        ({"livy_auth": "Basic"}, "c.Studio.livy_username"),
        ({"livy_probe_timeout": 0.0}, "c.Studio.livy_probe_timeout"),
        (
            {"cluster_templates": [{"name": "t", "run_job_flow": {"Name": "{{x}}"}}]},
            "c.Studio.cluster_templates[0].run_job_flow uses ['x']",
        ),
        (
            {
                "cluster_templates": [
                    {
                        "name": "t",
                        "run_job_flow": {"A": 1},
                        "fields": [{"name": "n", "type": "number", "default": "many"}],
                    }
                ]
            },
            "c.Studio.cluster_templates[0].fields[0].default",
        ),
        (
            {
                "cluster_templates": [
                    {
                        "name": "t",
                        "run_job_flow": {"Instances": {"Ec2SubnetId": "subnet-00000000000000000"}},
                    }
                ],
                "subnet_ids": ["subnet-11111111"],
            },
            "not in c.Studio.subnet_ids",
        ),
        (
            {"cluster_templates": [{"name": "t", "service_catalog": {"product_id": "prod-1"}}]},
            "provisioning_artifact_id",
        ),
    ],
)
def test_bad_compute_settings_stop_the_server_naming_the_setting(
    settings: dict[str, Any], named: str, tmp_path: Path
) -> None:
    studio = Studio(backup_uri=str(tmp_path), **settings)
    with pytest.raises(ConfigError) as info:
        studio.validate()
    assert named in str(info.value)


def test_default_sources_follow_the_studio_subnets() -> None:
    from jupyter_emr_workspace.compute.config import effective_sources

    assert effective_sources(Studio()) == ["local"]
    assert effective_sources(Studio(subnet_ids=["subnet-0123456789abcdef0"])) == [
        "emr-ec2",
        "emr-eks",
        "emr-serverless",
        "local",
    ]
    assert effective_sources(Studio(compute_sources=["emr-eks"])) == ["emr-eks"]


def test_listing_reuses_descriptions_while_the_state_is_unchanged() -> None:
    """The panel polls: a cluster is described again only when its state changed."""
    ours = subnet_id()
    desc = fleet_cluster("j-POLLED123456", [ours], 8998)
    client, stub = stubbed("emr")
    listed = {
        "Clusters": [{"Id": "j-POLLED123456", "Name": "fleet", "Status": {"State": "WAITING"}}]
    }
    stub.add_response("list_clusters", listed)
    stub.add_response("describe_cluster", {"Cluster": desc})
    stub.add_response("list_clusters", listed)  # same state: no DescribeCluster
    running = {
        "Clusters": [{"Id": "j-POLLED123456", "Name": "fleet", "Status": {"State": "RUNNING"}}]
    }
    stub.add_response("list_clusters", running)
    stub.add_response(
        "describe_cluster", {"Cluster": {**desc, "Status": {**desc["Status"], "State": "RUNNING"}}}
    )
    source = EmrEc2Source(Studio(subnet_ids=[ours]), ARNS, factory(client))
    with stub:
        states = [
            asyncio.run(source.list_clusters(None))[0].state  # type: ignore[arg-type]
            for _ in range(3)
        ]
        stub.assert_no_pending_responses()
    assert states == ["WAITING", "WAITING", "RUNNING"]
