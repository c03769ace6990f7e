import { Dialog, Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { IDisposable } from '@lumino/disposable';

import { IStudio, IWorkspace } from '../api';
import {
  addCommands,
  errorReporter,
  PALETTE_COMMANDS,
  TOAST_MESSAGE_LENGTH,
  workspaceCommand
} from '../commands';
import { ApiError } from '../handler';
import {
  ActivityModel,
  BackupMonitor,
  LeaseKeeper,
  WorkspaceListModel
} from '../models';
import { ATTACH_WITH_ROLE } from '../serverless';
import { CommandIDs } from '../tokens';

const trans = nullTranslator.load('jupyter_emr_workspace');

function studio(overrides: Partial<IStudio> = {}): IStudio {
  return {
    id: 'es-1',
    name: 'Analytics',
    description: '',
    auth_mode: 'IAM',
    version: '0.1.0',
    user: { name: 'alice', groups: ['data'] },
    permissions: {},
    backup_uri: 's3://bucket/prefix/',
    lease_seconds: 90,
    heartbeat_seconds: 30,
    autosave_interval: 60,
    ...overrides
  };
}

function workspace(overrides: Partial<IWorkspace> = {}): IWorkspace {
  return {
    id: 'e-1',
    name: 'sales-analysis',
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

/** A client whose every method the commands use is a jest mock. */
function mockClient(overrides: Record<string, jest.Mock> = {}): any {
  return {
    getStudio: jest.fn(async () => studio()),
    listWorkspaces: jest.fn(async () => [workspace()]),
    getWorkspace: jest.fn(async (id: string) => workspace({ id })),
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
    closeWorkspace: jest.fn(async () => undefined),
    heartbeat: jest.fn(async () => ({
      lease: { expires_at: '2099-01-01T00:01:30Z' }
    })),
    getBackupStatus: jest.fn(async () => ({
      last_backup_at: null,
      pending: [],
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
    deleteWorkspace: jest.fn(async (id: string) => ({
      id,
      delete_notebooks: false,
      backups_kept: true
    })),
    forceRelease: jest.fn(async () => undefined),
    attach: jest.fn(async () => {
      throw new ApiError(409, 'Conflict', 'Cluster j-1 is TERMINATED');
    }),
    ...overrides
  };
}

/** The plugin's commands on a fresh registry, with real models. */
async function setUp(client = mockClient(), confirmDialogs = false) {
  const commands = new CommandRegistry();
  const model = new WorkspaceListModel({
    client,
    frontendVersion: '0.1.0',
    autoStart: false
  });
  await model.refresh();
  const keeper = new LeaseKeeper({ client, target: null });
  const backup = new BackupMonitor({ client });
  // As the plugin wires them: the monitor follows the Workspace being edited.
  keeper.stateChanged.connect((_, state) =>
    backup.watch(state.mode === 'editing' ? state.workspace!.id : null)
  );
  const browser = {
    id: 'filebrowser',
    model: {
      path: '',
      cd: jest.fn(async (path: string) => {
        browser.model.path = path.replace(/^\/+/, '');
      })
    }
  };
  const running: any[] = [];
  const sessions = {
    refreshRunning: jest.fn(async () => undefined),
    running: () => running,
    shutdown: jest.fn(async (id: string) => {
      running.splice(
        running.findIndex(s => s.id === id),
        1
      );
    })
  };
  const shell = {
    activateById: jest.fn(),
    widgets: () => [][Symbol.iterator]()
  };
  const reported: string[] = [];
  const added = addCommands(
    { commands, shell: shell as any, serviceManager: { sessions } },
    {
      client,
      model,
      keeper,
      backup,
      activity: new ActivityModel(),
      trans,
      settings: { confirmDialogs },
      panelId: 'jp-emr-workspace-panel',
      browser,
      report: (what, error) =>
        reported.push(
          `${what} ${error instanceof Error ? error.message : String(error)}`
        )
    }
  );
  cleanup.push(added, model, keeper, backup);
  return {
    commands,
    client,
    model,
    keeper,
    browser,
    shell,
    sessions,
    running,
    reported,
    added
  };
}

const cleanup: IDisposable[] = [];
afterEach(() => {
  for (const item of cleanup.splice(0)) {
    item.dispose();
  }
  Notification.manager.dismiss();
  Dialog.flush();
});

/** The dialog once it shows `text` (lazy imports make it come late). */
async function dialogShowing(text: string): Promise<HTMLElement> {
  for (;;) {
    const node = document.querySelector<HTMLElement>('.jp-Dialog');
    if (node?.textContent?.includes(text)) {
      return node;
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

/** Click the dialog's button labelled `label`. */
function press(dialog: HTMLElement, label: string): void {
  const button = [
    ...dialog.querySelectorAll<HTMLButtonElement>('.jp-Dialog-button')
  ].find(b => b.textContent === label);
  expect(button).toBeDefined();
  button!.click();
}

/** The messages of the toasts shown so far. */
const toasts = () => Notification.manager.notifications.map(n => n.message);

describe('errorReporter', () => {
  const report = errorReporter(trans);
  beforeEach(() => jest.spyOn(console, 'error').mockImplementation(() => {}));
  afterEach(() => jest.restoreAllMocks());

  it('shows a short error whole in its toast', () => {
    report('Could not attach "w" to app:', new Error('It is TERMINATED'));
    const [toast] = Notification.manager.notifications;
    expect(toast.message).toBe('Could not attach "w" to app: It is TERMINATED');
    expect(toast.options.actions ?? []).toEqual([]);
  });

  it('gives a long one, which its toast cuts, a Details button showing it whole', async () => {
    // The server says why at the end: a toast would show only "...not one of the ro…".
    const why =
      'execution role arn:aws:iam::123456789012:role/finance-exec is not one of the roles offered to alice (c.Studio.execution_roles)';
    const what = 'Could not attach "quarterly-analysis" to analytics:';
    expect(`${what} ${why}`.length).toBeGreaterThan(TOAST_MESSAGE_LENGTH);
    report(what, new ApiError(403, 'ExecutionRoleRefused', why));
    const [toast] = Notification.manager.notifications;
    expect(toast.message).toBe(`${what} ${why}`);
    const [details] = toast.options.actions ?? [];
    expect(details.label).toBe('Details');
    details.callback(new MouseEvent('click'));
    const dialog = await dialogShowing(why);
    expect(dialog.textContent).toContain('(c.Studio.execution_roles)');
    press(dialog, 'Close');
  });
});

describe('workspaceCommand', () => {
  const report = jest.fn();
  beforeEach(() => report.mockReset());

  it('runs on the Workspace it finds and returns what the work returns', async () => {
    const execute = workspaceCommand({
      find: () => workspace(),
      run: async ws => ws.name,
      failure: () => 'failed',
      report
    });
    expect(await execute({})).toBe('sales-analysis');
    expect(report).not.toHaveBeenCalled();
  });

  it('does nothing when there is no Workspace to act on', async () => {
    const run = jest.fn();
    const execute = workspaceCommand({
      find: () => null,
      run,
      failure: () => 'failed',
      report
    });
    expect(await execute({})).toBeUndefined();
    expect(run).not.toHaveBeenCalled();
    expect(report).not.toHaveBeenCalled();
  });

  it('reports a failed run naming the Workspace, and never rethrows', async () => {
    const error = new Error('store away');
    const execute = workspaceCommand({
      find: async () => workspace(),
      run: async () => {
        throw error;
      },
      failure: ws => `Could not do it to "${ws?.name}":`,
      report
    });
    await expect(execute({})).resolves.toBeUndefined();
    expect(report).toHaveBeenCalledWith(
      'Could not do it to "sales-analysis":',
      error
    );
  });

  it('reports a Workspace that cannot be found', async () => {
    const error = new ApiError(404, 'NotFound', 'No Workspace e-9');
    const execute = workspaceCommand({
      find: async () => {
        throw error;
      },
      run: jest.fn(),
      failure: ws => `Could not open ${ws?.name ?? 'the Workspace'}:`,
      report
    });
    await execute({ id: 'e-9' });
    expect(report).toHaveBeenCalledWith('Could not open the Workspace:', error);
  });
});

describe('addCommands', () => {
  it('registers every command, and removes them all when disposed', async () => {
    const { commands, added } = await setUp();
    const ids = Object.values(CommandIDs);
    expect(ids.length).toBe(13);
    for (const id of ids) {
      expect(commands.hasCommand(id)).toBe(true);
    }
    for (const id of PALETTE_COMMANDS) {
      expect(ids).toContain(id);
    }
    expect(commands.hasCommand(ATTACH_WITH_ROLE)).toBe(true);
    added.dispose();
    for (const id of ids) {
      expect(commands.hasCommand(id)).toBe(false);
    }
    expect(commands.hasCommand(ATTACH_WITH_ROLE)).toBe(false);
  });

  it('shows the side panel by its id', async () => {
    const { commands, shell } = await setUp();
    await commands.execute(CommandIDs.showPanel);
    expect(shell.activateById).toHaveBeenCalledWith('jp-emr-workspace-panel');
  });
});

describe('open', () => {
  it('is labelled with the Workspace name, not its id', async () => {
    const { commands } = await setUp();
    expect(commands.label(CommandIDs.open, { id: 'e-1' })).toBe(
      'Open EMR Workspace sales-analysis'
    );
  });

  it('takes the lease, says what was restored and shows the folder', async () => {
    const { commands, client, keeper, browser, shell } = await setUp();
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    expect(client.openWorkspace).toHaveBeenCalledWith('e-1');
    expect(keeper.state.mode).toBe('editing');
    expect(toasts()).toContain(
      'Opened "sales-analysis"; restored 2 files from its backups.'
    );
    expect(browser.model.cd).toHaveBeenCalledWith('/workspaces/e-1');
    expect(shell.activateById).toHaveBeenCalledWith('filebrowser');
  });

  it('opens read-only, naming the holder, when someone else holds it', async () => {
    const client = mockClient({
      openWorkspace: jest.fn(async () => {
        throw new ApiError(423, 'WorkspaceInUse', 'in use', {
          holder: { user: 'bob' }
        });
      })
    });
    const { commands, keeper } = await setUp(client);
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    expect(keeper.state.mode).toBe('read-only');
    expect(toasts()).toContain(
      '"sales-analysis" is in use by bob: opened read-only.'
    );
  });

  it('reports a failure to open instead of throwing', async () => {
    const client = mockClient({
      openWorkspace: jest.fn(async () => {
        throw new ApiError(
          503,
          'StoreUnavailable',
          'The store s3://bucket is unreachable'
        );
      })
    });
    const { commands, keeper, reported } = await setUp(client);
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    expect(keeper.state.mode).toBe('closed');
    expect(reported).toEqual([
      'Could not open the Workspace: The store s3://bucket is unreachable'
    ]);
  });

  it('does nothing without an id', async () => {
    const { commands, client } = await setUp();
    await commands.execute(CommandIDs.open, {});
    expect(client.openWorkspace).not.toHaveBeenCalled();
  });
});

describe('close', () => {
  it('is enabled only while a Workspace is open', async () => {
    const { commands } = await setUp();
    expect(commands.isEnabled(CommandIDs.close)).toBe(false);
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    expect(commands.isEnabled(CommandIDs.close)).toBe(true);
  });

  it('releases the lease and leaves the folder', async () => {
    const { commands, client, keeper, browser } = await setUp();
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    await commands.execute(CommandIDs.close);
    expect(client.closeWorkspace).toHaveBeenCalledWith('e-1', 'tok');
    expect(keeper.state.mode).toBe('closed');
    expect(browser.model.path).toBe('');
  });

  it('reports a release that failed, naming the Workspace, and keeps it', async () => {
    const client = mockClient({
      closeWorkspace: jest.fn(async () => {
        throw new ApiError(503, 'StoreUnavailable', 'Backups unreachable');
      })
    });
    const { commands, keeper, reported } = await setUp(client);
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    await commands.execute(CommandIDs.close);
    expect(keeper.state.mode).toBe('editing');
    expect(reported).toEqual([
      'Could not close "sales-analysis": Backups unreachable'
    ]);
  });
});

describe('delete', () => {
  it('names the exact backup location of that Workspace in the dialog and the toast', async () => {
    const { commands, client, model } = await setUp();
    const done = commands.execute(CommandIDs.deleteWorkspace, { id: 'e-1' });
    press(await dialogShowing('sales-analysis'), 'Delete');
    await done;
    expect(client.deleteWorkspace).toHaveBeenCalledWith('e-1', {
      deleteNotebooks: false
    });
    expect(model.workspace('e-1')).toBeUndefined();
    expect(toasts()).toContain(
      'Deleted Workspace "sales-analysis"; its backups stay in s3://bucket/prefix/e-1/.'
    );
  });

  it('shows the location in the dialog before anything is deleted', async () => {
    const { commands, client } = await setUp();
    const done = commands.execute(CommandIDs.deleteWorkspace, { id: 'e-1' });
    const dialog = await dialogShowing('Delete the Workspace');
    expect(dialog.textContent).toContain('s3://bucket/prefix/e-1/');
    expect(dialog.textContent).toContain('"sales-analysis"');
    press(dialog, 'Cancel');
    await done;
    expect(client.deleteWorkspace).not.toHaveBeenCalled();
  });

  it('shuts down the kernels in its folder first, and no other', async () => {
    const { commands, client, running, sessions } = await setUp();
    running.push(
      {
        id: 's-in',
        path: 'workspaces/e-1/a.ipynb',
        name: 'a',
        type: 'notebook'
      },
      {
        id: 's-out',
        path: 'workspaces/e-10/b.ipynb',
        name: 'b',
        type: 'notebook'
      }
    );
    client.deleteWorkspace.mockImplementation(async (id: string) => {
      // Nothing may still run in the folder when the server removes it.
      expect(running.map(s => s.id)).toEqual(['s-out']);
      return { id, delete_notebooks: false };
    });
    const done = commands.execute(CommandIDs.deleteWorkspace, { id: 'e-1' });
    press(await dialogShowing('sales-analysis'), 'Delete');
    await done;
    expect(sessions.shutdown).toHaveBeenCalledTimes(1);
    expect(sessions.shutdown).toHaveBeenCalledWith('s-in');
    expect(client.deleteWorkspace).toHaveBeenCalled();
  });

  it('is disabled where the policy denies it', async () => {
    const client = mockClient({
      getStudio: jest.fn(async () =>
        studio({ permissions: { 'elasticmapreduce:DeleteEditor': false } })
      )
    });
    const { commands } = await setUp(client);
    expect(commands.isEnabled(CommandIDs.deleteWorkspace, { id: 'e-1' })).toBe(
      false
    );
  });
});

describe('force release', () => {
  it('releases without asking when confirmations are off', async () => {
    const { commands, client } = await setUp();
    await commands.execute(CommandIDs.forceRelease, { id: 'e-1' });
    expect(client.forceRelease).toHaveBeenCalledWith('e-1');
    expect(toasts()).toContain('Released "sales-analysis".');
  });

  it('asks first when confirmations are on, and a cancel releases nothing', async () => {
    const { commands, client } = await setUp(mockClient(), true);
    const done = commands.execute(CommandIDs.forceRelease, { id: 'e-1' });
    press(await dialogShowing('sales-analysis'), 'Cancel');
    await done;
    expect(client.forceRelease).not.toHaveBeenCalled();
  });
});

describe('attach, detach and back up', () => {
  it('need an open Workspace', async () => {
    const { commands, client } = await setUp();
    expect(commands.isEnabled(CommandIDs.attach, { clusterId: 'j-1' })).toBe(
      false
    );
    expect(commands.isEnabled(CommandIDs.backupNow)).toBe(false);
    await commands.execute(CommandIDs.backupNow);
    expect(client.backupNow).not.toHaveBeenCalled();
    expect(toasts()).toContain('Open a Workspace you can edit first.');
  });

  it('report a refused attach naming the Workspace and the cluster', async () => {
    const { commands, reported } = await setUp();
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    await commands.execute(CommandIDs.attach, {
      type: 'emr-ec2',
      clusterId: 'j-1'
    });
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatch(
      /^Could not attach "sales-analysis" to .*j-1.*: Cluster j-1 is TERMINATED$/
    );
  });

  it('pass the chosen execution role to the server', async () => {
    const { commands, client } = await setUp();
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    await commands.execute(CommandIDs.attach, {
      type: 'emr-serverless',
      clusterId: '00app',
      executionRoleArn: 'arn:aws:iam::1:role/analytics'
    });
    expect(client.attach).toHaveBeenCalledWith('e-1', {
      type: 'emr-serverless',
      cluster_id: '00app',
      endpoint_id: undefined,
      execution_role_arn: 'arn:aws:iam::1:role/analytics'
    });
  });

  it('follow the cluster attached to through its start', async () => {
    const client = mockClient({
      attach: jest.fn(async () => ({
        ...workspace(),
        attachment: { type: 'emr-serverless', cluster_id: '00app' }
      }))
    });
    const { commands, model } = await setUp(client);
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    const follow = jest.spyOn(model, 'follow');
    const listed = client.listClusters.mock.calls.length;
    await commands.execute(CommandIDs.attach, {
      type: 'emr-serverless',
      clusterId: '00app',
      executionRoleArn: 'arn:aws:iam::1:role/analytics'
    });
    expect(follow).toHaveBeenCalledWith('emr-serverless', '00app');
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(client.listClusters.mock.calls.length).toBeGreaterThan(listed);
  });

  it('report the files a backup missed', async () => {
    const client = mockClient({
      backupNow: jest.fn(async () => ({
        last_backup_at: null,
        pending: [],
        failed: [{ path: 'a.ipynb', error: 'AccessDenied' }],
        conflicts: [],
        last_error: null
      }))
    });
    const { commands, reported } = await setUp(client);
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    await commands.execute(CommandIDs.backupNow);
    expect(reported).toEqual([
      'Some files of "sales-analysis" were not backed up: a.ipynb: AccessDenied'
    ]);
  });
});

describe('share and detach', () => {
  it('share names who it was shared with and who was skipped', async () => {
    const client = mockClient({
      openWorkspace: jest.fn(async () => ({
        workspace: workspace({
          collaboration: { enabled: true, collaborators: ['user:bob'] }
        }),
        lease: {
          token: 'tok',
          generation: 1,
          expires_at: '2099-01-01T00:00:00Z'
        },
        path: 'workspaces/e-1'
      })),
      shareWorkspace: jest.fn(async () => ({
        shared_with: ['bob'],
        skipped: [{ principal: 'group:ops', reason: 'no such group' }]
      }))
    });
    const { commands } = await setUp(client);
    expect(commands.isEnabled(CommandIDs.share)).toBe(false);
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    expect(commands.isEnabled(CommandIDs.share)).toBe(true);
    await commands.execute(CommandIDs.share);
    expect(client.shareWorkspace).toHaveBeenCalledWith('e-1');
    expect(toasts()).toEqual(
      expect.arrayContaining([
        'Shared "sales-analysis" with bob.',
        'Could not share "sales-analysis" with: group:ops (no such group)'
      ])
    );
  });

  it('detach updates the Workspace open in this tab', async () => {
    const attached = workspace({
      attachment: { type: 'local', cluster_id: 'local' } as any
    });
    const client = mockClient({
      openWorkspace: jest.fn(async () => ({
        workspace: attached,
        lease: {
          token: 'tok',
          generation: 1,
          expires_at: '2099-01-01T00:00:00Z'
        },
        path: 'workspaces/e-1'
      })),
      detach: jest.fn(async () => workspace())
    });
    const { commands, keeper, model } = await setUp(client);
    await commands.execute(CommandIDs.open, { id: 'e-1' });
    expect(commands.isEnabled(CommandIDs.detach)).toBe(true);
    await commands.execute(CommandIDs.detach);
    expect(client.detach).toHaveBeenCalledWith('e-1');
    expect(keeper.state.workspace?.attachment).toBeNull();
    expect(model.workspace('e-1')?.attachment).toBeNull();
    expect(commands.isEnabled(CommandIDs.detach)).toBe(false);
  });
});
