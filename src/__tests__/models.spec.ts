import { IStudio, IWorkspace } from '../api';
import { ApiError } from '../handler';
import {
  ActivityModel,
  BackupMonitor,
  LeaseKeeper,
  normalizeVersion,
  versionsMatch,
  WorkspaceListModel,
  workspaceState
} from '../models';

function studio(overrides: Partial<IStudio> = {}): IStudio {
  return {
    id: 'es-1',
    name: 'Analytics',
    description: '',
    auth_mode: 'IAM',
    version: '0.1.0',
    user: { name: 'alice', groups: ['data'] },
    permissions: {
      'elasticmapreduce:CreateEditor': true,
      'elasticmapreduce:DeleteEditor': false
    },
    backup_uri: 's3://bucket/prefix',
    lease_seconds: 90,
    heartbeat_seconds: 30,
    autosave_interval: 60,
    ...overrides
  };
}

function workspace(overrides: Partial<IWorkspace> = {}): IWorkspace {
  return {
    id: 'e-1',
    name: 'churn',
    description: '',
    created_by: 'alice',
    created_at: '2024-01-01T00:00:00Z',
    tags: {},
    collaboration: { enabled: false, collaborators: [] },
    attachment: null,
    lock: null,
    path: 'workspaces/e-1',
    ...overrides
  };
}

/**
 * A client whose every method is a jest mock.
 */
function mockClient(overrides: Record<string, jest.Mock> = {}): any {
  return {
    getStudio: jest.fn(async () => studio()),
    listWorkspaces: jest.fn(async () => [workspace()]),
    getWorkspace: jest.fn(async () => workspace()),
    listClusters: jest.fn(async () => ({ clusters: [], errors: [] })),
    listTemplates: jest.fn(async () => []),
    openWorkspace: jest.fn(async () => ({
      workspace: workspace(),
      lease: {
        token: 'tok',
        generation: 1,
        expires_at: '2099-01-01T00:00:00Z'
      },
      path: 'workspaces/e-1',
      restored: 2
    })),
    heartbeat: jest.fn(async () => ({
      lease: { expires_at: '2099-01-01T00:01:30Z' }
    })),
    closeWorkspace: jest.fn(async () => undefined),
    getBackupStatus: jest.fn(async () => ({
      last_backup_at: null,
      pending: ['a.ipynb'],
      failed: [],
      conflicts: [],
      last_error: null
    })),
    backupNow: jest.fn(async () => ({
      last_backup_at: '2024-01-01T00:00:00Z',
      pending: [],
      failed: [],
      conflicts: [],
      last_error: null
    })),
    ...overrides
  };
}

/** Await `promise` while fake timers run the poll's immediate ticks. */
async function settled<T>(promise: Promise<T>): Promise<T> {
  await jest.advanceTimersByTimeAsync(0);
  return promise;
}

/** Let pending promise callbacks run. */
async function flush(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) {
    await Promise.resolve();
  }
}

describe('versions', () => {
  it('normalises npm and Python spellings alike', () => {
    expect(normalizeVersion('0.1.0-alpha.1')).toBe('0.1.0a1');
    expect(normalizeVersion('0.1.0a1')).toBe('0.1.0a1');
    expect(normalizeVersion('1.0.0-rc.2')).toBe('1.0.0rc2');
    expect(normalizeVersion('v1.2.3+local')).toBe('1.2.3');
  });

  it('matches equal releases only', () => {
    expect(versionsMatch('0.1.0', '0.1.0')).toBe(true);
    expect(versionsMatch('0.1.0b1', '0.1.0-beta.1')).toBe(true);
    expect(versionsMatch('0.1.1', '0.1.0')).toBe(false);
  });
});

