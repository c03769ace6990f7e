import { IDisposable } from '@lumino/disposable';
import { IPoll, Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  ClusterType,
  EmrWorkspaceClient,
  IBackupStatus,
  IClusterList,
  ILease,
  ILockHolder,
  IOpenResult,
  IStudio,
  ITemplate,
  IWorkspace
} from './api';
import { ApiError, isStoreUnavailable } from './handler';
import { STARTING_STATES } from './sources';

/**
 * Normalise an npm or a Python version so both spell a release alike
 * (`0.1.0-alpha.1` and `0.1.0a1` are the same release).
 */
export function normalizeVersion(version: string): string {
  return version
    .trim()
    .toLowerCase()
    .replace(/^v/, '')
    .replace(/\+.*$/, '')
    .replace(/[-.]?(alpha|a)[-.]?(\d+)/, 'a$2')
    .replace(/[-.]?(beta|b)[-.]?(\d+)/, 'b$2')
    .replace(/[-.]?(rc|c)[-.]?(\d+)/, 'rc$2')
    .replace(/[-.]?(dev)[-.]?(\d+)/, '.dev$2');
}

/**
 * Whether the server extension and the frontend come from the same release.
 */
export function versionsMatch(server: string, frontend: string): boolean {
  return normalizeVersion(server) === normalizeVersion(frontend);
}

/**
 * Who holds a Workspace, seen from `user`.
 */
export type WorkspaceState =
  | { kind: 'free' }
  | { kind: 'mine'; holders: ILockHolder[] }
  | { kind: 'in-use'; holder: ILockHolder }
  | { kind: 'collaborative'; holders: ILockHolder[] };

export function workspaceState(
  workspace: IWorkspace,
  user: string | undefined,
  now: Date = new Date()
): WorkspaceState {
  const holders = (workspace.lock?.holders ?? []).filter(
    holder => !holder.expires_at || new Date(holder.expires_at) > now
  );
  if (holders.length === 0) {
    return { kind: 'free' };
  }
  if (workspace.collaboration?.enabled && holders.length > 1) {
    return { kind: 'collaborative', holders };
  }
  const others = holders.filter(holder => holder.user !== user);
  if (others.length === 0) {
    return { kind: 'mine', holders };
  }
  if (workspace.collaboration?.enabled) {
    return { kind: 'collaborative', holders };
  }
  return { kind: 'in-use', holder: others[0] };
}

/**
 * The Studio, its Workspaces, clusters and templates, kept fresh by polling.
 *
 * The poll backs off on errors (a store that is away included) and stands by
 * while the page is hidden or the panel showing it is (`visible`), once the
 * Studio is known: nobody reads the list then, and many idle tabs must not
 * load the server. It refreshes when the page or the panel is shown again and
 * when the window gets the focus back (at most every few seconds); an explicit
 * `refresh()` always fetches, and asks the server to list the store afresh. A mismatch between the server extension's and the
 * frontend's versions stops everything and leaves one message in `fatal`.
 */
