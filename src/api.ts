import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './handler';

/**
 * A cluster source of the Studio ('emr-ec2', 'emr-eks', 'local', ...): the
 * server's registry names them, `GET /clusters` lists the Studio's.
 */
export type ClusterType = string;

/**
 * A cluster source as the panel shows it (`GET /clusters`' `sources`).
 */
export interface IClusterSource {
  type: ClusterType;
  /** What the panel calls it ("EMR on EC2"). */
  label: string;
  /** Its own words for states (raw state → word), where EMR's do not fit. */
  states: Record<string, string>;
  /** A sentence about attaching to its clusters. */
  attach_note: string;
}

/**
 * GET /studio.
 */
export interface IStudio {
  id: string;
  name: string;
  description?: string;
  auth_mode: 'IAM' | 'IDENTITY_CENTER' | string;
  /**
   * Version of the server extension (the Python package).
   */
  version: string;
  user: { name: string; groups: string[] };
  /**
   * Action (e.g. `elasticmapreduce:CreateEditor`) → whether the user may.
   */
  permissions: Record<string, boolean>;
  backup_uri: string;
  /**
   * The folder (under the server's root) that holds one folder per Workspace.
   */
  workspaces_dir?: string;
  lease_seconds: number;
  heartbeat_seconds: number;
  autosave_interval: number;
  /**
   * Whether this server backs Workspaces up (absent on servers older than the
   * field: read it through `backupsOf`).
   */
  backups?: IBackupsState;
}

/**
 * `/studio`'s `backups`: whether the server's contents manager backs the
 * Workspaces up, and why not when it does not.
 */
export interface IBackupsState {
  enabled: boolean;
  /**
   * Why backups are off (e.g. the admin chose another contents manager).
   */
  reason: string | null;
  /**
   * The server's contents manager, `module.Class`.
   */
  contents_manager?: string;
}

/**
 * The backup state a Studio answer tells, or null when the server is older
 * than the field (it does not say, so nothing is shown).
 */
export function backupsOf(
  studio: IStudio | null | undefined
): IBackupsState | null {
  const backups = studio?.backups;
  if (!backups || typeof backups.enabled !== 'boolean') {
    return null;
  }
  return backups;
}

export interface ILockHolder {
  user: string;
  since: string;
  expires_at?: string;
}

export interface IAttachment {
  type: ClusterType;
  cluster_id: string;
  endpoint_id?: string | null;
  livy_url?: string | null;
  /** The cluster's display name when it was attached ("Local Spark (this server)"). */
  name?: string | null;
  attached_by?: string;
  attached_at?: string;
  /** The IAM role its Spark runs as (EMR Serverless; EMR on EC2 runtime roles). */
  execution_role_arn?: string | null;
}

export interface IWorkspace {
  id: string;
  name: string;
  description: string;
  created_by: string;
  created_at: string;
  tags: Record<string, string>;
  collaboration: { enabled: boolean; collaborators: string[] };
  attachment: IAttachment | null;
  lock: { holders: ILockHolder[]; generation: number } | null;
  /**
   * The Workspace's folder, relative to the server's root.
   */
  path: string;
  /**
   * What the caller may do on this Workspace (ABAC on its tags), by action.
   */
  permissions?: Record<string, boolean>;
  /**
   * Present on an attach answer: kernels running in the Workspace that still
   * talk to the previous cluster.
   */
  running_kernels?: number;
}

export interface ILease {
  token: string;
  generation: number;
  expires_at: string;
}

export interface IOpenResult {
  workspace: IWorkspace;
  lease: ILease;
  path: string;
  /**
   * How many files were restored from the backups.
   */
  restored?: number;
  /**
   * Files changed both here and in the backup: both copies were kept.
   */
  conflicts?: unknown[];
  /**
   * Why restoring from the backups failed (the Workspace opened anyway).
   */
  restore_error?: string;
}

export interface IHeartbeatResult {
  lease?: Partial<ILease>;
  expires_at?: string;
  [key: string]: unknown;
}

export interface IBackupStatus {
  last_backup_at: string | null;
  pending: string[];
  failed: { path: string; error: string }[];
  conflicts: unknown[];
  last_error: string | null;
}

export interface ICluster {
  type: ClusterType;
  id: string;
  name: string;
  state: string;
  subnet_id?: string | null;
  livy_url?: string | null;
  release_label?: string | null;
  attachable: boolean;
  reason?: string | null;
  /**
   * EMR on EKS: the managed endpoint to attach through.
   */
  endpoint_id?: string | null;
  /** EMR Serverless: whether it starts on demand, and after how long idle it stops. */
  auto_start?: boolean | null;
  auto_stop_minutes?: number | null;
}