describe('workspaceState', () => {
  const future = '2099-01-01T00:00:00Z';
  it('is free without live holders', () => {
    expect(workspaceState(workspace(), 'alice').kind).toBe('free');
    expect(
      workspaceState(
        workspace({
          lock: {
            holders: [
              { user: 'bob', since: 'x', expires_at: '2000-01-01T00:00:00Z' }
            ],
            generation: 1
          }
        }),
        'alice'
      ).kind
    ).toBe('free');
  });

  it('names the holder when someone else holds it', () => {
    const state = workspaceState(
      workspace({
        lock: {
          holders: [{ user: 'bob', since: 's', expires_at: future }],
          generation: 1
        }
      }),
      'alice'
    );
    expect(state).toEqual({
      kind: 'in-use',
      holder: { user: 'bob', since: 's', expires_at: future }
    });
  });

  it('knows the user holds it', () => {
    expect(
      workspaceState(
        workspace({
          lock: {
            holders: [{ user: 'alice', since: 's', expires_at: future }],
            generation: 1
          }
        }),
        'alice'
      ).kind
    ).toBe('mine');
  });

  it('counts collaborative editors', () => {
    const state = workspaceState(
      workspace({
        collaboration: { enabled: true, collaborators: ['user:bob'] },
        lock: {
          holders: [
            { user: 'alice', since: 's' },
            { user: 'bob', since: 's' }
          ],
          generation: 3
        }
      }),
      'carol'
    );
    expect(state.kind).toBe('collaborative');
    expect((state as any).holders).toHaveLength(2);
  });
});

