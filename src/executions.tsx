import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, ToolbarButton } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { DisposableSet, IDisposable } from '@lumino/disposable';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import {
  Actions,
  EmrWorkspaceClient,
  INotebookExecution,
  IWorkspace,
  OutputFormat
} from './api';
import type { ExecutionsModel } from './executionsPanel';
import { LeaseKeeper } from './models';
import {
  INotebookParameter,
  notebookParameters,
  ParameterKind,
  textValue,
  valueText
} from './parameters';

/**
 * "Run with Parameters…" and what the Executions section's buttons run.
 */
export namespace ExecutionCommandIDs {
  export const run = 'emr-workspace:run-with-parameters';
  export const openOutput = 'emr-workspace:open-execution-output';
  export const stop = 'emr-workspace:stop-execution';
  export const rerun = 'emr-workspace:rerun-execution';
}

/**
 * What the execution commands act on (stand-ins in tests).
 */
export interface IExecutionDeps {
  client: EmrWorkspaceClient;
  keeper: LeaseKeeper;
  executions: ExecutionsModel;
  trans: TranslationBundle;
  /** Reads a file (server-root path) with its content; rejects when absent. */
  contents: {
    get(
      path: string,
      options?: { content?: boolean }
    ): Promise<{ content?: unknown }>;
  };
  /** The notebook the command is about when no `path` is given. */
  currentPath: () => string | null;
  /** The file browser's selected file (`from: 'browser'`: its context menu). */
  selectedPath?: () => string | null;
  /** Show the panel with the Executions section. */
  showExecutions: () => void;
  /** May the user run executions on this Workspace (its permissions). */
  canOn?: (workspace: IWorkspace, action: string) => boolean;
  report: (what: string, error: unknown) => void;
  /** Ask for the parameters (default: the dialog). */
  ask?: typeof runWithParametersDialog;
}

/**
 * Where a notebook (server-root path) is in the open Workspace, or null when
 * it is not in it.
 */
export function relativeToWorkspace(
  root: string | null,
  path: string
): string | null {
  const clean = (p: string) => p.replace(/^\/+|\/+$/g, '');
  const base = clean(root ?? '');
  const inner = clean(path);
  if (!base || !inner.startsWith(base + '/')) {
    return null;
  }
  return inner.slice(base.length + 1);
}

/**
 * The server-root path of an execution's output, in the Workspace's
 * `executions/<id>/` folder: `<notebook stem>.ipynb` or `.html`.
 */
export function outputPath(
  root: string,
  execution: Pick<INotebookExecution, 'id' | 'relative_path' | 'output_path'>,
  format: 'ipynb' | 'html'
): string {
  const name = execution.relative_path.split('/').pop() ?? '';
  const stem = name.replace(/\.ipynb$/, '');
  const folder = (execution.output_path ?? `executions/${execution.id}/`)
    .replace(/^\/+/, '')
    .replace(/\/?$/, '/');
  return `${root.replace(/\/+$/, '')}/${folder}${stem}.${format}`;
}

