"""The ``# -- compute`` settings of ``c.Studio``: those every source shares, declared here,
and each source's own, declared in its module (``SourceSpec.settings``).

``studio.Studio`` inherits `ComputeSettings`, so every setting stays ``c.Studio.<name>``
and ``Studio(<name>=...)`` wherever it is declared.
"""

from __future__ import annotations

from traitlets import Bool, Dict, Enum, Float, HasTraits, Int, List, Unicode

from .sources import SOURCES


class SharedComputeSettings(HasTraits):
    compute_sources = List(
        Unicode(),
        None,
        allow_none=True,
        config=True,
        help="Cluster sources to list (compute/sources/__init__.py: 'emr-ec2', 'emr-eks', "
        "'local', ...). Default: all of them when subnet_ids are set, else only those "
        "needing no AWS account ('local').",
    )
    cluster_templates = List(
        Dict(),
        config=True,
        help="Cluster templates: [{name, description, run_job_flow: {RunJobFlow params, "
        "'{{field}}' placeholders}, fields: [{name, label, type: string|number|choice, "
        "choices, default, required, min, max, pattern}], service_catalog?: {product_id, "
        "provisioning_artifact_id, path_id?}}]. See docs/compute.md.",
    )
    livy_urls = Dict(
        Unicode(),
        config=True,
        help="Cluster id (EMR or EMR on EKS) → Livy URL, overriding resolution "
        "(SSH tunnels, proxies, tests).",
    )
    livy_auth = Enum(
        ["None", "Basic", "Kerberos"],
        "None",
        config=True,
        help="How kernels authenticate to Livy on EMR: None, Basic (Livy behind LDAP/Knox) or "
        "Kerberos (needs requests-kerberos and a ticket, e.g. from kinit).",
    )
    livy_username = Unicode("", config=True, help="User name for livy_auth='Basic'.")
    livy_password_env = Unicode(
        "EMR_WORKSPACE_LIVY_PASSWORD",
        config=True,
        help="Environment variable holding the password for livy_auth='Basic' (kept out of "
        "config files and Workspace metadata).",
    )
    livy_probe_timeout = Float(
        3.0, config=True, help="Seconds the attach-time Livy reachability check waits."
    )
    execution_roles = Dict(
        config=True,
        help="Principal ('user:NAME', 'group:NAME' or '*') → IAM role ARNs its users may run "
        "Spark as: EMR Serverless execution roles and EMR on EC2 runtime roles. Each use is "
        "checked with the user's policies (iam:PassRole on the role; for EC2 also "
        "elasticmapreduce:GetClusterSessionCredentials). See docs/compute.md.",
    )

    # Spark sessions of notebook kernels; a Workspace overrides each in its attach body's
    # `kernels` (kernels/sparkmagic_config.py: KERNEL_SETTINGS)
    spark_session_start_early = Bool(
        True,
        config=True,
        help="Start a notebook's Spark session when its kernel starts, not at its first cell.",
    )
    spark_session_start_timeout = Int(
        180,
        config=True,
        help="Seconds a Spark session may take to start before the kernel gives up and says "
        "what was slow (cluster busy, packages downloading, no capacity).",
    )
    spark_session_grace_period = Int(
        300,
        config=True,
        help="Seconds Livy keeps a session whose kernel stopped sending heartbeats (a killed "
        "kernel, a stopped server), so the notebook's next kernel reattaches to it; then Livy "
        "deletes it (its heartbeatTimeoutInSecond).",
    )
    spark_max_rows = Int(
        2500,
        config=True,
        help="Rows `-o` and %%sql bring back from Spark by default (sparkmagic's -n); a cell "
        "whose result is cut says so. -1: all rows.",
    )


#: every compute setting: the shared ones and each registered source's
ComputeSettings: type[HasTraits] = type(
    "ComputeSettings",
    (*dict.fromkeys(spec.settings for spec in SOURCES), SharedComputeSettings),
    {"__doc__": "c.Studio's compute settings, composed from the source registry."},
)