describe('WorkspaceListModel', () => {
  let model: WorkspaceListModel;
  afterEach(() => {
    model?.dispose();
  });

  it('loads the Studio and the Workspaces', async () => {
    const client = mockClient();
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      autoStart: false,
      standby: 'never'
    });
    const changed = jest.fn();
    model.changed.connect(changed);
    await model.refresh();
    expect(client.getStudio).toHaveBeenCalledTimes(1);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(1);
    // An asked-for refresh lists the store, not the server's recent listing.
    expect(client.listWorkspaces).toHaveBeenCalledWith({ fresh: true });
    expect(model.studio?.name).toBe('Analytics');
    expect(model.workspaces.map(w => w.id)).toEqual(['e-1']);
    expect(model.loaded).toBe(true);
    expect(model.error).toBeNull();
    expect(changed).toHaveBeenCalled();
  });

  it('stops with one message when the versions differ', async () => {
    const client = mockClient({
      getStudio: jest.fn(async () => studio({ version: '0.1.1' }))
    });
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      autoStart: false,
      standby: 'never'
    });
    await model.refresh();
    expect(model.fatal).toBe(
      'jupyter-emr-workspace server extension 0.1.1 and frontend 0.1.0 do not match: reinstall the package and restart JupyterLab.'
    );
    expect(client.listWorkspaces).not.toHaveBeenCalled();
    expect(model.poll.isDisposed).toBe(true);
    // Nothing polls any more.
    await model.refresh();
    await model.refreshClusters();
    expect(client.getStudio).toHaveBeenCalledTimes(1);
    expect(client.listClusters).not.toHaveBeenCalled();
  });

  it('keeps the error and backs off when the server fails', async () => {
    const error = new ApiError(500, 'Internal', 'The store is unreachable.');
    const client = mockClient({
      listWorkspaces: jest.fn(async () => {
        throw error;
      })
    });
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      refreshInterval: 10000,
      autoStart: false,
      standby: 'never'
    });
    await model.refresh();
    expect(model.error).toBe(error);
    // A rejected tick makes the Lumino poll back off, up to ten intervals.
    expect(model.poll.state.phase).toBe('rejected');
    expect(model.poll.frequency.backoff).toBe(true);
    expect(model.poll.frequency.max).toBeGreaterThanOrEqual(100000);

    client.listWorkspaces.mockImplementation(async () => [workspace()]);
    await model.refresh();
    expect(model.error).toBeNull();
    expect(model.poll.state.phase).toBe('resolved');
  });

  it('applies a new refresh interval to the poll', () => {
    model = new WorkspaceListModel({
      client: mockClient(),
      frontendVersion: '0.1.0',
      refreshInterval: 30000,
      autoStart: false
    });
    model.refreshInterval = 60000;
    expect(model.poll.frequency.interval).toBe(60000);
    expect(model.refreshInterval).toBe(60000);
  });

  it('hides what the permissions refuse, allows what they do not name', async () => {
    model = new WorkspaceListModel({
      client: mockClient(),
      frontendVersion: '0.1.0',
      autoStart: false,
      standby: 'never'
    });
    // Before /studio answered, nothing is known to be refused.
    expect(model.can('elasticmapreduce:DeleteEditor')).toBe(true);
    await model.refresh();
    expect(model.can('elasticmapreduce:CreateEditor')).toBe(true);
    expect(model.can('elasticmapreduce:DeleteEditor')).toBe(false);
    expect(model.can('elasticmapreduce:AttachEditor')).toBe(true);
  });

  it('lists clusters and templates once the Studio answered', async () => {
    const client = mockClient({
      listClusters: jest.fn(async () => ({
        clusters: [
          {
            type: 'local',
            id: 'local',
            name: 'Local',
            state: 'RUNNING',
            attachable: true
          }
        ],
        errors: [{ source: 'emr-eks', message: 'AccessDenied' }]
      })),
      listTemplates: jest.fn(async () => [{ name: 'small', fields: [] }])
    });
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      autoStart: false,
      standby: 'never'
    });
    await model.refresh();
    await model.refreshClusters();
    expect(model.clusters?.clusters[0].id).toBe('local');
    expect(model.clusters?.errors[0].message).toBe('AccessDenied');
    expect(model.templates.map(t => t.name)).toEqual(['small']);
  });

  it('refreshes when the window gets the focus, at most every few seconds', async () => {
    const client = mockClient();
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      autoStart: false,
      standby: 'never'
    });
    await model.refresh();
    expect(client.listWorkspaces).toHaveBeenCalledTimes(1);

    // Right after a fetch: throttled.
    window.dispatchEvent(new Event('focus'));
    await flush();
    expect(model.poll.state.phase).not.toBe('refreshed');

    const throttle = WorkspaceListModel.FOCUS_THROTTLE;
    WorkspaceListModel.FOCUS_THROTTLE = -1;
    try {
      window.dispatchEvent(new Event('focus'));
      await model.poll.tick;
      expect(client.listWorkspaces).toHaveBeenCalledTimes(2);
    } finally {
      WorkspaceListModel.FOCUS_THROTTLE = throttle;
    }
  });

  it('keeps polling with back-off while the store is away, and says which store', async () => {
    jest.useFakeTimers();
    try {
      const away = new ApiError(
        503,
        'StoreUnavailable',
        "The Studio's store s3://bucket/prefix is unavailable: connection refused. Nothing was changed; try again when it is reachable."
      );
      const client = mockClient();
      model = new WorkspaceListModel({
        client,
        frontendVersion: '0.1.0',
        refreshInterval: 10000,
        autoStart: false,
        standby: 'never'
      });
      await settled(model.refresh());
      expect(model.storeUnavailable).toBeNull();
      client.listWorkspaces.mockImplementation(async () => {
        throw away;
      });
      await jest.advanceTimersByTimeAsync(10000);
      expect(client.listWorkspaces).toHaveBeenCalledTimes(2);
      expect(model.storeUnavailable).toBe(away);
      expect(model.storeUnavailable?.message).toContain('s3://bucket/prefix');
      // The last list stays shown.
      expect(model.workspaces.map(w => w.id)).toEqual(['e-1']);
      expect(model.nextTry!.getTime()).toBeGreaterThan(Date.now());

      // Ten minutes away: it keeps trying, but backs off (at the normal
      // interval it would have tried 60 times).
      await jest.advanceTimersByTimeAsync(600000);
      const tries = client.listWorkspaces.mock.calls.length - 2;
      expect(tries).toBeGreaterThanOrEqual(2);
      expect(tries).toBeLessThan(30);
      expect(model.poll.state.phase).toBe('rejected');

      // Back: the next try clears the notice.
      client.listWorkspaces.mockImplementation(async () => [workspace()]);
      await jest.advanceTimersByTimeAsync(300000);
      expect(model.storeUnavailable).toBeNull();
      expect(model.error).toBeNull();
      expect(model.nextTry).toBeNull();
    } finally {
      model.dispose();
      jest.useRealTimers();
    }
  });

  it('tells other errors from a store that is away', async () => {
    const client = mockClient({
      listWorkspaces: jest.fn(async () => {
        throw new ApiError(500, 'Internal', 'boom');
      })
    });
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      autoStart: false,
      standby: 'never'
    });
    await model.refresh();
    expect(model.error?.message).toBe('boom');
    expect(model.storeUnavailable).toBeNull();
  });

  it('updates and removes Workspaces locally', () => {
    model = new WorkspaceListModel({
      client: mockClient(),
      frontendVersion: '0.1.0',
      autoStart: false
    });
    model.upsert(workspace());
    model.upsert(workspace({ description: 'new' }));
    model.upsert(workspace({ id: 'e-2' }));
    expect(model.workspaces.map(w => [w.id, w.description])).toEqual([
      ['e-1', 'new'],
      ['e-2', '']
    ]);
    model.remove('e-1');
    expect(model.workspace('e-1')).toBeUndefined();
    expect(model.workspace('e-2')).toBeDefined();
  });
});