export function addExecutionCommands(
  commands: CommandRegistry,
  deps: IExecutionDeps
): IDisposable {
  const { client, keeper, executions, trans, report } = deps;
  const ask = deps.ask ?? runWithParametersDialog;
  const disposables = new DisposableSet();
  const open = () =>
    keeper.state.mode === 'editing' || keeper.state.mode === 'read-only'
      ? keeper.state.workspace
      : null;
  const target = (args: { path?: unknown; from?: unknown }) => {
    const path =
      typeof args.path === 'string' && args.path
        ? args.path
        : args.from === 'browser'
          ? (deps.selectedPath?.() ?? null)
          : deps.currentPath();
    return path && path.endsWith('.ipynb')
      ? relativeToWorkspace(keeper.state.path, path)
      : null;
  };

  const submitted = (execution: INotebookExecution) => {
    executions.add(execution);
    Notification.success(
      trans.__(
        'Execution %1 of %2 is queued.',
        execution.id,
        execution.relative_path
      ),
      {
        autoClose: 8000,
        actions: [
          {
            label: trans.__('Show Executions'),
            callback: () => deps.showExecutions()
          }
        ]
      }
    );
  };

  disposables.add(
    commands.addCommand(ExecutionCommandIDs.run, {
      label: trans.__('Run with Parameters…'),
      caption: trans.__(
        'Run this notebook of the open Workspace headless, with parameters'
      ),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            path: {
              type: 'string',
              description: trans.__('The notebook, from the server root')
            },
            from: {
              type: 'string',
              enum: ['browser'],
              description: trans.__(
                "'browser': the file browser's selection (else the current notebook)"
              )
            }
          }
        }
      },
      isVisible: args => !!open() && target(args) !== null,
      isEnabled: args => {
        const workspace = open();
        return (
          !!workspace &&
          target(args) !== null &&
          (deps.canOn?.(workspace, Actions.startExecution) ?? true)
        );
      },
      execute: async args => {
        const workspace = open();
        const relative = target(args);
        if (!workspace || !relative) {
          Notification.warning(
            trans.__('Choose a notebook of the open Workspace first.'),
            { autoClose: 5000 }
          );
          return;
        }
        const path = `${keeper.state.path}/${relative}`;
        try {
          const file = await deps.contents.get(path, { content: true });
          const parameters = notebookParameters(file.content);
          const values = await ask(trans, relative, parameters);
          if (!values) {
            return;
          }
          const execution = await client.startExecution({
            workspace_id: workspace.id,
            relative_path: relative,
            parameters: values.parameters,
            output_format: values.output_format
          });
          submitted(execution);
          return execution;
        } catch (error) {
          report(trans.__('Could not run %1:', relative), error);
        }
      }
    })
  );

  const byId = (args: { id?: unknown }) =>
    executions.executions.find(ex => ex.id === args.id) ?? null;
  const idArgs = {
    args: {
      type: 'object' as const,
      properties: { id: { type: 'string' } },
      required: ['id']
    }
  };

  disposables.add(
    commands.addCommand(ExecutionCommandIDs.stop, {
      label: trans.__('Stop Execution'),
      describedBy: idArgs,
      execute: async args => {
        const id = String(args.id ?? '');
        try {
          executions.add(await client.stopExecution(id));
        } catch (error) {
          report(trans.__('Could not stop execution %1:', id), error);
        }
      }
    })
  );

  disposables.add(
    commands.addCommand(ExecutionCommandIDs.rerun, {
      label: trans.__('Run Again'),
      describedBy: idArgs,
      execute: async args => {
        const previous = byId(args);
        if (!previous) {
          return;
        }
        try {
          const execution = await client.startExecution({
            workspace_id: previous.workspace_id,
            relative_path: previous.relative_path,
            name: previous.name,
            parameters: previous.parameters,
            output_format: previous.output_format,
            ...(previous.cluster
              ? {
                  cluster: {
                    type: previous.cluster.type,
                    id: previous.cluster.id,
                    ...(previous.cluster.endpoint_id
                      ? { endpoint_id: previous.cluster.endpoint_id }
                      : {})
                  }
                }
              : {})
          });
          submitted(execution);
          return execution;
        } catch (error) {
          report(
            trans.__('Could not run %1 again:', previous.relative_path),
            error
          );
        }
      }
    })
  );

  disposables.add(
    commands.addCommand(ExecutionCommandIDs.openOutput, {
      label: args =>
        args.format === 'html'
          ? trans.__('Open Output HTML')
          : trans.__('Open Output Notebook'),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            format: { type: 'string', enum: ['ipynb', 'html'] }
          },
          required: ['id']
        }
      },
      execute: async args => {
        const execution = byId(args);
        const root = keeper.state.path;
        if (!execution || !root) {
          return;
        }
        const format = args.format === 'html' ? 'html' : 'ipynb';
        const path = outputPath(root, execution, format);
        try {
          await deps.contents.get(path, { content: false });
        } catch {
          Notification.info(
            trans.__(
              'The output of %1 is in the Workspace backups (%2); it appears in %3 the next time the Workspace is opened.',
              execution.id,
              execution.output_folder,
              execution.output_path ?? `executions/${execution.id}/`
            ),
            { autoClose: 10000 }
          );
          return;
        }
        return commands.execute('docmanager:open', { path });
      }
    })
  );

  return disposables;
}

/**
 * The notebook toolbar's "Run with Parameters…": it runs its own notebook
 * (followed through renames), and is hidden where the command is.
 */
export function runToolbarButton(
  commands: CommandRegistry,
  context: { path: string; pathChanged: ISignal<any, string> },
  trans: TranslationBundle
): ToolbarButton {
  const args = () => ({ path: context.path });
  const button = new ToolbarButton({
    label: trans.__('Run with Parameters…'),
    tooltip: trans.__(
      'Run this notebook of the open Workspace headless, with parameters'
    ),
    onClick: () => void commands.execute(ExecutionCommandIDs.run, args())
  });
  const refresh = () =>
    button.setHidden(!commands.isVisible(ExecutionCommandIDs.run, args()));
  commands.commandChanged.connect(refresh);
  context.pathChanged.connect(refresh);
  button.disposed.connect(() => {
    commands.commandChanged.disconnect(refresh);
    context.pathChanged.disconnect(refresh);
  });
  refresh();
  return button;
}

