"""Every IAM action name the server authorizes, spelled once.

Call sites name an action by its constant (``actions.DESCRIBE_EDITOR``), never by a
string: a misspelt name is then an ``AttributeError``/``ImportError`` at import and a
mypy error, not a policy that silently never matches. ``tests/test_core_actions.py``
checks that no other module spells an action (or a service prefix) and that every
constant here is used.

The names are EMR Studio's own (``elasticmapreduce:*``, ``emr-containers:*``,
``emr-serverless:*``, ``servicecatalog:*``, ``iam:PassRole``), so policies written for EMR
Studio work unchanged; the few actions EMR Studio has no name for are in the
``emr-workspace`` namespace.
"""

from __future__ import annotations

from typing import Final

#: Service prefixes, as they appear in ARNs too.
EMR: Final = "elasticmapreduce"
EMR_CONTAINERS: Final = "emr-containers"

# -- the Studio -----------------------------------------------------------------------
#: Any request to the extension's API (recorded when a non-member is refused).
USE_STUDIO: Final = "emr-workspace:UseStudio"
READ_AUDIT_LOG: Final = "emr-workspace:ReadAuditLog"
GET_STUDIO_SESSION_MAPPING: Final = "elasticmapreduce:GetStudioSessionMapping"
UPDATE_STUDIO_SESSION_MAPPING: Final = "elasticmapreduce:UpdateStudioSessionMapping"

# -- Workspaces (EMR calls them editors) ----------------------------------------------
LIST_EDITORS: Final = "elasticmapreduce:ListEditors"
CREATE_EDITOR: Final = "elasticmapreduce:CreateEditor"
DESCRIBE_EDITOR: Final = "elasticmapreduce:DescribeEditor"
UPDATE_EDITOR: Final = "elasticmapreduce:UpdateEditor"
DELETE_EDITOR: Final = "elasticmapreduce:DeleteEditor"
START_EDITOR: Final = "elasticmapreduce:StartEditor"
OPEN_EDITOR_CONSOLE: Final = "elasticmapreduce:OpenEditorConsole"
STOP_EDITOR: Final = "elasticmapreduce:StopEditor"
FORCE_RELEASE_LOCK: Final = "emr-workspace:ForceReleaseLock"

# -- collaboration --------------------------------------------------------------------
PUT_WORKSPACE_ACCESS: Final = "elasticmapreduce:PutWorkspaceAccess"
DELETE_WORKSPACE_ACCESS: Final = "elasticmapreduce:DeleteWorkspaceAccess"
LIST_WORKSPACE_ACCESS_IDENTITIES: Final = "elasticmapreduce:ListWorkspaceAccessIdentities"

# -- compute --------------------------------------------------------------------------
ATTACH_EDITOR: Final = "elasticmapreduce:AttachEditor"
DETACH_EDITOR: Final = "elasticmapreduce:DetachEditor"
LIST_CLUSTERS: Final = "elasticmapreduce:ListClusters"
RUN_JOB_FLOW: Final = "elasticmapreduce:RunJobFlow"
LIST_VIRTUAL_CLUSTERS: Final = "emr-containers:ListVirtualClusters"
PROVISION_PRODUCT: Final = "servicecatalog:ProvisionProduct"
LIST_APPLICATIONS: Final = "emr-serverless:ListApplications"
GET_APPLICATION: Final = "emr-serverless:GetApplication"
START_APPLICATION: Final = "emr-serverless:StartApplication"
#: what the kernels do on a Serverless application: call its Livy endpoint
ACCESS_LIVY_ENDPOINTS: Final = "emr-serverless:AccessLivyEndpoints"

# -- execution roles (EMR Serverless; runtime roles on EMR on EC2) ---------------------
#: choosing a role a Workspace's Spark runs as (resource: the role's ARN)
PASS_ROLE: Final = "iam:PassRole"
#: the Livy user of a runtime role on an EMR on EC2 cluster
GET_CLUSTER_SESSION_CREDENTIALS: Final = "elasticmapreduce:GetClusterSessionCredentials"

# -- notebook executions (executions/) -------------------------------------------------
START_NOTEBOOK_EXECUTION: Final = "elasticmapreduce:StartNotebookExecution"
DESCRIBE_NOTEBOOK_EXECUTION: Final = "elasticmapreduce:DescribeNotebookExecution"
LIST_NOTEBOOK_EXECUTIONS: Final = "elasticmapreduce:ListNotebookExecutions"
STOP_NOTEBOOK_EXECUTION: Final = "elasticmapreduce:StopNotebookExecution"
#: Schedules (EMR Studio has none): create, change, delete, see a Workspace's schedules.
MANAGE_SCHEDULES: Final = "emr-workspace:ManageSchedules"

#: Actions shown to the UI in ``/studio``'s ``permissions``.
STUDIO_ACTIONS: Final = (
    LIST_EDITORS,
    CREATE_EDITOR,
    LIST_CLUSTERS,
    RUN_JOB_FLOW,
    LIST_VIRTUAL_CLUSTERS,
    PROVISION_PRODUCT,
    FORCE_RELEASE_LOCK,
    READ_AUDIT_LOG,
    UPDATE_STUDIO_SESSION_MAPPING,
    LIST_NOTEBOOK_EXECUTIONS,
)
#: Actions evaluated per Workspace, so ABAC on its tags shows in the UI.
WORKSPACE_ACTIONS: Final = (
    DESCRIBE_EDITOR,
    UPDATE_EDITOR,
    DELETE_EDITOR,
    OPEN_EDITOR_CONSOLE,
    STOP_EDITOR,
    ATTACH_EDITOR,
    DETACH_EDITOR,
    PUT_WORKSPACE_ACCESS,
    FORCE_RELEASE_LOCK,
    START_NOTEBOOK_EXECUTION,
    MANAGE_SCHEDULES,
)

# -- Spark application UIs (compute/app_ui.py) -------------------------------------------
GET_ON_CLUSTER_APP_UI_PRESIGNED_URL: Final = "elasticmapreduce:GetOnClusterAppUIPresignedURL"
CREATE_PERSISTENT_APP_UI: Final = "elasticmapreduce:CreatePersistentAppUI"
GET_PERSISTENT_APP_UI_PRESIGNED_URL: Final = "elasticmapreduce:GetPersistentAppUIPresignedURL"
#: EMR Serverless: the UI of a job run (each Livy session of an application runs as one);
#: the resource is the job run's ARN (``…/applications/<id>/jobruns/<job run id>``)
GET_DASHBOARD_FOR_JOB_RUN: Final = "emr-serverless:GetDashboardForJobRun"

# -- condition keys (policy context) --------------------------------------------------
#: The caller's groups and the Studio's id, for ``Condition`` blocks.
GROUPS_KEY: Final = "emr-workspace:Groups"
STUDIO_ID_KEY: Final = "emr-workspace:StudioId"
#: EMR's spelling of ``aws:ResourceTag/<key>``; both are set.
EMR_RESOURCE_TAG_PREFIX: Final = "elasticmapreduce:ResourceTag/"
#: the role a runtime-role or execution-role request names
EXECUTION_ROLE_KEY: Final = "elasticmapreduce:ExecutionRoleArn"
#: the service a role is passed to (``iam:PassRole``'s own key)
PASSED_TO_SERVICE_KEY: Final = "iam:PassedToService"