/**
 * A role a Workspace's Spark may run as (GET /execution-roles).
 */
export interface IExecutionRole {
  arn: string;
  name: string;
}

export interface IClusterList {
  clusters: ICluster[];
  errors: { source: string; message: string }[];
  /** The Studio's sources, in order (absent from a listing made by hand). */
  sources?: IClusterSource[];
}

export interface ITemplateField {
  name: string;
  label?: string;
  type: 'string' | 'number' | 'choice';
  choices?: string[];
  default?: string | number;
  required?: boolean;
  description?: string;
  /**
   * Bounds of a number field.
   */
  min?: number;
  max?: number;
  /**
   * A regular expression a string field must match as a whole.
   */
  pattern?: string;
}

export interface ITemplate {
  name: string;
  description?: string;
  fields: ITemplateField[];
}

/**
 * The JupyterHub server hosting this JupyterLab (null when not under a Hub).
 */
export interface IHubServer {
  owner: string;
  name: string;
  url: string;
}

/**
 * A collaborator (`user:`/`group:` principal) that could not be shared with.
 */
export interface IShareProblem {
  principal: string;
  reason: string;
}

/**
 * POST workspaces/{id}/share.
 */
export interface IShareResult {
  server: IHubServer | null;
  /**
   * Hub users the server was shared with by this call.
   */
  shared_with: string[];
  skipped: IShareProblem[];
}

/**
 * DELETE workspaces/{id}/share.
 */
export interface IUnshareResult {
  server: IHubServer | null;
  /**
   * Hub users whose access was revoked.
   */
  revoked: string[];
}

/**
 * GET workspaces/{id}/share.
 */
export interface IShareStatus {
  server: IHubServer | null;
  /**
   * Every Hub user this server is shared with.
   */
  shared_with: string[];
  /**
   * Those this server granted for this Workspace.
   */
  granted_for_workspace: string[];
  collaboration: { enabled: boolean; collaborators: string[] };
}

export interface ICreateWorkspaceRequest {
  name: string;
  description?: string;
  tags?: Record<string, string>;
  collaboration?: { enabled: boolean; collaborators: string[] };
}

export interface IUpdateWorkspaceRequest {
  description?: string;
  tags?: Record<string, string>;
  collaboration?: { enabled: boolean; collaborators: string[] };
}

export interface IAttachRequest {
  type: ClusterType;
  cluster_id: string;
  endpoint_id?: string;
  execution_role_arn?: string;
}

export interface ICreateClusterRequest {
  template: string;
  name: string;
  parameters?: Record<string, string | number>;
}

/**
 * A notebook execution's status (EMR's `StartNotebookExecution` statuses).
 */
export type ExecutionStatus =
  | 'START_PENDING'
  | 'STARTING'
  | 'RUNNING'
  | 'FINISHING'
  | 'FINISHED'
  | 'FAILING'
  | 'FAILED'
  | 'STOP_PENDING'
  | 'STOPPING'
  | 'STOPPED';

/** The statuses an execution ends in. */
export const FINAL_EXECUTION_STATUSES: ReadonlySet<string> = new Set([
  'FINISHED',
  'FAILED',
  'STOPPED'
]);

export type OutputFormat = 'ipynb' | 'html' | 'both';

/** The cluster an execution runs on (default: the Workspace's attachment). */
export interface IExecutionCluster {
  type: ClusterType;
  id: string;
  endpoint_id?: string | null;
}

/**
 * A notebook execution (`GET /executions/{id}`).
 */
export interface INotebookExecution {
  id: string;
  workspace_id: string;
  relative_path: string;
  name: string;
  status: ExecutionStatus;
  created_by: string;
  created_at: string;
  started_at?: string | null;
  ended_at?: string | null;
  duration_seconds?: number | null;
  reason?: string | null;
  parameters: Record<string, unknown>;
  cluster?: IExecutionCluster | null;
  output_format?: OutputFormat;
  environment?: Record<string, string>;
  tags?: Record<string, string>;
  kernel_name?: string;
  /** Store URIs of the executed notebook and its HTML, once written. */
  output: { notebook?: string; html?: string };
  output_folder: string;
  /** Where the output appears in the Workspace (`executions/<id>/`). */
  output_path?: string;
  /** The cell that failed. */
  error?: {
    cell_index?: number | null;
    cell_number?: number | null;
    cell_source?: string;
    ename?: string;
    evalue?: string;
  } | null;
  schedule_id?: string | null;
  stop_requested_by?: string | null;
}