// ---------------------------------------------------------------------------
// The "Run with Parameters…" dialog
// ---------------------------------------------------------------------------

export interface IRunValues {
  parameters: Record<string, unknown>;
  output_format: OutputFormat;
}

/** Python's own words for booleans (not translated: they are code). */
const PYTHON_TRUE = 'True';
const PYTHON_FALSE = 'False';

interface IFormState {
  texts: Record<string, string>;
  output_format: OutputFormat;
}

/**
 * The form: one field per parameter, with its current value, and the output
 * format.
 */
export class RunParametersBody extends ReactWidget {
  constructor(
    private trans: TranslationBundle,
    private parameters: INotebookParameter[],
    private state: IFormState,
    private errorMessage: string | null
  ) {
    super();
    this.addClass('jp-EmrWorkspace-form');
  }

  getValue(): IFormState {
    return this.state;
  }

  private setText(name: string, text: string): void {
    this.state = {
      ...this.state,
      texts: { ...this.state.texts, [name]: text }
    };
    this.update();
  }

  protected render(): JSX.Element {
    const { trans, parameters } = this;
    return (
      <div className="jp-EmrWorkspace-formFields">
        {this.errorMessage && (
          <p className="jp-EmrWorkspace-formError" role="alert">
            {this.errorMessage}
          </p>
        )}
        {parameters.length === 0 && (
          <p className="jp-EmrWorkspace-help">
            {trans.__(
              'This notebook has no cell tagged "parameters" with simple name = value lines: it runs as it is.'
            )}
          </p>
        )}
        {parameters.map(parameter => (
          <label key={parameter.name}>
            <code>{parameter.name}</code>
            {parameter.kind === 'boolean' ? (
              <select
                className="jp-mod-styled"
                name={parameter.name}
                value={this.state.texts[parameter.name]}
                onChange={e => this.setText(parameter.name, e.target.value)}
              >
                <option value="true">{PYTHON_TRUE}</option>
                <option value="false">{PYTHON_FALSE}</option>
              </select>
            ) : (
              <input
                className="jp-mod-styled"
                name={parameter.name}
                inputMode={parameter.kind === 'number' ? 'decimal' : undefined}
                title={kindText(parameter.kind, trans)}
                value={this.state.texts[parameter.name]}
                onChange={e => this.setText(parameter.name, e.target.value)}
              />
            )}
          </label>
        ))}
        <label>
          {trans.__('Output')}
          <select
            className="jp-mod-styled"
            name="output_format"
            value={this.state.output_format}
            onChange={e => {
              this.state = {
                ...this.state,
                output_format: e.target.value as OutputFormat
              };
              this.update();
            }}
          >
            <option value="ipynb">{trans.__('Notebook')}</option>
            <option value="html">{trans.__('HTML')}</option>
            <option value="both">{trans.__('Notebook and HTML')}</option>
          </select>
        </label>
      </div>
    );
  }
}

function kindText(kind: ParameterKind, trans: TranslationBundle): string {
  switch (kind) {
    case 'number':
      return trans.__('A number');
    case 'json':
      return trans.__('A JSON value (list, object or null)');
    default:
      return trans.__('Text');
  }
}

/**
 * The parameters a form state stands for, or the message of the first field
 * that is not a value of its kind.
 */
export function formValues(
  parameters: INotebookParameter[],
  state: IFormState
): IRunValues | string {
  const values: Record<string, unknown> = {};
  for (const parameter of parameters) {
    const value = textValue(parameter.kind, state.texts[parameter.name] ?? '');
    if (value instanceof Error) {
      return `${parameter.name}: ${value.message}`;
    }
    values[parameter.name] = value;
  }
  return { parameters: values, output_format: state.output_format };
}

/**
 * Ask for the parameters of a run until they are values, or the user cancels.
 */
export async function runWithParametersDialog(
  trans: TranslationBundle,
  relativePath: string,
  parameters: INotebookParameter[]
): Promise<IRunValues | null> {
  let state: IFormState = {
    texts: Object.fromEntries(
      parameters.map(p => [p.name, valueText(p.kind, p.value)])
    ),
    output_format: 'ipynb'
  };
  let error: string | null = null;
  for (;;) {
    const result = await showDialog<IFormState>({
      title: trans.__('Run %1 with parameters', relativePath),
      body: new RunParametersBody(trans, parameters, state, error),
      focusNodeSelector: 'input, select',
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Run') })
      ]
    });
    if (!result.button.accept || result.value === null) {
      return null;
    }
    state = result.value;
    const values = formValues(parameters, state);
    if (typeof values !== 'string') {
      return values;
    }
    error = values;
  }
}
