import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import {
  EmrWorkspaceClient,
  FINAL_EXECUTION_STATUSES,
  INotebookExecution
} from './api';
import { ExecutionCommandIDs } from './executions';

/**
 * The executions of the Workspace open in this tab, newest first.
 *
 * It polls only while it is `visible` (the panel is shown) and some execution
 * is not finished: a panel of ended executions costs the server nothing.
 */
export class ExecutionsModel implements IDisposable {
  constructor(options: ExecutionsModel.IOptions) {
    this.client = options.client;
    this.interval = options.interval ?? 5000;
  }

  readonly client: EmrWorkspaceClient;
  /** Milliseconds between polls while something runs. */
  interval: number;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get executions(): INotebookExecution[] {
    return this._executions;
  }

  get error(): Error | null {
    return this._error;
  }

  get loading(): boolean {
    return this._loading;
  }

  get workspaceId(): string | null {
    return this._workspaceId;
  }

  /** The Workspace whose executions are shown (null: none open). */
  set workspaceId(id: string | null) {
    if (id === this._workspaceId) {
      return;
    }
    this._workspaceId = id;
    this._executions = [];
    this._error = null;
    this._changed.emit();
    void this.refresh();
  }

  get visible(): boolean {
    return this._visible;
  }

  set visible(visible: boolean) {
    if (visible === this._visible) {
      return;
    }
    this._visible = visible;
    if (visible) {
      void this.refresh();
    } else {
      this._clearTimer();
    }
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Whether some execution shown has not ended. */
  get active(): boolean {
    return this._executions.some(
      ex => !FINAL_EXECUTION_STATUSES.has(ex.status)
    );
  }

  /**
   * Fetch the Workspace's executions now (only while visible), then poll
   * again if one is still going.
   */
  async refresh(): Promise<void> {
    this._clearTimer();
    const id = this._workspaceId;
    if (this._disposed || !id || !this._visible) {
      return;
    }
    this._loading = true;
    this._changed.emit();
    try {
      const page = await this.client.listExecutions({
        workspace_id: id,
        limit: 50
      });
      if (id !== this._workspaceId) {
        return;
      }
      this._executions = page.executions;
      this._error = null;
    } catch (error) {
      if (id === this._workspaceId) {
        this._error = error instanceof Error ? error : new Error(String(error));
      }
    } finally {
      this._loading = false;
      if (!this._disposed) {
        this._changed.emit();
        this._schedule();
      }
    }
  }

  /**
   * Show an execution the user just submitted or stopped (replacing its older
   * copy), and poll while it runs.
   */
  add(execution: INotebookExecution): void {
    if (execution.workspace_id !== this._workspaceId) {
      return;
    }
    const others = this._executions.filter(ex => ex.id !== execution.id);
    const index = this._executions.findIndex(ex => ex.id === execution.id);
    this._executions =
      index < 0
        ? [execution, ...others]
        : this._executions.map(ex => (ex.id === execution.id ? execution : ex));
    this._changed.emit();
    if (!this._timer) {
      this._schedule();
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._clearTimer();
    Signal.clearData(this);
  }

  private _schedule(): void {
    this._clearTimer();
    if (this._visible && this._workspaceId && this.active) {
      this._timer = setTimeout(() => {
        this._timer = null;
        void this.refresh();
      }, this.interval);
    }
  }

  private _clearTimer(): void {
    if (this._timer) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _changed = new Signal<this, void>(this);
  private _executions: INotebookExecution[] = [];
  private _error: Error | null = null;
  private _loading = false;
  private _workspaceId: string | null = null;
  private _visible = false;
  private _disposed = false;
  private _timer: ReturnType<typeof setTimeout> | null = null;
}

export namespace ExecutionsModel {
  export interface IOptions {
    client: EmrWorkspaceClient;
    interval?: number;
  }
}

/**
 * How long an execution ran (or has been running), as `1h 2m`, `3m 4s`, `5s`.
 */
export function durationText(
  execution: Pick<
    INotebookExecution,
    'duration_seconds' | 'started_at' | 'ended_at'
  >,
  now: number = Date.now()
): string {
  let seconds = execution.duration_seconds ?? null;
  if (seconds === null && execution.started_at && !execution.ended_at) {
    const start = new Date(execution.started_at).getTime();
    seconds = isNaN(start) ? null : Math.max(0, (now - start) / 1000);
  }
  if (seconds === null) {
    return '';
  }
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

/** The statuses Stop applies to (not ended, no stop asked yet). */
const STOPPABLE = new Set(['START_PENDING', 'STARTING', 'RUNNING']);

function useModel(model: ExecutionsModel): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setTick(tick => tick + 1);
    model.changed.connect(bump);
    bump();
    return () => {
      model.changed.disconnect(bump);
    };
  }, [model]);
}

/**
 * The panel's Executions section: the open Workspace's executions with their
 * status, duration, outputs, and Stop / Run again.
 */
export function ExecutionsSection(props: {
  model: ExecutionsModel;
  commands: CommandRegistry;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { model, commands, trans } = props;
  useModel(model);
  if (!model.workspaceId) {
    return null;
  }
  const run = (id: string, args: Record<string, string>) =>
    void commands.execute(id, args);
  return (
    <section
      className="jp-EmrWorkspace-section jp-EmrWorkspace-executions"
      aria-labelledby="jp-EmrWorkspace-executionsHeading"
      id="jp-EmrWorkspace-executions"
    >
      <div className="jp-EmrWorkspace-sectionHeader">
        <h3 id="jp-EmrWorkspace-executionsHeading">{trans.__('Executions')}</h3>
        <button
          type="button"
          className="jp-EmrWorkspace-iconButton"
          onClick={() => void model.refresh()}
          aria-label={trans.__('Refresh executions')}
          title={trans.__('Refresh executions')}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      {model.error && (
        <div className="jp-EmrWorkspace-error" role="alert">
          {model.error.message}
        </div>
      )}
      {model.executions.length === 0 && !model.error && (
        <div className="jp-EmrWorkspace-empty">
          {model.loading
            ? trans.__('Loading executions…')
            : trans.__(
                'No executions yet: run a notebook with "Run with Parameters…".'
              )}
        </div>
      )}
      <ul aria-labelledby="jp-EmrWorkspace-executionsHeading">
        {model.executions.map(ex => {
          const ended = FINAL_EXECUTION_STATUSES.has(ex.status);
          const format = ex.output_format ?? 'ipynb';
          const hasNotebook =
            !!ex.output?.notebook || (ended && format !== 'html');
          const hasHtml = !!ex.output?.html;
          return (
            <li
              key={ex.id}
              className="jp-EmrWorkspace-item jp-EmrWorkspace-execution"
              data-execution-id={ex.id}
            >
              <div className="jp-EmrWorkspace-itemHeader">
                <span className="jp-EmrWorkspace-itemName" title={ex.id}>
                  {ex.relative_path}
                </span>
                <span
                  className={`jp-EmrWorkspace-state jp-mod-${ex.status.toLowerCase().replace(/_/g, '-')}`}
                >
                  {ex.status}
                </span>
              </div>
              <div className="jp-EmrWorkspace-itemMeta">
                <span>{ex.id}</span> <span>{durationText(ex)}</span>
              </div>
              {(ex.reason || ex.error) && (
                <div className="jp-EmrWorkspace-reason">
                  {ex.error?.ename
                    ? trans.__(
                        'Cell %1: %2: %3',
                        ex.error.cell_number ?? ex.error.cell_index ?? '?',
                        ex.error.ename,
                        ex.error.evalue ?? ''
                      )
                    : ex.reason}
                </div>
              )}
              <div className="jp-EmrWorkspace-actions">
                {hasNotebook && (
                  <ActionButton
                    label={trans.__('Output')}
                    onClick={() =>
                      run(ExecutionCommandIDs.openOutput, {
                        id: ex.id,
                        format: 'ipynb'
                      })
                    }
                  />
                )}
                {hasHtml && (
                  <ActionButton
                    label={trans.__('HTML')}
                    onClick={() =>
                      run(ExecutionCommandIDs.openOutput, {
                        id: ex.id,
                        format: 'html'
                      })
                    }
                  />
                )}
                {STOPPABLE.has(ex.status) && (
                  <ActionButton
                    label={trans.__('Stop')}
                    warn
                    onClick={() => run(ExecutionCommandIDs.stop, { id: ex.id })}
                  />
                )}
                {ended && (
                  <ActionButton
                    label={trans.__('Run again')}
                    onClick={() =>
                      run(ExecutionCommandIDs.rerun, { id: ex.id })
                    }
                  />
                )}
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** One of an execution's action buttons (the panel's styled button). */
function ActionButton(props: {
  label: string;
  onClick: () => void;
  warn?: boolean;
}): JSX.Element {
  const warn = props.warn ? ' jp-mod-warn' : '';
  return (
    <button
      type="button"
      className={`jp-mod-styled${warn} jp-EmrWorkspace-button`}
      onClick={props.onClick}
    >
      {props.label}
    </button>
  );
}