/**
 * Make the page visible or hidden, as a browser does (Lumino's polls and the
 * model read `document.visibilityState` / `document.hidden`).
 */
function pageVisibility() {
  let state: DocumentVisibilityState = 'visible';
  Object.defineProperty(document, 'visibilityState', {
    configurable: true,
    get: () => state
  });
  Object.defineProperty(document, 'hidden', {
    configurable: true,
    get: () => state === 'hidden'
  });
  return {
    set(next: DocumentVisibilityState) {
      state = next;
      document.dispatchEvent(new Event('visibilitychange'));
    },
    restore() {
      this.set('visible');
      delete (document as any).visibilityState;
      delete (document as any).hidden;
    }
  };
}

describe('WorkspaceListModel polling when hidden', () => {
  let model: WorkspaceListModel;
  let page: ReturnType<typeof pageVisibility>;

  beforeEach(() => {
    jest.useFakeTimers();
    page = pageVisibility();
  });

  afterEach(() => {
    model?.dispose();
    page.restore();
    jest.useRealTimers();
  });

  /** A started model (default standby) that fetched once. */
  async function started(client: any) {
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      refreshInterval: 10000,
      autoStart: false
    });
    await model.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(10000);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(2);
    return model;
  }

  it('stops polling while the page is hidden and resumes when it is shown', async () => {
    const client = mockClient();
    await started(client);
    const clusters = client.listClusters.mock.calls.length;

    page.set('hidden');
    await jest.advanceTimersByTimeAsync(30 * 60000);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(2);
    expect(client.listClusters).toHaveBeenCalledTimes(clusters);

    // Shown again: refreshed at once, then polled as before.
    page.set('visible');
    await jest.advanceTimersByTimeAsync(0);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(3);
    await jest.advanceTimersByTimeAsync(10000);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(4);
    await jest.advanceTimersByTimeAsync(30000);
    expect(client.listClusters.mock.calls.length).toBeGreaterThan(clusters);
  });

  it('stops polling while its panel is hidden and refreshes when it is shown', async () => {
    const client = mockClient();
    await started(client);
    const clusters = client.listClusters.mock.calls.length;

    model.visible = false;
    await jest.advanceTimersByTimeAsync(30 * 60000);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(2);
    expect(client.listClusters).toHaveBeenCalledTimes(clusters);
    // Focus comes back to the window, but the panel is still hidden.
    window.dispatchEvent(new Event('focus'));
    await jest.advanceTimersByTimeAsync(10000);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(2);

    model.visible = true;
    await jest.advanceTimersByTimeAsync(0);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(3);
    await jest.advanceTimersByTimeAsync(10000);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(4);
  });

  it('lists clusters at start when the panel is shown as the poll starts', async () => {
    // As the plugin does: the panel is added hidden, polling starts, then the
    // panel is shown (its refresh replaces the poll's first tick).
    const client = mockClient();
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      refreshInterval: 10000,
      autoStart: false
    });
    model.visible = false;
    void model.start();
    model.visible = true;
    await jest.advanceTimersByTimeAsync(0);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(1);
    expect(client.listClusters).toHaveBeenCalledTimes(1);
    expect(model.clusters).not.toBeNull();
  });

  it('lists clusters missed while the panel was hidden when it is shown', async () => {
    const client = mockClient();
    await started(client);
    await jest.advanceTimersByTimeAsync(20000);
    const listed = client.listClusters.mock.calls.length;
    expect(listed).toBeGreaterThanOrEqual(1);
    model.visible = false;
    await jest.advanceTimersByTimeAsync(5 * 60000);
    expect(client.listClusters).toHaveBeenCalledTimes(listed);
    model.visible = true;
    await jest.advanceTimersByTimeAsync(0);
    expect(client.listClusters).toHaveBeenCalledTimes(listed + 1);
    // Shown again soon after: not listed again.
    model.visible = false;
    model.visible = true;
    await jest.advanceTimersByTimeAsync(0);
    expect(client.listClusters).toHaveBeenCalledTimes(listed + 1);
  });

  it('fetches on an explicit refresh even while hidden', async () => {
    const client = mockClient();
    await started(client);
    model.visible = false;
    page.set('hidden');
    await settled(model.refresh());
    expect(client.listWorkspaces).toHaveBeenCalledTimes(3);
    // …and stands by again after it.
    await jest.advanceTimersByTimeAsync(30 * 60000);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(3);
  });

  it('loads the Studio once even when the panel starts hidden', async () => {
    const client = mockClient();
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      refreshInterval: 10000,
      autoStart: false
    });
    model.visible = false;
    await model.start();
    await jest.advanceTimersByTimeAsync(0);
    // Commands need the permissions: the first fetch happens…
    expect(client.getStudio).toHaveBeenCalledTimes(1);
    expect(model.studio).not.toBeNull();
    // …and then nothing while the panel stays hidden.
    await jest.advanceTimersByTimeAsync(30 * 60000);
    expect(client.listWorkspaces).toHaveBeenCalledTimes(1);
  });
});

