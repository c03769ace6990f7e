"""Compute through the real jupyter-server: cluster sources against moto's EMR and
emr-containers served over HTTP, attach/detach, sparkmagic wiring, templates, audit.

No Spark here (see test_compute_e2e.py); a stand-in Livy answers the reachability probe.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import Api
from emrws_testing.compute import FakeLivy, closed_port, run_cluster, subnet_id
from emrws_testing.moto_servers import MotoHttp, client

from jupyter_emr_workspace.kernels import find_workspace_conf

pytestmark = pytest.mark.usefixtures("kernel_registry")

EMR = "elasticmapreduce"


@pytest.fixture
def compute_config() -> dict[str, Any]:
    return {}


@pytest.fixture
def studio_config(
    tmp_path: Path, moto: MotoHttp, subnets: list[str], compute_config: dict[str, Any]
) -> dict[str, Any]:
    return {
        "backup_uri": str(tmp_path / "store"),
        "id": "es-test",
        "endpoint_url": moto.url,
        "region": "us-east-1",
        "subnet_ids": subnets,
        "livy_probe_timeout": 1.0,
        **compute_config,
    }


@pytest.fixture
def emr(moto: MotoHttp) -> Any:
    return client(moto.url, "emr")


async def new_workspace(api: Api, name: str, *, open_it: bool = True, user: str = "alice") -> str:
    r = await api("POST", "workspaces", {"name": name}, user=user)
    assert r.code == 201, r
    if open_it:
        assert (await api("POST", f"workspaces/{r.json['id']}/open", user=user)).code == 200
    return str(r.json["id"])


def events(services: Any, action: str) -> list[dict[str, Any]]:
    return [e for e in services.audit.recent(1000) if e["action"] == action]


# -- listing -----------------------------------------------------------------------------


async def test_lists_active_clusters_in_the_studio_subnets_across_pages(
    api: Api, emr: Any, subnets: list[str], moto: MotoHttp
) -> None:
    ours = [run_cluster(emr, f"bulk-{i}", subnets[i % 2]) for i in range(53)]
    outside = run_cluster(emr, "elsewhere", subnet_id())
    no_subnet = run_cluster(emr, "default-vpc")
    no_livy = run_cluster(emr, "no-livy", subnets[0], livy=False)
    custom_port = run_cluster(
        emr,
        "port",
        subnets[1],
        configurations=[
            {"Classification": "livy-conf", "Properties": {"livy.server.port": "8999"}}
        ],
    )
    gone = run_cluster(emr, "gone", subnets[0])
    emr.terminate_job_flows(JobFlowIds=[gone])
    eks = client(moto.url, "emr-containers")
    tagged = eks.create_virtual_cluster(
        name="tagged",
        containerProvider={
            "type": "EKS",
            "id": "eks-1",
            "info": {"eksInfo": {"namespace": "spark"}},
        },
        tags={"emr-workspace:livy-url": "http://livy.spark.svc:8998"},
    )["id"]

    r = await api("GET", "clusters")
    assert r.code == 200, r
    assert r.json["errors"] == []
    by_id = {c["id"]: c for c in r.json["clusters"] if c["type"] == "emr-ec2"}
    assert set(by_id) == {*ours, no_livy, custom_port}  # 56 > one page of 50
    assert outside not in by_id and no_subnet not in by_id and gone not in by_id
    first = by_id[ours[0]]
    assert first["name"] == "bulk-0" and first["state"] == "WAITING"
    assert first["subnet_id"] == subnets[0] and first["release_label"] == "emr-7.1.0"
    assert first["applications"] == ["Spark", "Livy"]
    assert first["attachable"] is True and first["reason"] is None
    assert by_id[no_livy]["attachable"] is False
    assert "Livy is not installed" in by_id[no_livy]["reason"]
    assert by_id[custom_port]["livy_url"].endswith(":8999")

    eks_entries = {c["id"]: c for c in r.json["clusters"] if c["type"] == "emr-eks"}
    assert eks_entries[tagged]["livy_url"] == "http://livy.spark.svc:8998"
    assert eks_entries[tagged]["attachable"] is True
    local = [c for c in r.json["clusters"] if c["type"] == "local"]
    assert len(local) == 1 and local[0]["id"] == "local"
    assert set(local[0]) == set(first)  # every entry has the same shape


@pytest.mark.parametrize(
    "compute_config",
    [
        {
            "policies": {
                "no-eks": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "*", "Resource": "*"},
                        {
                            "Effect": "Deny",
                            "Action": "emr-containers:ListVirtualClusters",
                            "Resource": "*",
                        },
                    ],
                }
            },
            "assignments": {"user:alice": "no-eks"},
        }
    ],
)
async def test_a_failing_source_is_listed_as_an_error_and_the_others_still_show(
    api: Api, emr: Any, subnets: list[str], services: Any
) -> None:
    cluster = run_cluster(emr, "visible", subnets[0])
    r = await api("GET", "clusters")
    assert r.code == 200, r
    assert [e["source"] for e in r.json["errors"]] == ["emr-eks"]
    assert (
        "not authorized to perform emr-containers:ListVirtualClusters"
        in (r.json["errors"][0]["message"])
    )
    assert cluster in {c["id"] for c in r.json["clusters"]}
    assert events(services, "emr-containers:ListVirtualClusters")[0]["outcome"] == "denied"


# -- attach / detach -----------------------------------------------------------------------


async def test_attach_writes_the_sparkmagic_config_and_detach_removes_it(
    api: Api, emr: Any, subnets: list[str], services: Any, livy: FakeLivy, kernel_registry: Path
) -> None:
    cluster = run_cluster(emr, "attach-me", subnets[1])
    services.studio.livy_urls = {cluster: livy.url}
    wid = await new_workspace(api, "analysis")
    session = {
        "driverMemory": "2g",
        "executorMemory": "4g",
        "executorCores": 2,
        "conf": {"spark.sql.shuffle.partitions": 8},
    }
    r = await api(
        "POST",
        f"workspaces/{wid}/attach",
        {"type": "emr-ec2", "cluster_id": cluster, "session": session},
    )
    assert r.code == 200, r
    att = r.json["attachment"]
    assert att["type"] == "emr-ec2" and att["cluster_id"] == cluster
    assert att["livy_url"] == livy.url and att["attached_by"] == "alice" and att["attached_at"]
    assert att["auth"] == "None"
    assert att["session"]["conf"] == {"spark.sql.shuffle.partitions": "8"}
    assert r.json["running_kernels"] == 0 and r.json["id"] == wid
    assert livy.requests  # the probe reached Livy

    # stored in the Workspace metadata: every server sees the same cluster
    assert (await api("GET", f"workspaces/{wid}", user="bob")).json["attachment"] == att
    folder = services.folders.local_path(wid)
    found = find_workspace_conf(folder / "sub")
    assert found is not None and found[0] == str(folder.resolve())
    conf_dir = Path(found[1])
    assert conf_dir.parent.parent == kernel_registry.parent / "sparkmagic"
    assert not str(conf_dir).startswith(str(folder))  # never inside the backed-up folder
    config = json.loads((conf_dir / "config.json").read_text())
    assert config["kernel_python_credentials"]["url"] == livy.url
    assert config["session_configs"]["driverMemory"] == "2g"
    assert config["livy_session_startup_timeout_seconds"] >= 120
    assert config["livy_server_heartbeat_timeout_seconds"] > 0

    r = await api("POST", f"workspaces/{wid}/detach")
    assert r.code == 200, r
    assert r.json["attachment"] is None and r.json["running_kernels"] == 0
    assert find_workspace_conf(folder) is None and not await asyncio.to_thread(conf_dir.exists)
    attach, detach = (
        events(services, f"{EMR}:AttachEditor"),
        events(services, f"{EMR}:DetachEditor"),
    )
    assert attach[0]["outcome"] == "success" and attach[0]["details"]["cluster_id"] == cluster
    assert attach[0]["details"]["livy_url"] == livy.url
    assert detach[0]["outcome"] == "success" and detach[0]["details"]["cluster_id"] == cluster


async def test_attach_refusals(
    api: Api, emr: Any, subnets: list[str], services: Any, livy: FakeLivy
) -> None:
    wid = await new_workspace(api, "refused")
    outside = run_cluster(emr, "outside", subnet_id())
    no_livy = run_cluster(emr, "no-livy", subnets[0], livy=False)
    gone = run_cluster(emr, "gone", subnets[0])
    emr.terminate_job_flows(JobFlowIds=[gone])
    down = run_cluster(emr, "down", subnets[0])
    services.studio.livy_urls = {
        outside: livy.url,
        gone: livy.url,
        down: f"http://127.0.0.1:{closed_port()}",
    }

    async def attach(body: dict[str, Any], user: str = "alice") -> Any:
        return await api("POST", f"workspaces/{wid}/attach", body, user=user)

    r = await attach({"type": "emr-ec2", "cluster_id": "j-NOSUCHCLUSTER1"})
    assert r.code == 404 and r.error["code"] == "ClusterNotFound"
    r = await attach({"type": "emr-ec2", "cluster_id": outside})
    assert r.code == 403 and r.error["code"] == "SubnetNotAllowed"
    assert "Studio's subnets" in r.error["message"]
    r = await attach({"type": "emr-ec2", "cluster_id": gone})
    assert r.code == 409 and r.error["code"] == "ClusterNotReady"
    assert "TERMINATED" in r.error["message"]
    r = await attach({"type": "emr-ec2", "cluster_id": no_livy})
    assert r.code == 409 and r.error["code"] == "LivyNotInstalled"
    r = await attach({"type": "emr-ec2", "cluster_id": down})
    assert r.code == 502 and r.error["code"] == "LivyUnreachable"
    assert "security group" in r.error["message"] and "TCP" in r.error["message"]
    assert "subnets" in r.error["message"]
    r = await attach({"type": "emr-ec2", "cluster_id": down, "session": {"driverMemory": 2}})
    assert r.code == 400
    r = await attach({"type": "mainframe", "cluster_id": "x"})
    assert r.code == 400
    # another user holds the lease: only its editor changes the cluster
    r = await attach({"type": "emr-ec2", "cluster_id": down}, user="bob")
    assert r.code == 409 and r.error["code"] == "WorkspaceInUse"
    assert (await api("GET", f"workspaces/{wid}")).json["attachment"] is None
    outcomes = [e["outcome"] for e in events(services, f"{EMR}:AttachEditor")]
    assert outcomes.count("denied") == 1 and outcomes.count("failure") == 5


@pytest.mark.parametrize(
    "compute_config",
    [
        {
            "policies": {
                "no-attach": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "*", "Resource": "*"},
                        {
                            "Effect": "Deny",
                            "Action": [
                                "elasticmapreduce:AttachEditor",
                                "elasticmapreduce:RunJobFlow",
                            ],
                            "Resource": "*",
                        },
                    ],
                }
            },
            "assignments": {"user:alice": "no-attach"},
        }
    ],
)
async def test_attach_needs_attach_editor(
    api: Api, emr: Any, subnets: list[str], services: Any, livy: FakeLivy
) -> None:
    cluster = run_cluster(emr, "c", subnets[0])
    services.studio.livy_urls = {cluster: livy.url}
    wid = await new_workspace(api, "denied")
    r = await api("POST", f"workspaces/{wid}/attach", {"type": "emr-ec2", "cluster_id": cluster})
    assert r.code == 403 and "AttachEditor" in r.error["message"]
    assert not livy.requests  # refused before reaching anything
    denied = events(services, f"{EMR}:AttachEditor")
    assert denied[0]["outcome"] == "denied"


async def test_reopen_follows_the_cluster_to_its_new_livy_url(
    api: Api, emr: Any, subnets: list[str], services: Any, livy: FakeLivy
) -> None:
    cluster = run_cluster(emr, "moving", subnets[0])
    services.studio.livy_urls = {cluster: livy.url}
    wid = await new_workspace(api, "follows")
    assert (
        await api("POST", f"workspaces/{wid}/attach", {"type": "emr-ec2", "cluster_id": cluster})
    ).code == 200
    lease = (await api("POST", f"workspaces/{wid}/open")).json["lease"]
    assert (await api("POST", f"workspaces/{wid}/close", {"token": lease["token"]})).code == 204

    moved = FakeLivy()  # the cluster restarted with a new primary node
    try:
        services.studio.livy_urls = {cluster: moved.url}
        r = await api("POST", f"workspaces/{wid}/open")
        assert r.code == 200, r
        assert r.json["attachment_livy_url"] == moved.url
        assert r.json["workspace"]["attachment"]["livy_url"] == moved.url
        conf_dir = Path(find_workspace_conf(services.folders.local_path(wid))[1])  # type: ignore[index]
        config = json.loads((conf_dir / "config.json").read_text())
        assert config["kernel_python_credentials"]["url"] == moved.url
    finally:
        moved.close()


async def test_reopen_reports_a_cluster_that_went_away(
    api: Api, emr: Any, subnets: list[str], services: Any, livy: FakeLivy
) -> None:
    cluster = run_cluster(emr, "short-lived", subnets[0])
    services.studio.livy_urls = {cluster: livy.url}
    wid = await new_workspace(api, "orphan")
    assert (
        await api("POST", f"workspaces/{wid}/attach", {"type": "emr-ec2", "cluster_id": cluster})
    ).code == 200
    lease = (await api("POST", f"workspaces/{wid}/open")).json["lease"]
    await api("POST", f"workspaces/{wid}/close", {"token": lease["token"]})
    emr.terminate_job_flows(JobFlowIds=[cluster])
    r = await api("POST", f"workspaces/{wid}/open")
    assert r.code == 200
    assert "TERMINATED" in r.json["attachment_error"]


async def test_kernel_start_in_a_workspace_folder_needs_the_lease(api: Api, services: Any) -> None:
    wid = await new_workspace(api, "locked")
    path = f"{services.folders.api_path(wid)}/nb.ipynb"
    body = {"path": path, "name": "nb.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    r = await api("POST", "api/sessions", body, user="bob", base="")
    assert r.code == 423, r
    assert "read-only for you" in r.raw.decode()
    r = await api("POST", "api/kernels", {"name": "python3", "path": path}, user="bob", base="")
    assert r.code == 423, r


# -- templates ----------------------------------------------------------------------------

TEMPLATES = [
    {
        "name": "small-spark",
        "description": "Spark and Livy, one primary and N core nodes",
        "run_job_flow": {
            "ReleaseLabel": "{{release}}",
            "Applications": [{"Name": "Spark"}, {"Name": "Livy"}],
            "Instances": {
                "InstanceCount": "{{nodes}}",
                "MasterInstanceType": "{{instance_type}}",
                "SlaveInstanceType": "{{instance_type}}",
                "KeepJobFlowAliveWhenNoSteps": True,
            },
            "JobFlowRole": "EMR_EC2_DefaultRole",
            "ServiceRole": "EMR_DefaultRole",
            "Tags": [{"Key": "team", "Value": "{{team}}"}],
        },
        "fields": [
            {
                "name": "nodes",
                "label": "Nodes",
                "type": "number",
                "default": 2,
                "min": 1,
                "max": 10,
                "required": True,
            },
            {
                "name": "instance_type",
                "type": "choice",
                "choices": ["m5.xlarge", "r5.2xlarge"],
                "default": "m5.xlarge",
            },
            {
                "name": "release",
                "type": "string",
                "default": "emr-7.1.0",
                "pattern": r"emr-\d+\.\d+\.\d+",
            },
            {"name": "team", "type": "string", "required": True},
        ],
    }
]


@pytest.mark.parametrize("compute_config", [{"cluster_templates": TEMPLATES}])
async def test_templates_listed_and_a_cluster_created_from_one(
    api: Api, emr: Any, subnets: list[str], services: Any
) -> None:
    r = await api("GET", "templates")
    assert r.code == 200
    (tpl,) = r.json["templates"]
    assert tpl["name"] == "small-spark" and tpl["description"].startswith("Spark")
    assert tpl["fields"][0] == {
        "name": "nodes",
        "label": "Nodes",
        "type": "number",
        "required": True,
        "default": 2,
        "min": 1,
        "max": 10,
    }
    assert tpl["fields"][1]["choices"] == ["m5.xlarge", "r5.2xlarge"]

    bad = [
        ({"nodes": 11, "team": "ds"}, "at most 10"),
        ({"nodes": "two", "team": "ds"}, "number"),
        ({"team": "ds", "instance_type": "x1"}, "one of"),
        ({}, "'team' is required"),
        ({"team": "ds", "extra": 1}, "no fields"),
        ({"team": "ds", "release": "7"}, "must match"),
    ]
    for params, message in bad:
        r = await api(
            "POST", "clusters", {"template": "small-spark", "name": "n", "parameters": params}
        )
        assert r.code == 400 and message in r.error["message"], (params, r)
    r = await api("POST", "clusters", {"template": "nope", "name": "n"})
    assert r.code == 404

    r = await api(
        "POST",
        "clusters",
        {
            "template": "small-spark",
            "name": "team cluster",
            "parameters": {"nodes": "3", "team": "ds"},
        },
    )
    assert r.code == 201, r
    created = r.json
    assert created["type"] == "emr-ec2" and created["name"] == "team cluster"
    assert created["subnet_id"] == subnets[0]  # placed in the Studio's subnet
    desc = emr.describe_cluster(ClusterId=created["id"])["Cluster"]
    tags = {t["Key"]: t["Value"] for t in desc["Tags"]}
    assert tags["team"] == "ds" and tags["emr-workspace:created-by"] == "alice"
    assert tags["emr-workspace:studio-id"] == "es-test"
    listed = (await api("GET", "clusters")).json["clusters"]
    assert created["id"] in {c["id"] for c in listed}  # appears as it starts
    (event,) = [e for e in events(services, f"{EMR}:RunJobFlow") if e["outcome"] == "success"]
    assert event["details"]["cluster_id"] == created["id"]


@pytest.mark.parametrize(
    "compute_config",
    [
        {
            "cluster_templates": TEMPLATES,
            "policies": {
                "no-run": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "*", "Resource": "*"},
                        {
                            "Effect": "Deny",
                            "Action": "elasticmapreduce:RunJobFlow",
                            "Resource": "*",
                        },
                    ],
                }
            },
            "assignments": {"user:alice": "no-run"},
        }
    ],
)
async def test_creating_a_cluster_needs_run_job_flow(api: Api, services: Any) -> None:
    r = await api(
        "POST", "clusters", {"template": "small-spark", "name": "n", "parameters": {"team": "ds"}}
    )
    assert r.code == 403 and "RunJobFlow" in r.error["message"]
    assert events(services, f"{EMR}:RunJobFlow")[0]["outcome"] == "denied"


def test_kernelspecs_ship_with_the_package() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    shared = project["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared["jupyter_emr_workspace/kernels/specs"] == "share/jupyter/kernels"
    specs = root / "jupyter_emr_workspace" / "kernels" / "specs"
    assert {p.name for p in specs.iterdir()} == {
        "emr-pysparkkernel",
        "emr-sparkkernel",
        "emr-sparkrkernel",
    }
    assert all(
        stat.S_ISREG(os.stat(specs / n / "kernel.json").st_mode)
        for n in ("emr-pysparkkernel", "emr-sparkkernel", "emr-sparkrkernel")
    )


CATALOG_TEMPLATES = [
    {
        "name": "governed",
        "description": "The platform team's EMR product in Service Catalog",
        "service_catalog": {
            "product_id": "prod-abcdefghijklm",
            "provisioning_artifact_id": "pa-abcdefghijklm",
        },
        "fields": [
            {"name": "ClusterSize", "type": "choice", "choices": ["S", "M"], "default": "S"}
        ],
    }
]


@pytest.mark.parametrize("compute_config", [{"cluster_templates": CATALOG_TEMPLATES}])
async def test_service_catalog_template_provisions_the_product(
    api: Api, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto lacks Service Catalog provisioning: a botocore Stubber replays AWS's answer."""
    import boto3
    from botocore.stub import ANY, Stubber

    sc = boto3.client(
        "servicecatalog", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(sc)
    stub.add_response(
        "provision_product",
        {
            "RecordDetail": {
                "RecordId": "rec-abcdefghijklm",
                "ProvisionedProductName": "nightly-etl",
                "Status": "CREATED",
                "ProvisionedProductType": "CFN_STACK",
                "RecordType": "PROVISION_PRODUCT",
                "ProvisionedProductId": "pp-abcdefghijklm",
                "ProductId": "prod-abcdefghijklm",
                "ProvisioningArtifactId": "pa-abcdefghijklm",
            }
        },
        {
            "ProductId": "prod-abcdefghijklm",
            "ProvisioningArtifactId": "pa-abcdefghijklm",
            "ProvisionedProductName": "nightly-etl",
            "ProvisioningParameters": [{"Key": "ClusterSize", "Value": "M"}],
            "Tags": ANY,
        },
    )
    compute = services.compute
    real_client = compute.client

    async def client(identity: Any, service: str) -> Any:
        return sc if service == "servicecatalog" else await real_client(identity, service)

    monkeypatch.setattr(compute, "client", client)
    assert (await api("GET", "templates")).json["templates"][0]["service_catalog"] is True
    with stub:
        r = await api(
            "POST",
            "clusters",
            {"template": "governed", "name": "nightly-etl", "parameters": {"ClusterSize": "M"}},
        )
        stub.assert_no_pending_responses()
    assert r.code == 201, r
    assert r.json["provisioning"] == {
        "record_id": "rec-abcdefghijklm",
        "status": "CREATED",
        "provisioned_product_id": "pp-abcdefghijklm",
    }
    assert r.json["state"] == "STARTING" and r.json["attachable"] is False
    actions = [(e["action"], e["outcome"]) for e in services.audit.recent(50)]
    assert ("servicecatalog:ProvisionProduct", "denied") not in actions
    assert (f"{EMR}:RunJobFlow", "success") in actions


@pytest.mark.parametrize(
    "compute_config",
    [
        {
            "cluster_templates": CATALOG_TEMPLATES,
            "policies": {
                "emr-only": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "elasticmapreduce:*", "Resource": "*"}
                    ],
                }
            },
            "assignments": {"user:alice": "emr-only"},
        }
    ],
)
async def test_service_catalog_template_needs_provision_product(api: Api, services: Any) -> None:
    r = await api("POST", "clusters", {"template": "governed", "name": "n"})
    assert r.code == 403 and "servicecatalog:ProvisionProduct" in r.error["message"]
    assert events(services, "servicecatalog:ProvisionProduct")[0]["outcome"] == "denied"


