import { Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { INotebookExecution, IWorkspace } from '../api';
import {
  addExecutionCommands,
  ExecutionCommandIDs,
  formValues,
  IExecutionDeps,
  outputPath,
  relativeToWorkspace,
  RunParametersBody,
  runToolbarButton
} from '../executions';
import { ExecutionsModel } from '../executionsPanel';
import { ApiError } from '../handler';

const trans = nullTranslator.load('jupyter_emr_workspace');

const WORKSPACE = {
  id: 'e-1',
  name: 'sales',
  path: 'workspaces/e-1'
} as IWorkspace;

function execution(
  overrides: Partial<INotebookExecution> = {}
): INotebookExecution {
  return {
    id: 'ex-1',
    workspace_id: 'e-1',
    relative_path: 'etl/daily.ipynb',
    name: 'daily',
    status: 'START_PENDING',
    created_by: 'alice',
    created_at: '2026-11-30T12:00:00Z',
    parameters: { n: 42 },
    output: {},
    output_folder: 's3://b/p/e-1/executions/ex-1/',
    output_path: 'executions/ex-1/',
    ...overrides
  };
}

const NOTEBOOK = {
  cells: [
    {
      cell_type: 'code',
      metadata: { tags: ['parameters'] },
      source: 'n = 1\nday = "mon"'
    }
  ]
};

function setUp(
  options: {
    mode?: string;
    files?: Record<string, unknown>;
    client?: Record<string, jest.Mock>;
    ask?: jest.Mock;
    canOn?: boolean;
  } = {}
) {
  const commands = new CommandRegistry();
  const opened: string[] = [];
  commands.addCommand('docmanager:open', {
    execute: args => {
      opened.push(String(args.path));
    }
  });
  const client: any = {
    startExecution: jest.fn(async (request: any) =>
      execution({ id: 'ex-2', ...request })
    ),
    stopExecution: jest.fn(async (id: string) =>
      execution({ id, status: 'STOP_PENDING' })
    ),
    listExecutions: jest.fn(async () => ({ executions: [], next_token: null })),
    ...options.client
  };
  const files = options.files ?? {
    'workspaces/e-1/etl/daily.ipynb': NOTEBOOK
  };
  const contents = {
    get: jest.fn(async (path: string) => {
      if (!(path in files)) {
        throw new Error(`no ${path}`);
      }
      return { content: files[path] };
    })
  };
  const keeper: any = {
    state: {
      mode: options.mode ?? 'editing',
      workspace: WORKSPACE,
      path: 'workspaces/e-1'
    }
  };
  const executions = new ExecutionsModel({ client });
  executions.workspaceId = 'e-1';
  const reported: [string, unknown][] = [];
  const ask =
    options.ask ??
    jest.fn(async () => ({
      parameters: { n: 42, day: 'tue' },
      output_format: 'both' as const
    }));
  const shown = jest.fn();
  const deps: IExecutionDeps = {
    client,
    keeper,
    executions,
    trans,
    contents,
    currentPath: () => 'workspaces/e-1/etl/daily.ipynb',
    selectedPath: () => 'workspaces/e-1/other.ipynb',
    showExecutions: shown,
    canOn: () => options.canOn ?? true,
    report: (what, error) => reported.push([what, error]),
    ask
  };
  const disposable = addExecutionCommands(commands, deps);
  return {
    commands,
    client,
    contents,
    executions,
    reported,
    ask,
    shown,
    opened,
    keeper,
    dispose: () => {
      disposable.dispose();
      executions.dispose();
    }
  };
}

describe('Run with Parameters…', () => {
  let success: jest.SpyInstance;
  beforeEach(() => {
    success = jest.spyOn(Notification, 'success').mockReturnValue('');
  });
  afterEach(() => jest.restoreAllMocks());

  it("asks with the parameters cell's values and submits them for the notebook of the open Workspace", async () => {
    const t = setUp();
    const result = await t.commands.execute(ExecutionCommandIDs.run, {});
    expect(t.ask).toHaveBeenCalledWith(trans, 'etl/daily.ipynb', [
      { name: 'n', kind: 'number', value: 1 },
      { name: 'day', kind: 'string', value: 'mon' }
    ]);
    expect(t.client.startExecution).toHaveBeenCalledWith({
      workspace_id: 'e-1',
      relative_path: 'etl/daily.ipynb',
      parameters: { n: 42, day: 'tue' },
      output_format: 'both'
    });
    expect((result as INotebookExecution).id).toBe('ex-2');
    // The toast names the execution and leads to the Executions section.
    const [message, toast] = success.mock.calls[0];
    expect(message).toContain('ex-2');
    toast.actions[0].callback(new Event('click'));
    expect(t.shown).toHaveBeenCalled();
    // ... where the new execution is shown at once.
    expect(t.executions.executions.map(ex => ex.id)).toEqual(['ex-2']);
    t.dispose();
  });

  it("runs the file browser's selection from its context menu", async () => {
    const t = setUp({
      files: { 'workspaces/e-1/other.ipynb': { cells: [] } }
    });
    await t.commands.execute(ExecutionCommandIDs.run, { from: 'browser' });
    expect(t.client.startExecution).toHaveBeenCalledWith(
      expect.objectContaining({ relative_path: 'other.ipynb' })
    );
    t.dispose();
  });

  it('is not offered for a notebook outside the open Workspace, or with no Workspace open', () => {
    const t = setUp();
    const outside = { path: 'elsewhere/e-1/a.ipynb' };
    expect(t.commands.isVisible(ExecutionCommandIDs.run, outside)).toBe(false);
    expect(t.commands.isEnabled(ExecutionCommandIDs.run, outside)).toBe(false);
    expect(
      t.commands.isEnabled(ExecutionCommandIDs.run, {
        path: 'workspaces/e-10/a.ipynb'
      })
    ).toBe(false);
    expect(
      t.commands.isEnabled(ExecutionCommandIDs.run, {
        path: 'workspaces/e-1/notes.txt'
      })
    ).toBe(false);
    expect(t.commands.isEnabled(ExecutionCommandIDs.run, {})).toBe(true);
    t.keeper.state = { mode: 'closed', workspace: null, path: null };
    expect(t.commands.isVisible(ExecutionCommandIDs.run, {})).toBe(false);
    t.dispose();
  });

  it('is disabled where the user may not StartNotebookExecution', () => {
    const t = setUp({ canOn: false });
    expect(t.commands.isVisible(ExecutionCommandIDs.run, {})).toBe(true);
    expect(t.commands.isEnabled(ExecutionCommandIDs.run, {})).toBe(false);
    t.dispose();
  });

  it('submits nothing when the dialog is cancelled', async () => {
    const t = setUp({ ask: jest.fn(async () => null) });
    await t.commands.execute(ExecutionCommandIDs.run, {});
    expect(t.client.startExecution).not.toHaveBeenCalled();
    t.dispose();
  });

  it("reports the server's refusal naming the notebook", async () => {
    const refusal = new ApiError(409, 'NoCluster', 'not attached');
    const t = setUp({
      client: {
        startExecution: jest.fn(async () => {
          throw refusal;
        })
      }
    });
    await t.commands.execute(ExecutionCommandIDs.run, {});
    expect(t.reported).toEqual([['Could not run etl/daily.ipynb:', refusal]]);
    expect(success).not.toHaveBeenCalled();
    t.dispose();
  });
});

describe('the notebook toolbar button', () => {
  afterEach(() => jest.restoreAllMocks());

  it('runs its own notebook, and is hidden while that notebook is not in the open Workspace', async () => {
    const t = setUp({
      files: { 'workspaces/e-1/renamed.ipynb': NOTEBOOK }
    });
    jest.spyOn(Notification, 'success').mockReturnValue('');
    const pathChanged = new Signal<any, string>({});
    const context = { path: 'elsewhere/a.ipynb', pathChanged };
    const button = runToolbarButton(t.commands, context, trans);
    expect(button.isHidden).toBe(true);
    context.path = 'workspaces/e-1/renamed.ipynb';
    pathChanged.emit(context.path);
    expect(button.isHidden).toBe(false);
    // The current widget is another notebook: the button still runs its own.
    button.onClick();
    await new Promise(resolve => setTimeout(resolve, 20));
    expect(t.client.startExecution).toHaveBeenCalledWith(
      expect.objectContaining({ relative_path: 'renamed.ipynb' })
    );
    // Closing the Workspace hides it.
    t.keeper.state = { mode: 'closed', workspace: null, path: null };
    t.commands.notifyCommandChanged();
    expect(button.isHidden).toBe(true);
    button.dispose();
    t.dispose();
  });
});

describe('execution buttons', () => {
  beforeEach(() => {
    jest.spyOn(Notification, 'success').mockReturnValue('');
  });
  afterEach(() => jest.restoreAllMocks());

  it('Stop asks the server and shows STOP_PENDING', async () => {
    const t = setUp();
    t.executions.add(execution({ status: 'RUNNING' }));
    await t.commands.execute(ExecutionCommandIDs.stop, { id: 'ex-1' });
    expect(t.client.stopExecution).toHaveBeenCalledWith('ex-1');
    expect(t.executions.executions[0].status).toBe('STOP_PENDING');
    t.dispose();
  });

  it('Run again submits the same notebook, parameters, format and cluster', async () => {
    const t = setUp();
    t.executions.add(
      execution({
        status: 'FAILED',
        output_format: 'html',
        cluster: { type: 'emr-ec2', id: 'j-1', endpoint_id: null }
      })
    );
    await t.commands.execute(ExecutionCommandIDs.rerun, { id: 'ex-1' });
    expect(t.client.startExecution).toHaveBeenCalledWith({
      workspace_id: 'e-1',
      relative_path: 'etl/daily.ipynb',
      name: 'daily',
      parameters: { n: 42 },
      output_format: 'html',
      cluster: { type: 'emr-ec2', id: 'j-1' }
    });
    t.dispose();
  });

  it("opens the output from the Workspace's executions folder once it is there", async () => {
    const t = setUp({
      files: {
        'workspaces/e-1/executions/ex-1/daily.ipynb': {},
        'workspaces/e-1/executions/ex-1/daily.html': ''
      }
    });
    t.executions.add(execution({ status: 'FINISHED' }));
    await t.commands.execute(ExecutionCommandIDs.openOutput, { id: 'ex-1' });
    await t.commands.execute(ExecutionCommandIDs.openOutput, {
      id: 'ex-1',
      format: 'html'
    });
    expect(t.opened).toEqual([
      'workspaces/e-1/executions/ex-1/daily.ipynb',
      'workspaces/e-1/executions/ex-1/daily.html'
    ]);
    t.dispose();
  });

  it('says where the output is while it is not in the Workspace yet, and opens nothing', async () => {
    const info = jest.spyOn(Notification, 'info').mockReturnValue('');
    const t = setUp({ files: {} });
    t.executions.add(execution({ status: 'FINISHED' }));
    await t.commands.execute(ExecutionCommandIDs.openOutput, { id: 'ex-1' });
    expect(t.opened).toEqual([]);
    expect(info.mock.calls[0][0]).toContain('s3://b/p/e-1/executions/ex-1/');
    t.dispose();
  });
});

describe('helpers', () => {
  it('relativeToWorkspace keeps only paths inside the Workspace folder', () => {
    expect(
      relativeToWorkspace('workspaces/e-1', '/workspaces/e-1/a/b.ipynb')
    ).toBe('a/b.ipynb');
    expect(
      relativeToWorkspace('workspaces/e-1', 'workspaces/e-10/b.ipynb')
    ).toBeNull();
    expect(relativeToWorkspace('workspaces/e-1', 'workspaces/e-1')).toBeNull();
    expect(relativeToWorkspace(null, 'workspaces/e-1/b.ipynb')).toBeNull();
  });

  it('outputPath is <root>/executions/<id>/<stem>.<format>', () => {
    expect(
      outputPath(
        'workspaces/e-1',
        execution({ relative_path: 'a/b/c.ipynb' }),
        'html'
      )
    ).toBe('workspaces/e-1/executions/ex-1/c.html');
  });

  it('formValues refuses a field that is not a value of its kind', () => {
    const parameters = [
      { name: 'n', kind: 'number' as const, value: 1 },
      { name: 's', kind: 'string' as const, value: 'x' }
    ];
    expect(
      formValues(parameters, {
        texts: { n: 'ten', s: 'y' },
        output_format: 'ipynb'
      })
    ).toBe('n: "ten" is not a number');
    expect(
      formValues(parameters, {
        texts: { n: '10', s: 'y' },
        output_format: 'html'
      })
    ).toEqual({ parameters: { n: 10, s: 'y' }, output_format: 'html' });
  });

  it('the form shows each parameter with its current value, and the output choice', async () => {
    const body = new RunParametersBody(
      trans,
      [
        { name: 'n', kind: 'number', value: 1 },
        { name: 'flag', kind: 'boolean', value: true }
      ],
      { texts: { n: '1', flag: 'true' }, output_format: 'ipynb' },
      'n: bad'
    );
    Widget.attach(body, document.body);
    body.update();
    await new Promise(resolve => setTimeout(resolve, 50));
    const input = body.node.querySelector(
      'input[name="n"]'
    ) as HTMLInputElement;
    expect(input.value).toBe('1');
    const flag = body.node.querySelector(
      'select[name="flag"]'
    ) as HTMLSelectElement;
    expect(flag.value).toBe('true');
    const format = body.node.querySelector(
      'select[name="output_format"]'
    ) as HTMLSelectElement;
    expect(Array.from(format.options).map(o => o.value)).toEqual([
      'ipynb',
      'html',
      'both'
    ]);
    expect(body.node.querySelector('[role="alert"]')?.textContent).toBe(
      'n: bad'
    );
    body.dispose();
  });
});