describe('WorkspaceListModel following a starting cluster', () => {
  let model: WorkspaceListModel;

  beforeEach(() => {
    jest.useFakeTimers();
  });

  afterEach(() => {
    model?.dispose();
    jest.useRealTimers();
  });

  /** The Serverless application as listed: `states` in turn, then the last. */
  function listing(states: string[]) {
    let call = 0;
    return jest.fn(async () => {
      const state = states[Math.min(call++, states.length - 1)];
      return {
        clusters: [
          {
            type: 'emr-serverless',
            id: '00f1',
            name: 'analytics',
            state,
            attachable: true
          },
          {
            type: 'emr-ec2',
            id: 'j-1',
            name: 'etl',
            state: 'STARTING',
            attachable: true
          }
        ],
        errors: []
      };
    });
  }

  async function started(client: any): Promise<void> {
    model = new WorkspaceListModel({
      client,
      frontendVersion: '0.1.0',
      refreshInterval: 10000, // clusters every 30 s
      autoStart: false,
      standby: 'never'
    });
    await model.start();
    await jest.advanceTimersByTimeAsync(0);
  }

  const state = () =>
    model.clusters?.clusters.find(c => c.id === '00f1')?.state;

  it('lists clusters quickly until the followed one is ready, then as before', async () => {
    const client = mockClient({
      listClusters: listing(['STOPPED', 'STARTING', 'STARTING', 'STARTED'])
    });
    await started(client);
    expect(state()).toBe('STOPPED');
    const before = client.listClusters.mock.calls.length;

    // Attached: StartApplication answered STARTING.
    model.follow('emr-serverless', '00f1');
    await jest.advanceTimersByTimeAsync(0);
    expect(client.listClusters).toHaveBeenCalledTimes(before + 1);
    expect(state()).toBe('STARTING');
    await jest.advanceTimersByTimeAsync(WorkspaceListModel.FOLLOW_INTERVAL);
    expect(client.listClusters).toHaveBeenCalledTimes(before + 2);
    expect(state()).toBe('STARTING');
    await jest.advanceTimersByTimeAsync(WorkspaceListModel.FOLLOW_INTERVAL);
    expect(client.listClusters).toHaveBeenCalledTimes(before + 3);
    expect(state()).toBe('STARTED');

    // Ready: back to the usual pace, though another cluster is still starting.
    await jest.advanceTimersByTimeAsync(29000);
    expect(client.listClusters).toHaveBeenCalledTimes(before + 3);
    await jest.advanceTimersByTimeAsync(1000);
    expect(client.listClusters).toHaveBeenCalledTimes(before + 4);
  });

  it('does not speed up for a cluster that is already ready', async () => {
    const client = mockClient({ listClusters: listing(['STARTED']) });
    await started(client);
    const before = client.listClusters.mock.calls.length;
    model.follow('emr-serverless', '00f1');
    await jest.advanceTimersByTimeAsync(0);
    expect(client.listClusters).toHaveBeenCalledTimes(before + 1);
    await jest.advanceTimersByTimeAsync(29000);
    expect(client.listClusters).toHaveBeenCalledTimes(before + 1);
  });
});

