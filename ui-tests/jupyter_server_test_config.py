"""Server configuration for the Galata UI tests.

`jlpm start` (and Playwright's webServer) runs `jupyter lab --config` with this file.

- Galata's test settings (port 8888, no token, a temporary root folder).
- Root is allowed: the tests run as root here and in CI.
- Users come from the `test_user` cookie / `X-Test-User` header (identity.py), so
  a second browser context can be a second user.
- The Studio keeps its Workspaces, locks and backups in S3, served by moto in this
  process (set EMR_WS_UI_STORE=local to use a local folder instead).
"""

import os
import socket
import sys
from pathlib import Path
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.port = int(os.environ.get("EMR_WS_UI_PORT", "8888"))  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.identity_provider_class = "identity.HeaderIdentityProvider"  # noqa: F821

c.Studio.name = "UI tests"  # noqa: F821
# Short leases: heartbeats every 10 s, so a lost lease shows within the tests.
c.Studio.lease_seconds = 30  # noqa: F821
c.Studio.autosave_interval = 5  # noqa: F821


# A cluster template, so the UI tests can create a cluster (RunJobFlow on moto).
TEMPLATES = [
    {
        "name": "small-spark",
        "description": "Spark + Livy, one primary and N core nodes",
        "run_job_flow": {
            "ReleaseLabel": "emr-7.2.0",
            "Applications": [{"Name": "Spark"}, {"Name": "Livy"}],
            "Instances": {
                "InstanceCount": "{{nodes}}",
                "MasterInstanceType": "{{type}}",
                "SlaveInstanceType": "{{type}}",
                "KeepJobFlowAliveWhenNoSteps": True,
            },
            "JobFlowRole": "EMR_EC2_DefaultRole",
            "ServiceRole": "EMR_DefaultRole",
        },
        "fields": [
            {
                "name": "nodes",
                "label": "Nodes",
                "type": "number",
                "default": 2,
                "min": 1,
                "max": 10,
            },
            {
                "name": "type",
                "label": "Instance type",
                "type": "choice",
                "choices": ["m5.xlarge", "r5.2xlarge"],
                "default": "m5.xlarge",
            },
        ],
    }
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto_store() -> None:
    """Start moto (S3, EC2, EMR) in this process and point the Studio at it."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"

    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket="emr-workspace-ui-tests"
    )
    # A subnet of the Studio (moto's EC2), where clusters from templates go.
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]

    c.Studio.endpoint_url = endpoint  # noqa: F821
    c.Studio.region = "us-east-1"  # noqa: F821
    c.Studio.backup_uri = "s3://emr-workspace-ui-tests/studio"  # noqa: F821
    c.Studio.subnet_ids = [subnet]  # noqa: F821
    c.Studio.cluster_templates = TEMPLATES  # noqa: F821


if os.environ.get("EMR_WS_UI_STORE", "moto") == "local":
    c.Studio.backup_uri = mkdtemp(prefix="emr-ws-ui-store-")  # noqa: F821
else:
    _moto_store()


def _without_collaboration() -> None:
    """Run as a JupyterLab without jupyter-collaboration: its server extension off and
    its frontend plugins disabled (page_config.json in a config dir put first)."""
    import json

    c.ServerApp.jpserver_extensions = {"jupyter_server_ydoc": False}  # noqa: F821
    config_dir = Path(mkdtemp(prefix="emr-ws-ui-config-"))
    (config_dir / "labconfig").mkdir()
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps(
            {
                "disabledExtensions": {
                    "@jupyter/collaboration-extension": True,
                    "@jupyter/docprovider-extension": True,
                }
            }
        )
    )
    paths = [str(config_dir), os.environ.get("JUPYTER_CONFIG_PATH", "")]
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in paths if p)


# EMR_WS_UI_COLLABORATION=off: the same tests without jupyter-collaboration.
if os.environ.get("EMR_WS_UI_COLLABORATION", "on") == "off":
    _without_collaboration()

c.Studio.audit_log_path = str(Path(mkdtemp(prefix="emr-ws-ui-audit-")) / "audit.jsonl")  # noqa: F821

# Uncomment to set server log level to debug level
# c.ServerApp.log_level = "DEBUG"

# Executions (issue 13): the in-process runner runs only its owner's executions; the
# tests' user is alice (identity.py), as an admin names a single-user server's owner.
c.Studio.server_owner = "alice"  # noqa: F821


# --- EMR Serverless and execution roles (issue 12; tests/serverless.spec.ts) -------------
# What an admin's account holds beside the Studio, created with boto3 against moto before
# the server starts: two EMR Serverless Spark applications (one interactive and stopped, one
# whose Livy endpoint is off), an EMR on EC2 cluster and an EMR on EKS virtual cluster, in
# the Studio's subnet. The Studio is configured with c.Studio.* only.
SERVERLESS_ROLES = {
    "*": [
        "arn:aws:iam::123456789012:role/analytics-exec",
        "arn:aws:iam::123456789012:role/reporting-exec",
    ],
    "user:carol": ["arn:aws:iam::123456789012:role/finance-exec"],
}
_serverless_stand_ins: list[object] = []  # the Livy stand-ins live as long as the server


def _serverless() -> None:
    sys.path.insert(0, str(HERE.parent / "tests"))
    from emrws_testing.compute import FakeLivy, run_cluster
    from emrws_testing.moto_servers import client
    from emrws_testing.sigv4_proxy import Issued, SigV4Proxy, moto_sts_lookup
    from moto.emrserverless.models import emrserverless_backends

    endpoint = c.Studio.endpoint_url  # noqa: F821
    subnet = c.Studio.subnet_ids[0]  # noqa: F821
    serverless = client(endpoint, "emr-serverless")

    def application(name: str, **kwargs: object) -> str:
        return str(
            serverless.create_application(
                name=name,
                releaseLabel="emr-7.1.0",
                type="SPARK",
                autoStartConfiguration={"enabled": True},
                autoStopConfiguration={"enabled": True, "idleTimeoutMinutes": 15},
                networkConfiguration={"subnetIds": [subnet], "securityGroupIds": ["sg-0ui"]},
                **kwargs,
            )["applicationId"]
        )

    analytics = application("analytics")
    application("nightly-batch")  # no interactive Livy endpoint: listed with the reason
    serverless.stop_application(applicationId=analytics)

    # Test-only hooks on moto's emr-serverless, which (a) does not model
    # interactiveConfiguration: "analytics" gets its Livy endpoint on moto's own object, as
    # tests/test_compute_serverless.py does; (b) starts an application at once, where AWS
    # takes a minute or two: "analytics" answers STARTING to StartApplication's own
    # GetApplication and the next two, then STARTED, so the test sees the panel follow the
    # state (driven by the panel's listings, not by a clock).
    backend = next(
        backends["us-east-1"]
        for backends in emrserverless_backends.values()
        if analytics in backends["us-east-1"].applications
    )
    app = backend.applications[analytics]
    app.interactive_configuration = {"livyEndpointEnabled": True, "studioEnabled": True}
    starting_reads = {"left": 0}
    start, get = backend.start_application, backend.get_application

    def start_application(application_id: str) -> None:
        if application_id != analytics:
            return start(application_id)
        app.state, starting_reads["left"] = "STARTING", 3
        return None

    def get_application(application_id: str) -> object:
        found = get(application_id)
        if application_id == analytics and app.state == "STARTING":
            starting_reads["left"] -= 1
            if starting_reads["left"] < 0:
                app.state = "STARTED"
        return found

    backend.start_application = start_application
    backend.get_application = get_application

    # Its Livy endpoint, mapped as an admin maps one behind a proxy: a stand-in that checks
    # every request's SigV4 signature as AWS's endpoint does (moto's STS credentials, or the
    # server's own) and refuses unsigned ones, in front of a stand-in Livy that answers the
    # attach-time probe (Spark through this path: tests/test_compute_serverless_e2e.py).
    own = Issued(os.environ["AWS_SECRET_ACCESS_KEY"], None, None)

    def lookup(key: str) -> Issued | None:
        return moto_sts_lookup(key) or (own if key == os.environ["AWS_ACCESS_KEY_ID"] else None)

    livy = FakeLivy()
    proxy = SigV4Proxy(livy.url, ("", ""), lookup)
    _serverless_stand_ins.extend([livy, proxy])
    c.Studio.livy_urls.update({analytics: proxy.url})  # noqa: F821
    c.Studio.execution_roles.update(SERVERLESS_ROLES)  # noqa: F821

    # The other sources beside it: a cluster on EC2, a virtual cluster on EKS (no Livy URL).
    run_cluster(client(endpoint, "emr"), "etl-shared", subnet)
    client(endpoint, "emr-containers").create_virtual_cluster(
        name="spark-team",
        containerProvider={
            "type": "EKS",
            "id": "eks-1",
            "info": {"eksInfo": {"namespace": "spark"}},
        },
    )


if os.environ.get("EMR_WS_UI_STORE", "moto") != "local":
    _serverless()
# --- end of EMR Serverless ----------------------------------------------------------------