/**
 * POST /executions.
 */
export interface IStartExecutionRequest {
  workspace_id: string;
  relative_path: string;
  name?: string;
  parameters?: Record<string, unknown>;
  cluster?: IExecutionCluster;
  output_format?: OutputFormat;
  environment?: Record<string, string>;
  tags?: Record<string, string>;
}

/**
 * GET /executions' filters.
 */
export interface IListExecutionsQuery {
  workspace_id?: string;
  /** One status or several. */
  status?: ExecutionStatus | ExecutionStatus[];
  schedule_id?: string;
  from?: string;
  to?: string;
  limit?: number;
  next_token?: string;
}

export interface IExecutionPage {
  executions: INotebookExecution[];
  next_token: string | null;
}

/**
 * A schedule (`GET /schedules/{id}`): each firing is an execution.
 */
export interface ISchedule {
  id: string;
  workspace_id: string;
  relative_path: string;
  name?: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  parameters?: Record<string, unknown>;
  cluster?: IExecutionCluster | null;
  output_format?: OutputFormat;
  created_by: string;
  created_at?: string;
  last_slot: string;
  last_fired_at?: string | null;
  last_execution_id?: string | null;
  last_error?: string | null;
  missed?: number;
  fired?: number;
  next_fire_at?: string | null;
}

/**
 * The fields of POST /schedules (PATCH: any of them but `workspace_id`).
 */
export interface IScheduleFields {
  workspace_id: string;
  relative_path: string;
  cron: string;
  name?: string;
  parameters?: Record<string, unknown>;
  cluster?: IExecutionCluster | null;
  output_format?: OutputFormat;
  timezone?: string;
  enabled?: boolean;
  tags?: Record<string, string>;
}

export type IScheduleUpdate = Partial<Omit<IScheduleFields, 'workspace_id'>>;

/**
 * Actions named in `/studio`'s `permissions`, as EMR Studio names them.
 */
/**
 * The answer to DELETE /workspaces/{id}.
 */
export interface IDeleteResult {
  id: string;
  delete_notebooks: boolean;
  backups_kept?: boolean;
  /** The Workspace's own backup prefix, `<backup_uri>/<id>/`. */
  backup_uri?: string;
  backup_objects?: number;
}

export const Actions = {
  listWorkspaces: 'elasticmapreduce:ListEditors',
  createWorkspace: 'elasticmapreduce:CreateEditor',
  updateWorkspace: 'elasticmapreduce:UpdateEditor',
  deleteWorkspace: 'elasticmapreduce:DeleteEditor',
  openWorkspace: 'elasticmapreduce:OpenEditorConsole',
  closeWorkspace: 'elasticmapreduce:StopEditor',
  attach: 'elasticmapreduce:AttachEditor',
  detach: 'elasticmapreduce:DetachEditor',
  listClusters: 'elasticmapreduce:ListClusters',
  createCluster: 'elasticmapreduce:RunJobFlow',
  forceRelease: 'emr-workspace:ForceReleaseLock',
  shareWorkspace: 'elasticmapreduce:PutWorkspaceAccess',
  unshareWorkspace: 'elasticmapreduce:DeleteWorkspaceAccess',
  shareStatus: 'elasticmapreduce:ListWorkspaceAccessIdentities',
  startExecution: 'elasticmapreduce:StartNotebookExecution',
  describeExecution: 'elasticmapreduce:DescribeNotebookExecution',
  listExecutions: 'elasticmapreduce:ListNotebookExecutions',
  stopExecution: 'elasticmapreduce:StopNotebookExecution',
  manageSchedules: 'emr-workspace:ManageSchedules'
} as const;

/**
 * Typed client of the server extension's REST API.
 */
export class EmrWorkspaceClient {
  constructor(options: EmrWorkspaceClient.IOptions = {}) {
    this.serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
  }

  readonly serverSettings: ServerConnection.ISettings;

  getStudio(): Promise<IStudio> {
    return this._request<IStudio>('studio');
  }

  /**
   * The Studio's Workspaces. The server may answer from what it listed within
   * `c.Studio.listing_max_age` (other servers' changes); `fresh` lists the
   * store now, for a refresh the user asked for.
   */
  async listWorkspaces(
    options: { fresh?: boolean } = {}
  ): Promise<IWorkspace[]> {
    const answer = await this._request<{ workspaces: IWorkspace[] }>(
      options.fresh ? 'workspaces?fresh=true' : 'workspaces'
    );
    return answer.workspaces;
  }