describe('LeaseKeeper', () => {
  let keeper: LeaseKeeper;
  let target: EventTarget;

  beforeEach(() => {
    jest.useFakeTimers();
    target = new EventTarget();
  });

  afterEach(() => {
    keeper?.dispose();
    jest.useRealTimers();
  });

  function make(client: any) {
    keeper = new LeaseKeeper({
      client,
      heartbeatInterval: 30000,
      retryBase: 2000,
      target: target as any
    });
    return keeper;
  }

  it('takes the lease and heartbeats every interval with its token', async () => {
    const client = mockClient();
    make(client);
    const state = await keeper.open(workspace());
    expect(state.mode).toBe('editing');
    expect(state.lease?.token).toBe('tok');
    expect(state.restored).toBe(2);
    expect(state.path).toBe('workspaces/e-1');

    await jest.advanceTimersByTimeAsync(29999);
    expect(client.heartbeat).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(client.heartbeat).toHaveBeenCalledWith('e-1', 'tok');
    expect(keeper.state.lease?.expires_at).toBe('2099-01-01T00:01:30Z');

    await jest.advanceTimersByTimeAsync(30000);
    expect(client.heartbeat).toHaveBeenCalledTimes(2);
  });

  it('opens read-only, naming the holder, when the Workspace is in use', async () => {
    const client = mockClient({
      openWorkspace: jest.fn(async () => {
        throw new ApiError(409, 'WorkspaceInUse', 'In use by bob', {
          code: 'WorkspaceInUse',
          holder: { user: 'bob', since: '2024-01-01T10:00:00Z' }
        });
      })
    });
    make(client);
    const state = await keeper.open(workspace());
    expect(state.mode).toBe('read-only');
    expect(state.reason).toBe('in-use');
    expect(state.holder).toEqual({
      user: 'bob',
      since: '2024-01-01T10:00:00Z'
    });
    expect(state.path).toBe('workspaces/e-1');
    expect(keeper.contains('workspaces/e-1/notebook.ipynb')).toBe(true);
    expect(keeper.contains('/workspaces/e-1')).toBe(true);
    expect(keeper.contains('workspaces/e-10')).toBe(false);
    await jest.advanceTimersByTimeAsync(60000);
    expect(client.heartbeat).not.toHaveBeenCalled();
  });

  it('throws other open errors and stays closed', async () => {
    const client = mockClient({
      openWorkspace: jest.fn(async () => {
        throw new ApiError(403, 'AccessDenied', 'Not allowed');
      })
    });
    make(client);
    await expect(keeper.open(workspace())).rejects.toThrow('Not allowed');
    expect(keeper.state.mode).toBe('closed');
  });

  it('backs off on heartbeat errors, up to the interval, then recovers', async () => {
    const client = mockClient();
    make(client);
    await keeper.open(workspace());
    client.heartbeat.mockImplementation(async () => {
      throw new ApiError(0, 'NetworkError', 'The server could not be reached');
    });

    await jest.advanceTimersByTimeAsync(30000);
    expect(client.heartbeat).toHaveBeenCalledTimes(1);
    expect(keeper.failures).toBe(1);
    expect(keeper.state.mode).toBe('editing');
    expect(keeper.state.heartbeatError?.message).toBe(
      'The server could not be reached'
    );

    // Retries after 2 s, then 4 s, then 8 s…
    await jest.advanceTimersByTimeAsync(2000);
    expect(client.heartbeat).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(3999);
    expect(client.heartbeat).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(client.heartbeat).toHaveBeenCalledTimes(3);
    await jest.advanceTimersByTimeAsync(8000);
    expect(client.heartbeat).toHaveBeenCalledTimes(4);
    expect(keeper.retryDelay(10)).toBe(30000);

    client.heartbeat.mockImplementation(async () => ({}));
    await jest.advanceTimersByTimeAsync(16000);
    expect(client.heartbeat).toHaveBeenCalledTimes(5);
    expect(keeper.failures).toBe(0);
    expect(keeper.state.heartbeatError).toBeNull();
    // Back to the normal interval.
    await jest.advanceTimersByTimeAsync(29999);
    expect(client.heartbeat).toHaveBeenCalledTimes(5);
    await jest.advanceTimersByTimeAsync(1);
    expect(client.heartbeat).toHaveBeenCalledTimes(6);
  });

  it('switches to read-only when the lease is lost', async () => {
    const client = mockClient();
    make(client);
    await keeper.open(workspace());
    client.heartbeat.mockImplementation(async () => {
      throw new ApiError(409, 'LeaseLost', 'bob took over churn', {
        holder: { user: 'bob', since: 'now' }
      });
    });
    const lost = jest.fn();
    keeper.leaseLost.connect((_, state) => lost(state.mode, state.reason));

    await jest.advanceTimersByTimeAsync(30000);
    expect(lost).toHaveBeenCalledWith('read-only', 'lease-lost');
    expect(keeper.state.mode).toBe('read-only');
    expect(keeper.state.lease).toBeNull();
    expect(keeper.state.holder).toEqual({ user: 'bob', since: 'now' });

    // No more heartbeats, and closing does not call the server.
    await jest.advanceTimersByTimeAsync(120000);
    expect(client.heartbeat).toHaveBeenCalledTimes(1);
    await keeper.close();
    expect(client.closeWorkspace).not.toHaveBeenCalled();
    expect(keeper.state.mode).toBe('closed');
  });

  it('releases the lease on close and stops heartbeating', async () => {
    const client = mockClient();
    make(client);
    await keeper.open(workspace());
    const modes: string[] = [];
    keeper.stateChanged.connect((_, state) => modes.push(state.mode));
    await keeper.close();
    expect(client.closeWorkspace).toHaveBeenCalledWith('e-1', 'tok');
    expect(modes).toEqual(['closing', 'closed']);
    await jest.advanceTimersByTimeAsync(90000);
    expect(client.heartbeat).not.toHaveBeenCalled();
  });

  it('keeps the lease when closing fails, and says why', async () => {
    const client = mockClient({
      closeWorkspace: jest.fn(async () => {
        throw new ApiError(500, 'BackupFailed', 'Could not flush the backups');
      })
    });
    make(client);
    await keeper.open(workspace());
    await expect(keeper.close()).rejects.toThrow('Could not flush the backups');
    expect(keeper.state.mode).toBe('editing');
    await jest.advanceTimersByTimeAsync(30000);
    expect(client.heartbeat).toHaveBeenCalledTimes(1);
  });

  it('closes the Workspace open before when opening another', async () => {
    const client = mockClient();
    make(client);
    await keeper.open(workspace());
    await keeper.open(workspace({ id: 'e-2', path: 'workspaces/e-2' }));
    expect(client.closeWorkspace).toHaveBeenCalledWith('e-1', 'tok');
    expect(client.openWorkspace).toHaveBeenLastCalledWith('e-2');
  });

  it('releases the lease with a keepalive request when the page unloads', async () => {
    const client = mockClient();
    make(client);
    await keeper.open(workspace());
    target.dispatchEvent(new Event('beforeunload'));
    expect(client.closeWorkspace).toHaveBeenCalledWith('e-1', 'tok', {
      keepalive: true
    });
    expect(keeper.state.mode).toBe('closed');
    // Only once, even if pagehide follows.
    target.dispatchEvent(new Event('pagehide'));
    expect(client.closeWorkspace).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(60000);
    expect(client.heartbeat).not.toHaveBeenCalled();
  });

  it('releases the lease when disposed', async () => {
    const client = mockClient();
    make(client);
    await keeper.open(workspace());
    keeper.dispose();
    expect(client.closeWorkspace).toHaveBeenCalledWith('e-1', 'tok', {
      keepalive: true
    });
  });
});

