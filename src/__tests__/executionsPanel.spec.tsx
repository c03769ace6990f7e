import { nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { INotebookExecution } from '../api';
import { ExecutionCommandIDs } from '../executions';
import {
  durationText,
  ExecutionsModel,
  ExecutionsSection
} from '../executionsPanel';

const trans = nullTranslator.load('jupyter_emr_workspace');

function execution(
  overrides: Partial<INotebookExecution> = {}
): INotebookExecution {
  return {
    id: 'ex-1',
    workspace_id: 'e-1',
    relative_path: 'etl/daily.ipynb',
    name: 'daily',
    status: 'RUNNING',
    created_by: 'alice',
    created_at: '2026-11-30T12:00:00Z',
    parameters: {},
    output: {},
    output_folder: 's3://b/p/e-1/executions/ex-1/',
    ...overrides
  };
}

/** A client whose listing answers the next page of `pages` (the last one repeats). */
function listing(pages: INotebookExecution[][]) {
  const listExecutions = jest.fn(async () => ({
    executions: pages.length > 1 ? pages.shift()! : pages[0],
    next_token: null
  }));
  return { listExecutions } as any;
}

/** Let the model's awaited request settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

describe('ExecutionsModel', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('asks nothing while hidden or with no Workspace open', async () => {
    const client = listing([[execution()]]);
    const model = new ExecutionsModel({ client, interval: 1000 });
    model.workspaceId = 'e-1';
    await settle();
    jest.advanceTimersByTime(10000);
    expect(client.listExecutions).not.toHaveBeenCalled();
    model.workspaceId = null;
    model.visible = true;
    await settle();
    expect(client.listExecutions).not.toHaveBeenCalled();
    model.dispose();
  });

  it("lists the open Workspace's executions when shown, and polls while one runs", async () => {
    const client = listing([
      [execution({ status: 'RUNNING' })],
      [execution({ status: 'RUNNING' })],
      [execution({ status: 'FINISHED', duration_seconds: 12 })]
    ]);
    const model = new ExecutionsModel({ client, interval: 1000 });
    model.workspaceId = 'e-1';
    model.visible = true;
    await settle();
    expect(client.listExecutions).toHaveBeenCalledWith({
      workspace_id: 'e-1',
      limit: 50
    });
    expect(model.active).toBe(true);
    jest.advanceTimersByTime(1000);
    await settle();
    expect(client.listExecutions).toHaveBeenCalledTimes(2);
    jest.advanceTimersByTime(1000);
    await settle();
    expect(client.listExecutions).toHaveBeenCalledTimes(3);
    expect(model.executions[0].status).toBe('FINISHED');
    // All ended: no more polling.
    jest.advanceTimersByTime(10000);
    await settle();
    expect(client.listExecutions).toHaveBeenCalledTimes(3);
    model.dispose();
  });

  it('stops polling when hidden, and refreshes once shown again', async () => {
    const client = listing([[execution({ status: 'RUNNING' })]]);
    const model = new ExecutionsModel({ client, interval: 1000 });
    model.workspaceId = 'e-1';
    model.visible = true;
    await settle();
    model.visible = false;
    jest.advanceTimersByTime(10000);
    await settle();
    expect(client.listExecutions).toHaveBeenCalledTimes(1);
    model.visible = true;
    await settle();
    expect(client.listExecutions).toHaveBeenCalledTimes(2);
    model.dispose();
  });

  it('starts polling when a submitted execution is added to an ended list', async () => {
    const client = listing([
      [execution({ status: 'FINISHED' })],
      [execution({ id: 'ex-2', status: 'FINISHED' })]
    ]);
    const model = new ExecutionsModel({ client, interval: 1000 });
    model.workspaceId = 'e-1';
    model.visible = true;
    await settle();
    model.add(execution({ id: 'ex-2', status: 'START_PENDING' }));
    expect(model.executions.map(ex => ex.id)).toEqual(['ex-2', 'ex-1']);
    jest.advanceTimersByTime(1000);
    await settle();
    expect(client.listExecutions).toHaveBeenCalledTimes(2);
    // An execution of another Workspace is not shown.
    model.add(execution({ id: 'ex-3', workspace_id: 'e-9' }));
    expect(model.executions.map(ex => ex.id)).not.toContain('ex-3');
    model.dispose();
  });

  it("keeps a failed listing's error and retries only while something is known to run", async () => {
    const client = {
      listExecutions: jest.fn(async () => {
        throw new Error('store away');
      })
    } as any;
    const model = new ExecutionsModel({ client, interval: 1000 });
    model.workspaceId = 'e-1';
    model.visible = true;
    await settle();
    expect(model.error?.message).toBe('store away');
    jest.advanceTimersByTime(5000);
    await settle();
    // Nothing known to run: it waits for the next show or refresh.
    expect(client.listExecutions).toHaveBeenCalledTimes(1);
    model.dispose();
  });
});

describe('durationText', () => {
  it("reads the server's duration, or the time running so far", () => {
    expect(durationText({ duration_seconds: 5 })).toBe('5s');
    expect(durationText({ duration_seconds: 125 })).toBe('2m 5s');
    expect(durationText({ duration_seconds: 3720 })).toBe('1h 2m');
    expect(
      durationText(
        { started_at: '2026-11-30T12:00:00Z', ended_at: null },
        Date.parse('2026-11-30T12:00:30Z')
      )
    ).toBe('30s');
    expect(durationText({})).toBe('');
  });
});

describe('ExecutionsSection', () => {
  async function render(model: ExecutionsModel, commands: CommandRegistry) {
    const widget = ReactWidget.create(
      <ExecutionsSection model={model} commands={commands} trans={trans} />
    );
    Widget.attach(widget, document.body);
    for (let i = 0; i < 50 && !widget.node.querySelector('li'); i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    return widget;
  }

  it('shows each execution with its status and the buttons that apply', async () => {
    const client = listing([
      [
        execution({ id: 'ex-run', status: 'RUNNING' }),
        execution({
          id: 'ex-done',
          status: 'FINISHED',
          output_format: 'both',
          duration_seconds: 65,
          output: { notebook: 's3://x/a.ipynb', html: 's3://x/a.html' }
        }),
        execution({
          id: 'ex-bad',
          status: 'FAILED',
          error: { cell_number: 3, ename: 'NameError', evalue: 'x' }
        })
      ]
    ]);
    const model = new ExecutionsModel({ client, interval: 60000 });
    model.workspaceId = 'e-1';
    model.visible = true;
    await settle();
    const ran: [string, unknown][] = [];
    const commands = new CommandRegistry();
    for (const id of [
      ExecutionCommandIDs.stop,
      ExecutionCommandIDs.rerun,
      ExecutionCommandIDs.openOutput
    ]) {
      commands.addCommand(id, { execute: args => void ran.push([id, args]) });
    }
    const widget = await render(model, commands);
    const item = (id: string) =>
      widget.node.querySelector(`[data-execution-id="${id}"]`)!;
    const buttons = (id: string) =>
      Array.from(item(id).querySelectorAll('button')).map(b => b.textContent);
    expect(item('ex-run').textContent).toContain('RUNNING');
    expect(buttons('ex-run')).toEqual(['Stop']);
    expect(buttons('ex-done')).toEqual(['Output', 'HTML', 'Run again']);
    expect(item('ex-done').textContent).toContain('1m 5s');
    expect(item('ex-bad').textContent).toContain('Cell 3: NameError: x');
    (item('ex-run').querySelector('button') as HTMLButtonElement).click();
    (
      item('ex-done').querySelectorAll('button')[1] as HTMLButtonElement
    ).click();
    expect(ran).toEqual([
      [ExecutionCommandIDs.stop, { id: 'ex-run' }],
      [ExecutionCommandIDs.openOutput, { id: 'ex-done', format: 'html' }]
    ]);
    widget.dispose();
    model.dispose();
  });

  it('is absent while no Workspace is open', async () => {
    const model = new ExecutionsModel({ client: listing([[]]) });
    const widget = ReactWidget.create(
      <ExecutionsSection
        model={model}
        commands={new CommandRegistry()}
        trans={trans}
      />
    );
    Widget.attach(widget, document.body);
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(widget.node.querySelector('section')).toBeNull();
    widget.dispose();
    model.dispose();
  });
});
