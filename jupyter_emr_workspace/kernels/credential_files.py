"""Names the server and the kernels' authenticators agree on (no sparkmagic import here:
the server loads this without the ``spark`` extra).

The server writes a Workspace's expiring credentials into ``<sparkmagic conf dir>/<file>``
(0600) and renews them; `aws_auth.py`, inside the kernel, reads them.
"""

from __future__ import annotations

#: SigV4 credentials for an EMR Serverless Livy endpoint
SIGV4_FILE = "aws-credentials.json"
#: the Livy user and password of an EMR on EC2 runtime role (GetClusterSessionCredentials)
BASIC_FILE = "livy-credentials.json"
#: the Livy session setting EMR Serverless runs a session's Spark as
EXECUTION_ROLE_CONF = "emr-serverless.session.executionRoleArn"
SIGV4_AUTH = "EMRWorkspace_SigV4"
RUNTIME_ROLE_AUTH = "EMRWorkspace_RuntimeRole"
#: sparkmagic auth name → authenticator class (its config's ``authenticators``)
AUTHENTICATORS = {
    SIGV4_AUTH: "jupyter_emr_workspace.kernels.aws_auth.SigV4",
    RUNTIME_ROLE_AUTH: "jupyter_emr_workspace.kernels.aws_auth.RuntimeRoleBasic",
}
#: sparkmagic's own, which its ``authenticators`` setting replaces as a whole
SPARKMAGIC_AUTHENTICATORS = {
    "Kerberos": "sparkmagic.auth.kerberos.Kerberos",
    "None": "sparkmagic.auth.customauth.Authenticator",
    "Basic_Access": "sparkmagic.auth.basic.Basic",
}