export class WorkspaceListModel implements IDisposable {
  constructor(options: WorkspaceListModel.IOptions) {
    this.client = options.client;
    this._frontendVersion = options.frontendVersion;
    this._interval = Math.max(1000, options.refreshInterval ?? 30000);
    this._mismatchMessage =
      options.mismatchMessage ??
      ((server, frontend) =>
        `jupyter-emr-workspace server extension ${server} and frontend ${frontend} do not match: reinstall the package and restart JupyterLab.`);

    const pageStandby = options.standby ?? 'when-hidden';
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetchWorkspaces(),
      frequency: this._frequency(this._interval),
      name: 'jupyter-emr-workspace:workspaces',
      // Stand by at the first tick that finds the page hidden.
      linger: 0,
      standby: () => this._standby(pageStandby, 'workspaces')
    });
    this._clusterPoll = new Poll({
      auto: false,
      factory: () => this._fetchClusters(),
      frequency: this._frequency(this._interval * 3),
      name: 'jupyter-emr-workspace:clusters',
      linger: 0,
      standby: () => this._standby(pageStandby, 'clusters')
    });

    if (typeof window !== 'undefined') {
      window.addEventListener('focus', this._onFocus);
      document.addEventListener('visibilitychange', this._onFocus);
    }
    if (options.autoStart ?? true) {
      void this.start();
    }
  }

  readonly client: EmrWorkspaceClient;

  /**
   * Emitted whenever anything below changes.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get studio(): IStudio | null {
    return this._studio;
  }

  get workspaces(): IWorkspace[] {
    return this._workspaces;
  }

  get clusters(): IClusterList | null {
    return this._clusters;
  }

  get templates(): ITemplate[] {
    return this._templates;
  }

  /**
   * The last error of the Workspaces poll, cleared by the next success.
   */
  get error(): Error | null {
    return this._error;
  }

  /**
   * The last error listing clusters or templates.
   */
  get clusterError(): Error | null {
    return this._clusterError;
  }

  /**
   * The last error when it says the Studio's store is away (503
   * `StoreUnavailable`, whose message names the store), else null. The poll
   * keeps trying, backing off; the list shown is the last one fetched.
   */
  get storeUnavailable(): ApiError | null {
    return isStoreUnavailable(this._error) ? this._error : null;
  }

  /**
   * When the poll tries again after a failure (null when it is not failing).
   */
  get nextTry(): Date | null {
    const state = this._poll.state;
    if (!this._error || state.phase !== 'rejected') {
      return null;
    }
    return new Date(state.timestamp + state.interval);
  }

  /**
   * Whether the panel showing the model is visible. While it is not (and the
   * Studio is known), polling stands by; showing it again refreshes.
   */
  get visible(): boolean {
    return this._visible;
  }

  set visible(visible: boolean) {
    if (visible === this._visible) {
      return;
    }
    this._visible = visible;
    if (visible) {
      this._onFocus();
      // Clusters missed while hidden (or never listed): list them now.
      if (
        !this._fatal &&
        !this._clusterPoll.isDisposed &&
        Date.now() - this._lastClusterFetch > this._interval * 3
      ) {
        this._forced.add('clusters');
        void this._clusterPoll.refresh();
      }
    }
  }

  /**
   * Set when the model gave up for good (version mismatch).
   */
  get fatal(): string | null {
    return this._fatal;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get clustersLoading(): boolean {
    return this._clustersLoading;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The poll of Workspaces (exposed for tests and diagnostics).
   */
  get poll(): Poll {
    return this._poll;
  }

  get refreshInterval(): number {
    return this._interval;
  }

  set refreshInterval(ms: number) {
    ms = Math.max(1000, ms);
    if (ms === this._interval) {
      return;
    }
    this._interval = ms;
    if (!this._poll.isDisposed) {
      this._poll.frequency = this._frequency(ms);
      if (!this._following) {
        this._clusterPoll.frequency = this._frequency(ms * 3);
      }
    }
  }

  /**
   * Whether the user may do `action`. Unknown actions are allowed: the server
   * decides in the end, the UI only hides what it knows is refused.
   */
  can(action: string): boolean {
    const permissions = this._studio?.permissions;
    if (!permissions || !(action in permissions)) {
      return true;
    }
    return !!permissions[action];
  }

  /**
   * Whether the user may do `action` on `workspace`: the Workspace's own
   * permissions (evaluated with its tags) first, then the Studio's.
   */
  canOn(workspace: IWorkspace | null | undefined, action: string): boolean {
    const own = workspace?.permissions;
    if (own && action in own) {
      return !!own[action];
    }
    return this.can(action);
  }

  workspace(id: string): IWorkspace | undefined {
    return this._workspaces.find(workspace => workspace.id === id);
  }

  /**
   * Start polling.
   */
  async start(): Promise<void> {
    if (this._fatal || this._poll.isDisposed) {
      return;
    }
    await Promise.all([this._poll.start(), this._clusterPoll.start()]);
  }

  /**
   * Refresh now (the Studio too), and resolve when the Workspaces are fetched.
   */
  async refresh(): Promise<void> {
    if (this._fatal || this._poll.isDisposed) {
      return;
    }
    this._studioStale = true;
    this._fresh = true;
    this._forced.add('workspaces');
    await this._poll.refresh();
    // The tick rejects if the poll is disposed meanwhile (version mismatch).
    await this._poll.tick.catch(() => undefined);
  }

  /**
   * Refresh clusters and templates now.
   */
  async refreshClusters(): Promise<void> {
    if (this._fatal || this._clusterPoll.isDisposed) {
      return;
    }
    this._forced.add('clusters');
    await this._clusterPoll.refresh();
    await this._clusterPoll.tick.catch(() => undefined);
  }

  /**
   * Follow cluster `id` of source `type` through its start (an attach that
   * started an EMR Serverless application, a cluster still bootstrapping):
   * clusters are listed now, then every `FOLLOW_INTERVAL` ms while that one is
   * listed in a starting state, so the panel shows it ready when it is rather
   * than at the next slow poll; then the usual interval comes back.
   */
  follow(type: ClusterType, id: string): void {
    this._following = { type, id };
    void this.refreshClusters();
  }

  /**
   * Put a Workspace the server just returned into the list.
   */
  upsert(workspace: IWorkspace): void {
    const index = this._workspaces.findIndex(w => w.id === workspace.id);
    this._workspaces =
      index === -1
        ? [...this._workspaces, workspace]
        : this._workspaces.map(w => (w.id === workspace.id ? workspace : w));
    this._changed.emit();
  }

  remove(id: string): void {
    this._workspaces = this._workspaces.filter(w => w.id !== id);
    this._changed.emit();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    if (typeof window !== 'undefined') {
      window.removeEventListener('focus', this._onFocus);
      document.removeEventListener('visibilitychange', this._onFocus);
    }
    this._poll.dispose();
    this._clusterPoll.dispose();
    Signal.clearData(this);
  }

  /**
   * Whether a poll stands by: never for an explicit refresh; while the panel
   * is hidden once the Studio is known (commands need its permissions even
   * when the panel was never shown); else as `page` says (by default: while
   * the page is hidden).
   */
  private _standby(
    page: Poll.Standby | (() => boolean | Poll.Standby),
    which: 'workspaces' | 'clusters'
  ): boolean | Poll.Standby {
    if (this._forced.delete(which)) {
      return false;
    }
    if (!this._visible && this._studio) {
      return true;
    }
    return typeof page === 'function' ? page() : page;
  }

  private _frequency(interval: number): IPoll.Frequency {
    return { interval, backoff: true, max: Math.max(interval * 10, 300000) };
  }

  private async _fetchWorkspaces(): Promise<void> {
    this._lastFetch = Date.now();
    try {
      if (!this._studio || this._studioStale) {
        const studio = await this.client.getStudio();
        this._studioStale = false;
        if (!versionsMatch(studio.version ?? '', this._frontendVersion)) {
          this._stop(
            this._mismatchMessage(studio.version ?? '?', this._frontendVersion)
          );
          return;
        }
        this._studio = studio;
      }
      // An asked-for refresh lists the store; polls may get the server's recent listing.
      const fresh = this._fresh;
      this._fresh = false;
      this._workspaces = await this.client.listWorkspaces({ fresh });
      this._error = null;
      this._loaded = true;
      this._changed.emit();
    } catch (error) {
      this._error = error as Error;
      this._changed.emit();
      // Rejecting makes the poll back off.
      throw error;
    }
  }

  private async _fetchClusters(): Promise<void> {
    // Clusters make sense once the Studio answered: wait for a fetch on its way.
    if (!this._studio) {
      const phase = this._poll.state.phase;
      if (phase === 'started' || phase === 'refreshed') {
        await this._poll.tick.catch(() => undefined);
      }
      if (!this._studio) {
        return;
      }
    }
    this._clustersLoading = true;
    this._lastClusterFetch = Date.now();
    this._changed.emit();
    try {
      const [clusters, templates] = await Promise.all([
        this.client.listClusters(),
        this.can('elasticmapreduce:RunJobFlow')
          ? this.client.listTemplates()
          : Promise.resolve([] as ITemplate[])
      ]);
      this._clusters = clusters;
      this._templates = templates;
      this._clusterError = null;
      this._followStart();
    } catch (error) {
      this._clusterError = error as Error;
      throw error;
    } finally {
      this._clustersLoading = false;
      this._changed.emit();
    }
  }

  /** The cluster poll's pace: quick while the followed cluster is starting. */
  private _followStart(): void {
    const followed = this._following;
    const cluster = followed
      ? this._clusters?.clusters.find(
          c => c.type === followed.type && c.id === followed.id
        )
      : undefined;
    const starting =
      !!cluster && STARTING_STATES.has((cluster.state || '').toUpperCase());
    if (!starting) {
      this._following = null;
    }
    const interval = starting
      ? Math.min(WorkspaceListModel.FOLLOW_INTERVAL, this._interval * 3)
      : this._interval * 3;
    this._clusterPoll.frequency = this._frequency(interval);
  }

  private _stop(message: string): void {
    this._fatal = message;
    this._poll.dispose();
    this._clusterPoll.dispose();
    this._changed.emit();
  }

  private _onFocus = (): void => {
    if (
      this._fatal ||
      this._poll.isDisposed ||
      !this._visible ||
      (typeof document !== 'undefined' && document.hidden)
    ) {
      return;
    }
    // Refresh when the user comes back, without hammering the server.
    if (Date.now() - this._lastFetch > WorkspaceListModel.FOCUS_THROTTLE) {
      this._forced.add('workspaces');
      void this._poll.refresh();
    }
  };

  static FOCUS_THROTTLE = 5000;

  /** Milliseconds between two listings while a followed cluster starts. */
  static FOLLOW_INTERVAL = 3000;

  private _changed = new Signal<this, void>(this);
  private _studio: IStudio | null = null;
  private _studioStale = false;
  private _workspaces: IWorkspace[] = [];
  private _clusters: IClusterList | null = null;
  private _templates: ITemplate[] = [];
  private _error: Error | null = null;
  private _clusterError: Error | null = null;
  private _clustersLoading = false;
  private _fatal: string | null = null;
  private _loaded = false;
  private _isDisposed = false;
  private _lastFetch = 0;
  private _lastClusterFetch = 0;
  private _visible = true;
  private _forced = new Set<'workspaces' | 'clusters'>();
  private _following: { type: ClusterType; id: string } | null = null;
  private _fresh = false;
  private _interval: number;
  private _frontendVersion: string;
  private _mismatchMessage: (server: string, frontend: string) => string;
  private _poll: Poll;
  private _clusterPoll: Poll;
}

export namespace WorkspaceListModel {
  export interface IOptions {
    client: EmrWorkspaceClient;
    /**
     * The frontend's version, compared with the Studio's `version`.
     */
    frontendVersion: string;
    /**
     * Milliseconds between two refreshes of the Workspaces (clusters: ×3).
     */
    refreshInterval?: number;
    /**
     * Start polling at once (default true).
     */
    autoStart?: boolean;
    standby?: Poll.Standby | (() => boolean | Poll.Standby);
    /**
     * The version mismatch message (translated by the caller).
     */
    mismatchMessage?: (server: string, frontend: string) => string;
  }
}

/**
 * What this tab holds of a Workspace.
 *
 * - `closed`: no Workspace open in this tab
 * - `opening` / `closing`: a request is on its way
 * - `editing`: this tab holds the lease and keeps it alive
 * - `read-only`: someone else holds the lease (or this tab lost it)
 */
export type LeaseMode =
  'closed' | 'opening' | 'editing' | 'read-only' | 'closing';

export interface ILeaseState {
  mode: LeaseMode;
  workspace: IWorkspace | null;
  lease: ILease | null;
  /**
   * The Workspace's folder, relative to the server root.
   */
  path: string | null;
  /**
   * Who holds the Workspace when it is read-only.
   */
  holder: { user: string; since?: string } | null;
  /**
   * Why it is read-only.
   */
  reason: 'in-use' | 'lease-lost' | null;
  /**
   * Files restored from the backups on open.
   */
  restored: number;
  /**
   * Files changed both locally and in the backup on open (both kept).
   */
  conflicts: number;
  /**
   * Why restoring failed on open, if it did.
   */
  restoreError: string | null;
  lastHeartbeat: Date | null;
  /**
   * The last heartbeat error; cleared by the next success.
   */
  heartbeatError: Error | null;
}

const CLOSED: ILeaseState = {
  mode: 'closed',
  workspace: null,
  lease: null,
  path: null,
  holder: null,
  reason: null,
  restored: 0,
  conflicts: 0,
  restoreError: null,
  lastHeartbeat: null,
  heartbeatError: null
};

/**
 * Keeps the lease of the Workspace open in this tab alive.
 *
 * Opening takes the lease (or, when someone else holds it, opens read-only);
 * while it is held a heartbeat renews it every `heartbeatInterval`; a failed
 * heartbeat is retried sooner, backing off up to the interval; `LeaseLost`
 * switches to read-only. Closing, disposing or leaving the page releases it.
 */
export class LeaseKeeper implements IDisposable {
  constructor(options: LeaseKeeper.IOptions) {
    this.client = options.client;
    this._interval = options.heartbeatInterval ?? 30000;
    this._retryBase = options.retryBase ?? 2000;
    this._target =
      options.target ?? (typeof window !== 'undefined' ? window : null);
    this._target?.addEventListener('beforeunload', this._onUnload);
    this._target?.addEventListener('pagehide', this._onUnload);
  }

  readonly client: EmrWorkspaceClient;

  get state(): ILeaseState {
    return this._state;
  }

  get stateChanged(): ISignal<this, ILeaseState> {
    return this._stateChanged;
  }

  /**
   * Emitted when a held lease is lost (someone else took it over).
   */
  get leaseLost(): ISignal<this, ILeaseState> {
    return this._leaseLost;
  }

  get heartbeatInterval(): number {
    return this._interval;
  }

  set heartbeatInterval(ms: number) {
    this._interval = Math.max(1000, ms);
  }

  /**
   * Consecutive failed heartbeats.
   */
  get failures(): number {
    return this._failures;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Whether `path` (relative to the server root) is inside the open Workspace.
   */
  contains(path: string): boolean {
    const root = this._state.path;
    if (!root) {
      return false;
    }
    const clean = (p: string) => p.replace(/^\/+|\/+$/g, '');
    const inner = clean(path);
    const outer = clean(root);
    return inner === outer || inner.startsWith(outer + '/');
  }

  /**
   * Open a Workspace in this tab, closing the one open before.
   *
   * Resolves with the new state: `editing`, or `read-only` when someone else
   * holds the Workspace. Other errors are thrown (and the state is `closed`).
   */
  async open(workspace: IWorkspace): Promise<ILeaseState> {
    if (this._state.mode !== 'closed') {
      await this.close();
    }
    this._setState({ ...CLOSED, mode: 'opening', workspace });
    let result: IOpenResult;
    try {
      result = await this.client.openWorkspace(workspace.id);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'WorkspaceInUse') {
        const holder = error.details.holder ?? {
          user: workspace.lock?.holders[0]?.user ?? '?'
        };
        this._setState({
          ...CLOSED,
          mode: 'read-only',
          workspace,
          path: workspace.path,
          holder,
          reason: 'in-use'
        });
        return this._state;
      }
      this._setState({ ...CLOSED });
      throw error;
    }
    this._failures = 0;
    this._setState({
      ...CLOSED,
      mode: 'editing',
      workspace: result.workspace ?? workspace,
      lease: result.lease,
      path: result.path ?? result.workspace?.path ?? workspace.path,
      restored: result.restored ?? 0,
      conflicts: result.conflicts?.length ?? 0,
      restoreError: result.restore_error ?? null,
      lastHeartbeat: new Date()
    });
    this._schedule(this._interval);
    return this._state;
  }

  /**
   * Release the lease (when held) and forget the Workspace.
   */
  async close(): Promise<void> {
    const { mode, workspace, lease } = this._state;
    this._clearTimer();
    if (mode === 'editing' && workspace && lease) {
      this._setState({ ...this._state, mode: 'closing' });
      try {
        await this.client.closeWorkspace(workspace.id, lease.token);
      } catch (error) {
        // A lease already gone is as good as released.
        if (!(error instanceof ApiError && error.code === 'LeaseLost')) {
          this._setState({ ...this._state, mode: 'editing' });
          this._schedule(this._interval);
          throw error;
        }
      }
    }
    this._setState({ ...CLOSED });
  }

  /**
   * Update the Workspace shown (e.g. after attach), keeping the lease.
   */
  updateWorkspace(workspace: IWorkspace): void {
    if (this._state.workspace?.id === workspace.id) {
      this._setState({ ...this._state, workspace });
    }
  }

  /**
   * Send a heartbeat now (exposed for tests and the "retry" action).
   */
  async heartbeat(): Promise<void> {
    const { mode, workspace, lease } = this._state;
    if (mode !== 'editing' || !workspace || !lease) {
      return;
    }
    this._clearTimer();
    try {
      const answer = await this.client.heartbeat(workspace.id, lease.token);
      if (this._state.lease?.token !== lease.token) {
        return; // closed or reopened meanwhile
      }
      const renewed: ILease = {
        ...lease,
        ...(answer?.lease ?? {}),
        expires_at:
          answer?.lease?.expires_at ?? answer?.expires_at ?? lease.expires_at
      };
      this._failures = 0;
      this._setState({
        ...this._state,
        lease: renewed,
        lastHeartbeat: new Date(),
        heartbeatError: null
      });
      this._schedule(this._interval);
    } catch (error) {
      if (this._state.lease?.token !== lease.token) {
        return;
      }
      if (
        error instanceof ApiError &&
        (error.code === 'LeaseLost' || error.status === 404)
      ) {
        const holder = error.details.holder ?? null;
        this._setState({
          ...this._state,
          mode: 'read-only',
          lease: null,
          holder,
          reason: 'lease-lost',
          heartbeatError: error
        });
        this._leaseLost.emit(this._state);
        return;
      }
      this._failures += 1;
      this._setState({ ...this._state, heartbeatError: error as Error });
      this._schedule(this.retryDelay(this._failures));
    }
  }

  /**
   * Delay before the next try after `failures` failed heartbeats: doubles from
   * `retryBase`, never longer than the heartbeat interval.
   */
  retryDelay(failures: number): number {
    return Math.min(
      this._interval,
      this._retryBase * Math.pow(2, Math.max(0, failures - 1))
    );
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._target?.removeEventListener('beforeunload', this._onUnload);
    this._target?.removeEventListener('pagehide', this._onUnload);
    this._release();
    this._clearTimer();
    Signal.clearData(this);
  }

  private _onUnload = (): void => {
    this._release();
  };

  /**
   * Release the lease with a request that outlives the page.
   */
  private _release(): void {
    const { mode, workspace, lease } = this._state;
    if (mode === 'editing' && workspace && lease) {
      this._clearTimer();
      this._state = { ...CLOSED };
      this.client
        .closeWorkspace(workspace.id, lease.token, { keepalive: true })
        .catch(error => {
          console.warn('Could not release the Workspace lease', error);
        });
    }
  }

  private _schedule(delay: number): void {
    this._clearTimer();
    this._timer = setTimeout(() => {
      this._timer = null;
      void this.heartbeat();
    }, delay);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _setState(state: ILeaseState): void {
    this._state = state;
    this._stateChanged.emit(state);
  }

  private _state: ILeaseState = { ...CLOSED };
  private _stateChanged = new Signal<this, ILeaseState>(this);
  private _leaseLost = new Signal<this, ILeaseState>(this);
  private _interval: number;
  private _retryBase: number;
  private _failures = 0;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _target: Pick<
    Window,
    'addEventListener' | 'removeEventListener'
  > | null;
  private _isDisposed = false;
}

export namespace LeaseKeeper {
  export interface IOptions {
    client: EmrWorkspaceClient;
    /**
     * Milliseconds between heartbeats (default 30 s).
     */
    heartbeatInterval?: number;
    /**
     * First retry delay after a failed heartbeat (default 2 s).
     */
    retryBase?: number;
    /**
     * Where to listen for `beforeunload` (default `window`).
     */
    target?: Pick<Window, 'addEventListener' | 'removeEventListener'> | null;
  }
}

/**
 * The backup state of the Workspace open in this tab, polled while it is open.
 */
export class BackupMonitor implements IDisposable {
  constructor(options: BackupMonitor.IOptions) {
    this.client = options.client;
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetch(),
      frequency: {
        interval: options.interval ?? 15000,
        backoff: true,
        max: 300000
      },
      name: 'jupyter-emr-workspace:backup',
      standby: options.standby ?? 'when-hidden'
    });
  }

  readonly client: EmrWorkspaceClient;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get workspaceId(): string | null {
    return this._workspaceId;
  }

  get status(): IBackupStatus | null {
    return this._status;
  }

  get error(): Error | null {
    return this._error;
  }

  /**
   * The last error when it says the Studio's store is away: backups wait on
   * this server until it is back.
   */
  get storeUnavailable(): ApiError | null {
    return isStoreUnavailable(this._error) ? this._error : null;
  }

  get busy(): boolean {
    return this._busy;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /**
   * Follow a Workspace (or none).
   */
  watch(workspaceId: string | null): void {
    if (workspaceId === this._workspaceId) {
      return;
    }
    this._workspaceId = workspaceId;
    this._status = null;
    this._error = null;
    this._changed.emit();
    if (workspaceId) {
      void this._poll.start().then(() => this._poll.refresh());
    } else {
      void this._poll.stop();
    }
  }

  async refresh(): Promise<void> {
    if (!this._workspaceId || this._poll.isDisposed) {
      return;
    }
    await this._poll.refresh();
    await this._poll.tick.catch(() => undefined);
  }

  /**
   * Back up now; resolves with the new status, throws the server's error.
   */
  async backupNow(): Promise<IBackupStatus | null> {
    const id = this._workspaceId;
    if (!id) {
      return null;
    }
    this._busy = true;
    this._changed.emit();
    try {
      const status = await this.client.backupNow(id);
      if (id === this._workspaceId) {
        this._status = status;
        this._error = null;
      }
      return status;
    } catch (error) {
      this._error = error as Error;
      throw error;
    } finally {
      this._busy = false;
      this._changed.emit();
    }
  }

  dispose(): void {
    if (this._poll.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _fetch(): Promise<void> {
    const id = this._workspaceId;
    if (!id) {
      return;
    }
    try {
      const status = await this.client.getBackupStatus(id);
      if (id === this._workspaceId) {
        this._status = status;
        this._error = null;
        this._changed.emit();
      }
    } catch (error) {
      if (id === this._workspaceId) {
        this._error = error as Error;
        this._changed.emit();
      }
      throw error;
    }
  }

  private _changed = new Signal<this, void>(this);
  private _poll: Poll;
  private _workspaceId: string | null = null;
  private _status: IBackupStatus | null = null;
  private _error: Error | null = null;
  private _busy = false;
}

export namespace BackupMonitor {
  export interface IOptions {
    client: EmrWorkspaceClient;
    interval?: number;
    standby?: Poll.Standby | (() => boolean | Poll.Standby);
  }
}

/**
 * Long operations in progress (open with restore, attach, cluster creation),
 * shown by the panel and the status bar.
 */
export class ActivityModel {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get items(): ReadonlyArray<{ id: number; label: string }> {
    return this._items;
  }

  /**
   * Show `label` while `promise` runs; resolves or rejects as it does.
   */
  async track<T>(label: string, promise: Promise<T>): Promise<T> {
    const id = ++this._next;
    this._items = [...this._items, { id, label }];
    this._changed.emit();
    try {
      return await promise;
    } finally {
      this._items = this._items.filter(item => item.id !== id);
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private _items: { id: number; label: string }[] = [];
  private _next = 0;
}