  getWorkspace(id: string): Promise<IWorkspace> {
    return this._request<IWorkspace>(workspacePath(id));
  }

  createWorkspace(request: ICreateWorkspaceRequest): Promise<IWorkspace> {
    return this._request<IWorkspace>('workspaces', {
      method: 'POST',
      body: request
    });
  }

  updateWorkspace(
    id: string,
    patch: IUpdateWorkspaceRequest
  ): Promise<IWorkspace> {
    return this._request<IWorkspace>(workspacePath(id), {
      method: 'PATCH',
      body: patch
    });
  }

  /**
   * Delete a Workspace. Its notebooks' backups stay unless `deleteNotebooks`;
   * the answer says where they are (`backup_uri`: `<backup_uri>/<id>/`).
   */
  async deleteWorkspace(
    id: string,
    options: { deleteNotebooks?: boolean } = {}
  ): Promise<IDeleteResult> {
    const result = await this._request<IDeleteResult | null>(
      workspacePath(id),
      {
        method: 'DELETE',
        query: { delete_notebooks: options.deleteNotebooks ? 'true' : 'false' }
      }
    );
    return result ?? { id, delete_notebooks: !!options.deleteNotebooks };
  }

  /**
   * Take the Workspace's lease and restore its files.
   *
   * Throws an `ApiError` with code `WorkspaceInUse` (and `details.holder`)
   * when someone else holds it.
   */
  openWorkspace(id: string): Promise<IOpenResult> {
    return this._request<IOpenResult>(workspacePath(id, 'open'), {
      method: 'POST',
      body: {}
    });
  }

  /**
   * Renew the lease. Throws `LeaseLost` (409) when it is gone.
   */
  heartbeat(id: string, token: string): Promise<IHeartbeatResult> {
    return this._request<IHeartbeatResult>(workspacePath(id, 'heartbeat'), {
      method: 'POST',
      body: { token }
    });
  }

  /**
   * Flush backups and release the lease.
   *
   * @param keepalive let the request outlive the page (on unload)
   */
  async closeWorkspace(
    id: string,
    token: string,
    options: { keepalive?: boolean } = {}
  ): Promise<void> {
    await this._request<void>(workspacePath(id, 'close'), {
      method: 'POST',
      body: { token },
      keepalive: options.keepalive
    });
  }

  /**
   * Release whoever holds the Workspace (admin action).
   */
  async forceRelease(id: string): Promise<void> {
    await this._request<void>(workspacePath(id, 'lock'), {
      method: 'DELETE'
    });
  }

  attach(id: string, request: IAttachRequest): Promise<IWorkspace> {
    const body: IAttachRequest = {
      type: request.type,
      cluster_id: request.cluster_id
    };
    if (request.endpoint_id) {
      body.endpoint_id = request.endpoint_id;
    }
    if (request.execution_role_arn) {
      body.execution_role_arn = request.execution_role_arn;
    }
    return this._request<IWorkspace>(workspacePath(id, 'attach'), {
      method: 'POST',
      body
    });
  }

  detach(id: string): Promise<IWorkspace> {
    return this._request<IWorkspace>(workspacePath(id, 'detach'), {
      method: 'POST',
      body: {}
    });
  }

  /**
   * Restart the kernels running in the Workspace (after a re-attach).
   */
  restartKernels(id: string): Promise<unknown> {
    return this._request<unknown>(workspacePath(id, 'restart-kernels'), {
      method: 'POST',
      body: {}
    });
  }

  getBackupStatus(id: string): Promise<IBackupStatus> {
    return this._request<IBackupStatus>(workspacePath(id, 'backup'));
  }

  backupNow(id: string): Promise<IBackupStatus> {
    return this._request<IBackupStatus>(workspacePath(id, 'backup'), {
      method: 'POST',
      body: {}
    });
  }

  /**
   * Share the JupyterHub server hosting the open Workspace with its
   * collaborators (groups expanded to users).
   *
   * Throws an `ApiError` with code `NotUnderJupyterHub`,
   * `CollaborationDisabled` or `WorkspaceNotOpen` (409) when it cannot.
   */
  shareWorkspace(id: string): Promise<IShareResult> {
    return this._request<IShareResult>(workspacePath(id, 'share'), {
      method: 'POST',
      body: {}
    });
  }

