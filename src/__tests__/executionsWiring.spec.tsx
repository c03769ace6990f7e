import { sleep } from '@jupyterlab/testing';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { ExecutionsModel } from '../executionsPanel';
import { ActivityModel, LeaseKeeper, WorkspaceListModel } from '../models';
import { EmrWorkspacePanel } from '../panel';

const trans = nullTranslator.load('jupyter_emr_workspace');

async function until(condition: () => boolean, timeout = 3000) {
  const start = Date.now();
  while (!condition() && Date.now() - start < timeout) {
    await sleep(10);
  }
}

function client(permissions: Record<string, boolean>) {
  return {
    serverSettings: {},
    getStudio: jest.fn(async () => ({
      id: 'es-1',
      name: 'Analytics',
      auth_mode: 'IAM',
      version: '0.1.0',
      user: { name: 'alice', groups: [] },
      permissions,
      backup_uri: 's3://b/p',
      lease_seconds: 90,
      heartbeat_seconds: 30,
      autosave_interval: 60
    })),
    listWorkspaces: jest.fn(async () => []),
    listClusters: jest.fn(async () => ({ clusters: [], errors: [] })),
    listTemplates: jest.fn(async () => []),
    listExecutions: jest.fn(async () => ({
      executions: [],
      next_token: null
    })),
    listSchedules: jest.fn(async () => [])
  } as any;
}

async function render(permissions: Record<string, boolean>) {
  const c = client(permissions);
  const model = new WorkspaceListModel({
    client: c,
    frontendVersion: '0.1.0',
    autoStart: false,
    standby: 'never'
  });
  const keeper = new LeaseKeeper({ client: c, target: null });
  const executions = new ExecutionsModel({ client: c });
  const panel = new EmrWorkspacePanel({
    model,
    keeper,
    activity: new ActivityModel(),
    commands: new CommandRegistry(),
    trans,
    executions
  });
  Widget.attach(panel, document.body);
  await model.refresh();
  executions.workspaceId = 'e-1';
  await until(() => !!panel.node.querySelector('.jp-EmrWorkspace-empty'));
  const dispose = () => {
    panel.dispose();
    keeper.dispose();
    model.dispose();
    executions.dispose();
  };
  return { panel, executions, client: c, dispose };
}

describe('the panel with executions', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('lets the executions poll only while the panel is shown', async () => {
    const { panel, executions, client: c, dispose } = await render({});
    expect(executions.visible).toBe(true);
    await until(() => c.listExecutions.mock.calls.length > 0);
    expect(c.listExecutions).toHaveBeenCalledWith({
      workspace_id: 'e-1',
      limit: 50
    });
    panel.hide();
    expect(executions.visible).toBe(false);
    panel.show();
    expect(executions.visible).toBe(true);
    Widget.detach(panel);
    expect(executions.visible).toBe(false);
    dispose();
  });

  it('shows the Executions and Schedules sections for the open Workspace', async () => {
    const { panel, client: c, dispose } = await render({});
    await until(() => c.listSchedules.mock.calls.length > 0);
    expect(
      panel.node.querySelector('#jp-EmrWorkspace-executionsHeading')
    ).not.toBeNull();
    expect(
      panel.node.querySelector('#jp-EmrWorkspace-schedulesHeading')
    ).not.toBeNull();
    expect(c.listSchedules).toHaveBeenCalledWith({ workspace_id: 'e-1' });
    dispose();
  });

  it('hides what the policies refuse', async () => {
    const {
      panel,
      client: c,
      dispose
    } = await render({
      'elasticmapreduce:ListNotebookExecutions': false,
      'emr-workspace:ManageSchedules': false
    });
    await sleep(50);
    expect(
      panel.node.querySelector('#jp-EmrWorkspace-executionsHeading')
    ).toBeNull();
    expect(
      panel.node.querySelector('#jp-EmrWorkspace-schedulesHeading')
    ).toBeNull();
    expect(c.listSchedules).not.toHaveBeenCalled();
    dispose();
  });
});