describe('BackupMonitor', () => {
  it('follows the open Workspace and backs up now', async () => {
    const client = mockClient();
    const monitor = new BackupMonitor({ client, standby: 'never' });
    monitor.watch('e-1');
    await monitor.refresh();
    expect(client.getBackupStatus).toHaveBeenCalledWith('e-1');
    expect(monitor.status?.pending).toEqual(['a.ipynb']);

    const status = await monitor.backupNow();
    expect(client.backupNow).toHaveBeenCalledWith('e-1');
    expect(status?.last_backup_at).toBe('2024-01-01T00:00:00Z');
    expect(monitor.status?.pending).toEqual([]);
    expect(monitor.busy).toBe(false);

    monitor.watch(null);
    expect(monitor.status).toBeNull();
    await expect(monitor.backupNow()).resolves.toBeNull();
    monitor.dispose();
  });

  it('keeps the error of a failed backup and rethrows it', async () => {
    const client = mockClient({
      backupNow: jest.fn(async () => {
        throw new ApiError(502, 'S3Error', 'Access denied to s3://bucket');
      })
    });
    const monitor = new BackupMonitor({ client, standby: 'never' });
    monitor.watch('e-1');
    await expect(monitor.backupNow()).rejects.toThrow(
      'Access denied to s3://bucket'
    );
    expect(monitor.error?.message).toBe('Access denied to s3://bucket');
    monitor.dispose();
  });

  it('tells a store that is away from a failed backup', async () => {
    const client = mockClient({
      getBackupStatus: jest.fn(async () => {
        throw new ApiError(
          503,
          'StoreUnavailable',
          "The Studio's store s3://bucket/prefix is unavailable"
        );
      })
    });
    const monitor = new BackupMonitor({ client, standby: 'never' });
    monitor.watch('e-1');
    await monitor.refresh();
    expect(monitor.storeUnavailable?.message).toContain('s3://bucket/prefix');
    monitor.dispose();
  });
});

