import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import { framePromise, sleep } from '@jupyterlab/testing';

import { IWorkspace } from '../api';
import { ActivityModel, LeaseKeeper, WorkspaceListModel } from '../models';
import { EmrWorkspacePanel, stateText } from '../panel';
import { backupText } from '../status';

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

function client(permissions: Record<string, boolean>, list: IWorkspace[]) {
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
      autosave_interval: 60
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
    closeWorkspace: jest.fn(async () => undefined)
  } as any;
}

async function render(
  permissions: Record<string, boolean>,
  list: IWorkspace[]
) {
  const c = client(permissions, list);
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
  return { panel, model, keeper };
}

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
    expect(item.textContent).toContain('Cluster: local');
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
});