  /**
   * Revoke what sharing the Workspace granted.
   */
  unshareWorkspace(id: string): Promise<IUnshareResult> {
    return this._request<IUnshareResult>(workspacePath(id, 'share'), {
      method: 'DELETE'
    });
  }

  /**
   * Who this server is shared with.
   */
  shareStatus(id: string): Promise<IShareStatus> {
    return this._request<IShareStatus>(workspacePath(id, 'share'));
  }

  async listClusters(): Promise<IClusterList> {
    const answer = await this._request<Partial<IClusterList>>('clusters');
    const list: IClusterList = {
      clusters: answer.clusters ?? [],
      errors: answer.errors ?? []
    };
    if (answer.sources) {
      list.sources = answer.sources;
    }
    return list;
  }

  async listTemplates(): Promise<ITemplate[]> {
    const answer = await this._request<{ templates: ITemplate[] }>('templates');
    return answer.templates ?? [];
  }

  /**
   * The execution roles the user may run a Workspace's Spark as on `type`.
   */
  async executionRoles(type: ClusterType): Promise<IExecutionRole[]> {
    const answer = await this._request<{ roles?: IExecutionRole[] }>(
      `execution-roles?type=${encodeURIComponent(type)}`
    );
    return answer.roles ?? [];
  }

  createCluster(request: ICreateClusterRequest): Promise<ICluster> {
    return this._request<ICluster>('clusters', {
      method: 'POST',
      body: request
    });
  }

  /**
   * Run a Workspace notebook headless, with parameters: 201 with the queued
   * (START_PENDING) execution.
   */
  startExecution(request: IStartExecutionRequest): Promise<INotebookExecution> {
    return this._request<INotebookExecution>('executions', {
      method: 'POST',
      body: request
    });
  }

  /**
   * One page of executions, newest first.
   */
  async listExecutions(
    query: IListExecutionsQuery = {}
  ): Promise<IExecutionPage> {
    const status = Array.isArray(query.status)
      ? query.status.join(',') || undefined
      : query.status;
    const answer = await this._request<Partial<IExecutionPage>>('executions', {
      query: { ...query, status }
    });
    return {
      executions: answer.executions ?? [],
      next_token: answer.next_token ?? null
    };
  }

  getExecution(id: string): Promise<INotebookExecution> {
    return this._request<INotebookExecution>(executionPath(id));
  }

  /**
   * Stop an execution: STOPPED when it had not started, else STOP_PENDING.
   * Throws `ExecutionEnded` (409) when it already ended.
   */
  stopExecution(id: string): Promise<INotebookExecution> {
    return this._request<INotebookExecution>(executionPath(id, 'stop'), {
      method: 'POST',
      body: {}
    });
  }

  async listSchedules(
    query: { workspace_id?: string } = {}
  ): Promise<ISchedule[]> {
    const answer = await this._request<{ schedules?: ISchedule[] }>(
      'schedules',
      { query }
    );
    return answer.schedules ?? [];
  }

  getSchedule(id: string): Promise<ISchedule> {
    return this._request<ISchedule>(schedulePath(id));
  }

  createSchedule(fields: IScheduleFields): Promise<ISchedule> {
    return this._request<ISchedule>('schedules', {
      method: 'POST',
      body: fields
    });
  }

  updateSchedule(id: string, patch: IScheduleUpdate): Promise<ISchedule> {
    return this._request<ISchedule>(schedulePath(id), {
      method: 'PATCH',
      body: patch
    });
  }

  async deleteSchedule(id: string): Promise<void> {
    await this._request<void>(schedulePath(id), { method: 'DELETE' });
  }

  private _request<T>(
    endPoint: string,
    options: Parameters<typeof requestAPI>[1] = {}
  ): Promise<T> {
    return requestAPI<T>(endPoint, options, this.serverSettings);
  }
}

export namespace EmrWorkspaceClient {
  export interface IOptions {
    serverSettings?: ServerConnection.ISettings;
  }
}

function executionPath(id: string, action?: string): string {
  const base = `executions/${encodeURIComponent(id)}`;
  return action ? `${base}/${action}` : base;
}

function schedulePath(id: string): string {
  return `schedules/${encodeURIComponent(id)}`;
}

function workspacePath(id: string, action?: string): string {
  const base = `workspaces/${encodeURIComponent(id)}`;
  return action ? `${base}/${action}` : base;
}

/**
 * The holders of a Workspace's lease other than `user`.
 */
export function otherHolders(
  workspace: IWorkspace,
  user: string | undefined
): ILockHolder[] {
  return (workspace.lock?.holders ?? []).filter(holder => holder.user !== user);
}