@pytest.mark.parametrize(
    "compute_config",
    [
        {
            "auth_mode": "IDENTITY_CENTER",
            "user_role_arn": "arn:aws:iam::123456789012:role/emr-studio-user",
            "policies": {
                "ds": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "elasticmapreduce:*",
                                "emr-containers:*",
                                "emr-serverless:*",
                            ],
                            "Resource": "*",
                        }
                    ],
                }
            },
            "assignments": {"group:data-science": "ds"},
        }
    ],
)
async def test_identity_center_lists_clusters_as_the_user_role_with_the_session_policy(
    api: Api, emr: Any, subnets: list[str], services: Any
) -> None:
    cluster = run_cluster(emr, "ic", subnets[0])
    r = await api("GET", "clusters", groups="data-science")
    assert r.code == 200 and r.json["errors"] == [], r
    assert cluster in {c["id"] for c in r.json["clusters"]}
    roles = {key[:2] for key in services.aws._clients}
    assert ("emr", "arn:aws:iam::123456789012:role/emr-studio-user") in roles
    assert ("emr-containers", "arn:aws:iam::123456789012:role/emr-studio-user") in roles
    r = await api("GET", "clusters", user="mallory")  # not assigned to the Studio
    assert r.code == 403 and r.error["code"] == "NotAssignedToStudio"


