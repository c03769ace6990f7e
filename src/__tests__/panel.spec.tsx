import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import { framePromise, sleep } from '@jupyterlab/testing';

import { IStudio, IWorkspace } from '../api';
import { ApiError } from '../handler';
import {
  ActivityModel,
  BackupMonitor,
  LeaseKeeper,
  WorkspaceListModel
} from '../models';
import { EmrWorkspacePanel, stateText } from '../panel';
import { backupText, WorkspaceStatus } from '../status';

const trans = nullTranslator.load('jupyter_emr_workspace');

/**
 * Wait until `condition` holds (React renders asynchronously).
 */
async function until(condition: () => boolean, timeout = 5000) {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeout) {
      return;
    }
    await sleep(10);
  }
}

function workspace(overrides: Partial<IWorkspace> = {}): IWorkspace {
  return {
    id: 'e-1',
    name: 'churn',
    description: 'Churn model',
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

function client(
  permissions: Record<string, boolean>,
  list: IWorkspace[],
  studio: Partial<IStudio> = {}
) {
  return {
    getStudio: jest.fn(async () => ({
      id: 'es-1',
      name: 'Analytics',
      version: '0.1.0',
      user: { name: 'alice', groups: [] },
      permissions,
      backup_uri: 's3://b/p',
      lease_seconds: 90,
      heartbeat_seconds: 30,
      autosave_interval: 60,
      ...studio
    })),
    listWorkspaces: jest.fn(async () => list),
    listClusters: jest.fn(async () => ({
      clusters: [
        {
          type: 'local',
          id: 'local',
          name: 'Local Spark',
          state: 'RUNNING',
          attachable: true
        },
        {
          type: 'emr-ec2',
          id: 'j-1',
          name: 'prod',
          state: 'WAITING',
          attachable: false,
          reason: 'Its subnet is not one of the Studio.'
        }
      ],
      errors: [{ source: 'emr-eks', message: 'AccessDeniedException' }]
    })),
    listTemplates: jest.fn(async () => []),
    openWorkspace: jest.fn(async (id: string) => ({
      workspace: list.find(w => w.id === id),
      lease: {
        token: 'tok',
        generation: 1,
        expires_at: '2999-01-01T00:00:00Z'
      },
      path: `workspaces/${id}`
    })),
    heartbeat: jest.fn(async () => ({})),
    closeWorkspace: jest.fn(async () => undefined),
    getBackupStatus: jest.fn(async () => ({
      last_backup_at: null,
      pending: [],
      failed: [],
      conflicts: [],
      last_error: null
    }))
  } as any;
}

async function render(
  permissions: Record<string, boolean>,
  list: IWorkspace[],
  studio: Partial<IStudio> = {}
) {
  const c = client(permissions, list, studio);
  const model = new WorkspaceListModel({
    client: c,
    frontendVersion: '0.1.0',
    autoStart: false,
    standby: 'never'
  });
  const keeper = new LeaseKeeper({ client: c, target: null });
  const panel = new EmrWorkspacePanel({
    model,
    keeper,
    activity: new ActivityModel(),
    commands: new CommandRegistry(),
    trans
  });
  Widget.attach(panel, document.body);
  await model.refresh();
  await model.refreshClusters();
  await framePromise();
  await until(() => !panel.node.textContent?.includes('Loading'));
  return { panel, model, keeper, client: c };
}

const BACKUPS_OFF = {
  enabled: false,
  // As the server words it (contents/choice.py).
  reason:
    "The server's contents manager is my_site.contents.CustomContentsManager, chosen by c.ServerApp.contents_manager_class or another extension, and it is not jupyter_emr_workspace.contents.WorkspaceContentsManager or a subclass of it. Workspace files are copied to s3://b/p only by the periodic scan: deleting or renaming a notebook leaves its backup behind, checkpoints stay on this server, and pending saves are not shown. Remove that setting (or set it to jupyter_emr_workspace.contents.WorkspaceContentsManager) to turn backups on.",
  contents_manager: 'my_site.contents.CustomContentsManager'
};

describe('EmrWorkspacePanel', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('lists Workspaces with their state, creator and cluster', async () => {
    const { panel, model } = await render({}, [
      workspace({
        lock: {
          holders: [{ user: 'bob', since: '2024-01-01T10:00:00Z' }],
          generation: 1
        },
        attachment: { type: 'local', cluster_id: 'local' }
      })
    ]);
    const item = panel.node.querySelector('[data-workspace-id="e-1"]')!;
    expect(item.textContent).toContain('churn');
    expect(item.textContent).toContain('Churn model');
    expect(item.textContent).toContain('Created by alice');
    expect(item.textContent).toContain('Cluster: Local Spark'); // its name, not its id
    expect(item.querySelector('.jp-EmrWorkspace-state')!.textContent).toMatch(
      /^In use by bob since /
    );
    expect(
      item.querySelector('button[aria-label="Open churn"]')
    ).not.toBeNull();
    panel.dispose();
    model.dispose();
  });

  it('hides what the permissions refuse', async () => {
    const { panel, model } = await render(
      {
        'elasticmapreduce:CreateEditor': false,
        'elasticmapreduce:DeleteEditor': false,
        'emr-workspace:ForceReleaseLock': false
      },
      [workspace()]
    );
    const text = panel.node.textContent!;
    expect(text).not.toContain('New Workspace');
    expect(
      panel.node.querySelector('button[aria-label="Delete churn"]')
    ).toBeNull();
    expect(
      panel.node.querySelector('button[aria-label="Open churn"]')
    ).not.toBeNull();
    panel.dispose();
    model.dispose();
  });

  it('groups clusters by source, with reasons and source errors', async () => {
    const { panel, model } = await render({}, []);
    // The Compute section renders after the Workspaces one; wait for it under load.
    await until(() => panel.node.querySelectorAll('h4').length >= 2, 20000);
    const headings = Array.from(panel.node.querySelectorAll('h4')).map(
      h => h.textContent
    );
    expect(headings).toEqual(['EMR on EC2', 'Local']);
    expect(panel.node.textContent).toContain(
      'Its subnet is not one of the Studio.'
    );
    expect(panel.node.textContent).toContain('emr-eks: AccessDeniedException');
    // No Workspace is open: attaching is disabled.
    const attach = panel.node.querySelector(
      'button[aria-label="Attach to Local Spark"]'
    ) as HTMLButtonElement;
    expect(attach.disabled).toBe(true);
    // ...and says why inline, tied to the button for screen readers.
    const why = document.getElementById(
      attach.getAttribute('aria-describedby') ?? ''
    );
    expect(why?.textContent).toBe(
      'Open a Workspace to attach it to a cluster.'
    );
    expect(panel.node.contains(why)).toBe(true);
    // The cluster's state in words a user knows, the raw one in the tooltip.
    const local = attach
      .closest('li')!
      .querySelector('.jp-EmrWorkspace-state')!;
    expect(local.textContent).toBe('ready');
    expect(local.getAttribute('title')).toBe('RUNNING');
    panel.dispose();
    model.dispose();
  }, 30000);

  it("groups a source it has never heard of under the server's label and words", async () => {
    const { panel, model, client: c } = await render({}, []);
    // A source added on the server (one module + one registry line): the
    // listing carries how to show it, the frontend has no entry for it.
    c.listClusters.mockResolvedValue({
      clusters: [
        {
          type: 'toy',
          id: 'toy-1',
          name: 'Toy one',
          state: 'HUMMING',
          attachable: true
        },
        {
          type: 'local',
          id: 'local',
          name: 'Local Spark',
          state: 'WAITING',
          attachable: true
        }
      ],
      errors: [],
      sources: [
        {
          type: 'toy',
          label: 'Toy clusters',
          states: { HUMMING: 'humming along' },
          attach_note: 'Toys run anywhere.'
        },
        { type: 'local', label: 'Local', states: {}, attach_note: '' }
      ]
    });
    await model.refreshClusters();
    await until(
      () => panel.node.textContent?.includes('Toy clusters') ?? false,
      20000
    );
    const headings = Array.from(panel.node.querySelectorAll('h4'));
    expect(headings.map(h => h.textContent)).toEqual(['Toy clusters', 'Local']);
    expect(headings[0].getAttribute('title')).toBe('Toys run anywhere.');
    const states = Array.from(
      panel.node.querySelectorAll('.jp-EmrWorkspace-state')
    ).map(s => s.textContent);
    // the served words win; where the server has none, EMR's words apply
    expect(states).toEqual(['humming along', 'ready']);
    panel.dispose();
    model.dispose();
  }, 30000);

  it('offers Share only on the open collaborative Workspace the permissions allow', async () => {
    const collaborative = { enabled: true, collaborators: ['user:bob'] };
    const { panel, model, keeper } = await render({}, [
      workspace({ collaboration: collaborative }),
      workspace({
        id: 'e-2',
        name: 'solo',
        path: 'workspaces/e-2'
      }),
      workspace({
        id: 'e-3',
        name: 'locked',
        path: 'workspaces/e-3',
        collaboration: collaborative,
        permissions: { 'elasticmapreduce:PutWorkspaceAccess': false }
      }),
      workspace({
        id: 'e-4',
        name: 'other',
        path: 'workspaces/e-4',
        collaboration: collaborative
      })
    ]);
    const share = (name: string) =>
      panel.node.querySelector(
        `button[aria-label="Share ${name} with collaborators"]`
      );
    // Nothing open yet: no Share anywhere.
    await until(() => !!panel.node.querySelector('[data-workspace-id="e-4"]'));
    expect(panel.node.querySelector('button[aria-label^="Share "]')).toBeNull();

    // Open and collaborative, permission allowed: shown.
    await keeper.open(model.workspace('e-1')!);
    await until(() => !!share('churn'), 20000);
    expect(share('churn')).not.toBeNull();
    // Collaborative but not open in this tab: hidden.
    expect(share('other')).toBeNull();

    // Open but collaboration off: hidden.
    await keeper.open(model.workspace('e-2')!);
    await until(
      () => !!panel.node.querySelector('button[aria-label="Close solo"]'),
      20000
    );
    expect(share('solo')).toBeNull();
    expect(share('churn')).toBeNull();

    // Open and collaborative, but the permission refuses: hidden.
    await keeper.open(model.workspace('e-3')!);
    await until(
      () => !!panel.node.querySelector('button[aria-label="Close locked"]'),
      20000
    );
    expect(share('locked')).toBeNull();

    keeper.dispose();
    panel.dispose();
    model.dispose();
  }, 30000);

  it('says without alarm that backups are off on this server, and why', async () => {
    const { panel, model } = await render({}, [workspace()], {
      backups: BACKUPS_OFF
    });
    await until(() => !!panel.node.querySelector('.jp-mod-backupsOff'));
    const notice = panel.node.querySelector('.jp-mod-backupsOff')!;
    expect(notice.getAttribute('role')).toBe('status');
    expect(notice.textContent).toContain('Backups are off on this server.');
    expect(notice.textContent).toContain(BACKUPS_OFF.reason);
    expect(notice.textContent).toContain(
      'Workspaces still open, lock and save on this server.'
    );
    expect(notice.getAttribute('title')).toContain(
      'my_site.contents.CustomContentsManager'
    );
    // Not an alarm: no alert says it (the Compute section's own errors aside).
    const alerts = Array.from(
      panel.node.querySelectorAll('[role="alert"]')
    ).map(e => e.textContent ?? '');
    expect(alerts.filter(text => /backup/i.test(text))).toEqual([]);
    panel.dispose();
    model.dispose();
  });

  it('says nothing about backups when they are on, or an older server does not say', async () => {
    for (const studio of [
      { backups: { enabled: true, reason: null, contents_manager: 'x.Y' } },
      {}
    ]) {
      const { panel, model } = await render({}, [workspace()], studio);
      await until(() => !!panel.node.querySelector('[data-workspace-id]'));
      expect(panel.node.querySelector('[data-workspace-id]')).not.toBeNull();
      expect(panel.node.querySelector('.jp-mod-backupsOff')).toBeNull();
      expect(panel.node.textContent).not.toContain('Backups are off');
      panel.dispose();
      model.dispose();
      document.body.innerHTML = '';
    }
  });

  it('names the store that is away and says work here is kept, not a generic error', async () => {
    const { panel, model, client: c } = await render({}, [workspace()]);
    c.listWorkspaces.mockImplementation(async () => {
      throw new ApiError(
        503,
        'StoreUnavailable',
        "The Studio's store s3://b/p is unavailable: connection refused. Nothing was changed; try again when it is reachable."
      );
    });
    await model.refresh();
    await until(() => !!panel.node.querySelector('.jp-mod-storeUnavailable'));
    const notice = panel.node.querySelector('.jp-mod-storeUnavailable')!;
    expect(notice.textContent).toContain(
      "The Studio's store cannot be reached."
    );
    expect(notice.textContent).toContain('s3://b/p is unavailable');
    expect(notice.textContent).toContain(
      'Work on this server is kept here and backed up when the store is back.'
    );
    expect(notice.textContent).toMatch(/Trying again at \d/);
    // Not the generic error box; the last list stays.
    const errors = Array.from(
      panel.node.querySelectorAll('.jp-EmrWorkspace-error')
    ).map(e => e.textContent);
    expect(errors.filter(text => text?.includes('s3://b/p'))).toEqual([]);
    expect(
      panel.node.querySelector('[data-workspace-id="e-1"]')
    ).not.toBeNull();

    // Back: the notice goes.
    c.listWorkspaces.mockImplementation(async () => [workspace()]);
    await model.refresh();
    await until(() => !panel.node.querySelector('.jp-mod-storeUnavailable'));
    expect(panel.node.querySelector('.jp-mod-storeUnavailable')).toBeNull();
    panel.dispose();
    model.dispose();
  });

  it('says a lease that cannot be renewed waits for the store, not a failure', async () => {
    const { panel, model, keeper, client: c } = await render({}, [workspace()]);
    await keeper.open(model.workspace('e-1')!);
    c.heartbeat.mockImplementation(async () => {
      throw new ApiError(
        503,
        'StoreUnavailable',
        "The Studio's store s3://b/p is unavailable"
      );
    });
    await keeper.heartbeat();
    await until(
      () =>
        !!panel.node.querySelector(
          '.jp-EmrWorkspace-current .jp-mod-storeUnavailable'
        )
    );
    const current = panel.node.querySelector('.jp-EmrWorkspace-current')!;
    expect(current.textContent).toContain(
      "The lease cannot be renewed while the store is away (The Studio's store s3://b/p is unavailable); retrying. Your work is kept on this server."
    );
    expect(current.querySelector('.jp-EmrWorkspace-error')).toBeNull();
    keeper.dispose();
    panel.dispose();
    model.dispose();
  });

  it('tells its model whether it is visible', async () => {
    const { panel, model } = await render({}, []);
    expect(model.visible).toBe(true);
    panel.hide();
    expect(model.visible).toBe(false);
    panel.show();
    expect(model.visible).toBe(true);
    Widget.detach(panel);
    expect(model.visible).toBe(false);
    panel.dispose();
    model.dispose();
  });

  it('shows only the version mismatch message', async () => {
    const c = client({}, []);
    c.getStudio.mockImplementation(async () => ({ version: '9.9.9' }));
    const model = new WorkspaceListModel({
      client: c,
      frontendVersion: '0.1.0',
      autoStart: false,
      standby: 'never'
    });
    const panel = new EmrWorkspacePanel({
      model,
      keeper: new LeaseKeeper({ client: c, target: null }),
      activity: new ActivityModel(),
      commands: new CommandRegistry(),
      trans
    });
    Widget.attach(panel, document.body);
    await model.refresh();
    await until(() => !!panel.node.textContent?.includes('do not match'));
    expect(panel.node.textContent).toBe(
      'jupyter-emr-workspace server extension 9.9.9 and frontend 0.1.0 do not match: reinstall the package and restart JupyterLab.'
    );
    panel.dispose();
    model.dispose();
  });
});

describe('texts', () => {
  it('describes free and collaborative Workspaces', () => {
    expect(stateText(workspace(), 'alice', trans)).toBe('Free');
    expect(
      stateText(
        workspace({
          collaboration: { enabled: true, collaborators: [] },
          lock: {
            holders: [
              { user: 'alice', since: 'x' },
              { user: 'bob', since: 'y' }
            ],
            generation: 1
          }
        }),
        'alice',
        trans
      )
    ).toBe('Collaborative, 2 editors');
  });

  it('summarises the backup state with its problems', () => {
    expect(backupText(null, null, trans).text).toBe('Backup: …');
    const summary = backupText(
      {
        last_backup_at: null,
        pending: ['a.ipynb', 'b.ipynb'],
        failed: [{ path: 'c.ipynb', error: 'AccessDenied' }],
        conflicts: [],
        last_error: null
      },
      null,
      trans
    );
    expect(summary.text).toBe('Not backed up yet · 2 pending · 1 failed');
    expect(summary.problem).toBe('c.ipynb: AccessDenied');
    expect(
      backupText(null, new Error('Store unreachable'), trans).problem
    ).toBe('Store unreachable');
  });

  it('says backups are off, or wait for the store, without calling it a failure', () => {
    const off = backupText(null, null, trans, BACKUPS_OFF);
    expect(off).toEqual({
      text: 'Backups off',
      problem: null,
      notice: BACKUPS_OFF.reason
    });
    const away = backupText(
      null,
      new ApiError(
        503,
        'StoreUnavailable',
        "The Studio's store s3://b/p is unavailable."
      ),
      trans
    );
    expect(away.text).toBe('Backups waiting: store unreachable');
    expect(away.problem).toBeNull();
    expect(away.notice).toContain('s3://b/p');
    expect(away.notice).toContain('backed up when the store is back');
  });
});

describe('WorkspaceStatus', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it("shows the backups' off state and hides Back up now", async () => {
    const c = client({}, [workspace()], { backups: BACKUPS_OFF });
    const model = new WorkspaceListModel({
      client: c,
      frontendVersion: '0.1.0',
      autoStart: false,
      standby: 'never'
    });
    await model.refresh();
    const keeper = new LeaseKeeper({ client: c, target: null });
    const backup = new BackupMonitor({ client: c, standby: 'never' });
    const status = new WorkspaceStatus({
      keeper,
      backup,
      model,
      commands: new CommandRegistry(),
      trans
    });
    Widget.attach(status, document.body);
    await keeper.open(workspace());
    backup.watch('e-1');
    await backup.refresh();
    await until(() => !!status.node.querySelector('[data-backups="off"]'));
    const state = status.node.querySelector('.jp-EmrWorkspace-statusBackup')!;
    expect(state.textContent).toBe('Backups off');
    expect(state.getAttribute('title')).toContain(BACKUPS_OFF.reason);
    expect(state.classList.contains('jp-mod-error')).toBe(false);
    expect(status.node.textContent).not.toContain('Back up now');
    status.dispose();
    backup.dispose();
    keeper.dispose();
    model.dispose();
  });
});
