"""The Studio, as every single-user server of the hub sees it (``c.Studio.*``).

Passed to ``jupyterhub-singleuser --config=...`` by jupyterhub_config.py. All servers
must point at the same ``backup_uri``: that is what makes Workspaces, their locks and
their backups shared. A local folder works when every server runs on this machine.
"""

import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821

c.Studio.id = os.environ.get("EMR_STUDIO_ID", "es-hub")
c.Studio.name = os.environ.get("EMR_STUDIO_NAME", "Team Studio")
c.Studio.backup_uri = os.environ.get("EMR_STUDIO_BACKUP_URI", "/tmp/emr-studio-store")
if os.environ.get("EMR_STUDIO_ENDPOINT_URL"):  # e.g. a local S3 (moto, MinIO)
    c.Studio.endpoint_url = os.environ["EMR_STUDIO_ENDPOINT_URL"]
c.Studio.subnet_ids = [s for s in os.environ.get("EMR_STUDIO_SUBNETS", "").split(",") if s]

# Who may do what: IAM-syntax policies attached to hub users and groups.
c.Studio.policies = {
    "full": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    },
    "own-workspaces": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "elasticmapreduce:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["elasticmapreduce:DeleteEditor", "elasticmapreduce:UpdateEditor"],
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:ResourceTag/creatorUserId": "${aws:username}"}
                },
            },
        ],
    },
}
c.Studio.assignments = {"group:analysts": "full", "user:alice": "full"}
for user in filter(None, os.environ.get("EMR_STUDIO_MEMBERS", "carol").split(",")):
    c.Studio.assignments[f"user:{user}"] = "own-workspaces"

# A grant or revoke of a share is seen by this server after this many seconds
# (JupyterHub's default is 300).
c.HubOAuth.cache_max_age = 30