@pytest.mark.parametrize(
    "compute_config",
    [{"livy_auth": "Basic", "livy_username": "analyst", "livy_password_env": "EMRWS_UNSET_PW"}],
)
async def test_basic_auth_without_the_password_says_which_variable_is_missing(
    api: Api,
    emr: Any,
    subnets: list[str],
    services: Any,
    livy: FakeLivy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EMRWS_UNSET_PW", raising=False)
    cluster = run_cluster(emr, "ldap", subnets[0])
    services.studio.livy_urls = {cluster: livy.url}
    wid = await new_workspace(api, "ldap")
    body = {"type": "emr-ec2", "cluster_id": cluster}
    r = await api("POST", f"workspaces/{wid}/attach", body)
    assert r.code == 500 and r.error["code"] == "LivyCredentialsMissing"
    assert "EMRWS_UNSET_PW" in r.error["message"]
    assert (await api("GET", f"workspaces/{wid}")).json["attachment"] is None
    monkeypatch.setenv("EMRWS_UNSET_PW", "s3cret")
    r = await api("POST", f"workspaces/{wid}/attach", body)
    assert r.code == 200 and r.json["attachment"]["auth"] == "Basic_Access"
    assert "s3cret" not in json.dumps(r.json)  # never in the Workspace metadata


# -- delete while kernels run -------------------------------------------------------------


async def test_delete_is_refused_while_a_kernel_runs_in_the_workspace_naming_it(
    api: Api, services: Any
) -> None:
    """Any client (not only the panel) gets a 409 naming the kernel's notebook; nothing is
    deleted; once the kernel is shut down the delete goes through."""
    wid = await new_workspace(api, "busy")
    folder = services.folders.local_path(wid)
    path = f"{services.folders.api_path(wid)}/sub/analysis.ipynb"
    (folder / "sub").mkdir()
    body = {
        "path": path,
        "name": "analysis.ipynb",
        "type": "notebook",
        "kernel": {"name": "python3"},
    }
    r = await api("POST", "api/sessions", body, base="")
    assert r.code == 201, r
    session = r.json["id"]
    try:
        r = await api("DELETE", f"workspaces/{wid}", params={"delete_notebooks": "true"})
        assert r.code == 409, r
        error = r.json["error"]
        assert error["code"] == "WorkspaceInUse"
        assert error["kernels"] == [path] and path in error["message"]
        assert folder.is_dir()  # nothing deleted
        assert (await api("GET", f"workspaces/{wid}")).code == 200
    finally:
        r = await api("DELETE", f"api/sessions/{session}", base="")
        assert r.code == 204, r
    r = await api("DELETE", f"workspaces/{wid}", params={"delete_notebooks": "true"})
    assert r.code == 200, r
    assert not folder.exists()
