"""JupyterHub with EMR Studio Workspaces (jupyter-emr-workspace), on one machine.

Every user's single-user server runs the extension against ONE shared Studio store, so
Workspaces, locks and backups are shared; hub users and groups are the Studio's users
and groups; collaboration shares a server through the hub's sharing API.

Run it (see docs/jupyterhub.md for the whole walk-through):

    EMR_STUDIO_BACKUP_URI=s3://my-bucket/studio jupyterhub -f jupyterhub_config.py

Settings come from the environment so the same file serves a demo and the test suite:

- ``EMR_STUDIO_CONFIG``: the single-user servers' config file (default: studio_config.py
  beside this file), which holds ``c.Studio.*``.
- ``EMR_HUB_SPAWNER``: ``simple`` (default: every server runs as the hub's own OS user,
  homes under ``EMR_HUB_HOMES``) or ``local`` (servers run as the users' OS accounts).
- ``AWS_*`` and ``EMR_STUDIO_*`` variables are passed on to the single-user servers.

On Kubernetes use the Zero to JupyterHub values in z2jh-values.yaml instead.
"""

import os
import shutil
import sys
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821

HERE = Path(__file__).resolve().parent
STUDIO_CONFIG = os.environ.get("EMR_STUDIO_CONFIG", str(HERE / "studio_config.py"))

# -- who: replace the DummyAuthenticator (any password works) by your identity provider's,
# e.g. GenericOAuthenticator with `manage_groups = True` so IdP groups become hub groups
# (and so Studio groups: assignments and policies name them as "group:NAME").
c.JupyterHub.authenticator_class = os.environ.get("EMR_HUB_AUTHENTICATOR", "dummy")
c.Authenticator.allow_all = True
c.Authenticator.admin_users = set(filter(None, os.environ.get("EMR_HUB_ADMINS", "").split(",")))
# Demo groups; with an IdP that manages groups, drop this.
c.JupyterHub.load_groups = {"analysts": {"users": ["bob"]}}

# -- the single-user servers: the extension, its Studio config, AWS settings
if os.environ.get("EMR_HUB_SPAWNER", "simple") == "simple":
    c.JupyterHub.spawner_class = (
        "jupyter_emr_workspace.hub.spawners.TermFirstSimpleLocalProcessSpawner"
    )
    c.SimpleLocalProcessSpawner.home_dir_template = os.environ.get(
        "EMR_HUB_HOMES", "/tmp/emr-hub-homes/{username}"
    )
else:
    # SIGTERM first: servers flush backups and release Workspace locks when stopped
    c.JupyterHub.spawner_class = "jupyter_emr_workspace.hub.spawners.TermFirstLocalProcessSpawner"
singleuser = shutil.which("jupyterhub-singleuser") or str(
    Path(sys.executable).with_name("jupyterhub-singleuser")
)
c.Spawner.cmd = [singleuser]
c.Spawner.args = [f"--config={STUDIO_CONFIG}"]
if os.geteuid() == 0:
    c.Spawner.args.append("--allow-root")  # without it the server never comes up as root
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    k: v for k, v in os.environ.items() if k.startswith(("AWS_", "EMR_STUDIO_"))
}
c.Spawner.http_timeout = 60

# -- sharing, for collaboration mode: a user (and the token their server holds) may share
# their own servers with users they can name, and read groups to expand them to users
# (a share with a group grants nothing in JupyterHub 6.1.1, so the extension shares with
# each member).
c.JupyterHub.load_roles = [
    {
        "name": "user",
        "description": "Standard user privileges, plus sharing their own servers",
        "scopes": ["self", "shares!user", "read:users:name", "read:groups"],
    },
    {
        "name": "server",
        "description": "The single-user server's token: activity, access and sharing",
        "scopes": [
            "users:activity!user",
            "access:servers!server",
            "shares!user",
            "read:users:name",
            "read:groups",
        ],
    },
]

# -- notebook executions and schedules that do not depend on anyone's server (see
# docs/executions.md): a hub-managed runner on the same Studio config runs everyone's
# queued executions and fires schedules while their owners' servers are stopped or culled.
# Only Spark code runs (on the clusters); cells that would run on the runner's machine are
# refused. Run it as an OS account (or pod) that holds nothing but the Studio's store access.
if os.environ.get("EMR_HUB_RUNNER", "1") == "1":
    c.JupyterHub.services = [
        {
            "name": "emr-workspace-runner",
            "command": [
                sys.executable,
                "-m",
                "jupyter_emr_workspace.cli",
                "runner",
                f"--config={STUDIO_CONFIG}",
                "--runner-id=hub-runner",
            ],
            "environment": {
                k: v for k, v in os.environ.items() if k.startswith(("AWS_", "EMR_STUDIO_"))
            },
        }
    ]