describe('ActivityModel', () => {
  it('shows an operation while it runs', async () => {
    const activity = new ActivityModel();
    let finish!: (value: number) => void;
    const promise = activity.track(
      'Attaching…',
      new Promise<number>(resolve => (finish = resolve))
    );
    expect(activity.items.map(i => i.label)).toEqual(['Attaching…']);
    finish(3);
    await expect(promise).resolves.toBe(3);
    expect(activity.items).toEqual([]);
    await expect(
      activity.track('Failing…', Promise.reject(new Error('no')))
    ).rejects.toThrow('no');
    expect(activity.items).toEqual([]);
  });
});

describe('WorkspaceListModel.canOn', () => {
  it("prefers the Workspace's own permissions to the Studio's", async () => {
    const model = new WorkspaceListModel({
      client: mockClient(),
      frontendVersion: '0.1.0',
      autoStart: false,
      standby: 'never'
    });
    await model.refresh();
    const mine = workspace({
      permissions: { 'elasticmapreduce:DeleteEditor': true }
    });
    const theirs = workspace({
      permissions: { 'elasticmapreduce:AttachEditor': false }
    });
    // The Studio refuses DeleteEditor; this Workspace's tags allow it.
    expect(model.canOn(mine, 'elasticmapreduce:DeleteEditor')).toBe(true);
    expect(model.canOn(theirs, 'elasticmapreduce:DeleteEditor')).toBe(false);
    expect(model.canOn(theirs, 'elasticmapreduce:AttachEditor')).toBe(false);
    expect(model.canOn(null, 'elasticmapreduce:AttachEditor')).toBe(true);
    model.dispose();
  });
});
