import { ReactWidget } from '@jupyterlab/apputils';
import { Time } from '@jupyterlab/coreutils';
import { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { backupsOf, IBackupsState, IBackupStatus } from './api';
import { isStoreUnavailable } from './handler';
import {
  BackupMonitor,
  ILeaseState,
  LeaseKeeper,
  WorkspaceListModel
} from './models';
import { CommandIDs } from './tokens';
import { attachmentName } from './words';

/**
 * One line about a backup status: last backup time, pending count, error.
 *
 * `notice` is set for states that are not failures but need saying: backups
 * off on this server (with the reason), or the store away (backups wait).
 */
export function backupText(
  status: IBackupStatus | null,
  error: Error | null,
  trans: TranslationBundle,
  backups: IBackupsState | null = null
): { text: string; problem: string | null; notice?: string } {
  if (backups && !backups.enabled) {
    return {
      text: trans.__('Backups off'),
      problem: null,
      notice:
        backups.reason ?? trans.__('This server does not back Workspaces up.')
    };
  }
  if (isStoreUnavailable(error)) {
    return {
      text: trans.__('Backups waiting: store unreachable'),
      problem: null,
      notice: trans.__(
        '%1 Files are kept on this server and backed up when the store is back.',
        error.message
      )
    };
  }
  if (error) {
    return {
      text: trans.__('Backup status unavailable'),
      problem: error.message
    };
  }
  if (!status) {
    return { text: trans.__('Backup: …'), problem: null };
  }
  const parts: string[] = [];
  parts.push(
    status.last_backup_at
      ? trans.__(
          'Backed up %1',
          Time.formatHuman(new Date(status.last_backup_at))
        )
      : trans.__('Not backed up yet')
  );
  if (status.pending?.length) {
    parts.push(trans._n('%1 pending', '%1 pending', status.pending.length));
  }
  let problem: string | null = null;
  if (status.failed?.length) {
    parts.push(trans._n('%1 failed', '%1 failed', status.failed.length));
    problem = status.failed
      .map(failure => `${failure.path}: ${failure.error}`)
      .join('\n');
  }
  if (status.conflicts?.length) {
    parts.push(
      trans._n('%1 conflict', '%1 conflicts', status.conflicts.length)
    );
  }
  if (status.last_error) {
    problem = problem ? `${status.last_error}\n${problem}` : status.last_error;
  }
  return { text: parts.join(' · '), problem };
}

function leaseText(state: ILeaseState, trans: TranslationBundle): string {
  switch (state.mode) {
    case 'editing':
      return state.heartbeatError
        ? trans.__('Lease: renewing…')
        : trans.__('Lease held');
    case 'read-only':
      return state.reason === 'lease-lost'
        ? trans.__('Lease lost: read-only')
        : trans.__('Read-only (%1)', state.holder?.user ?? '?');
    case 'opening':
      return trans.__('Opening…');
    case 'closing':
      return trans.__('Closing…');
    default:
      return '';
  }
}

/**
 * Whether the status of the Workspace open in this tab applies to the current
 * document: not when that document lies outside the Workspace (a notebook at
 * the root folder must not look as if the Workspace's lease and cluster were
 * its own). `currentPath` is null when the current tab is not a document.
 */
export function statusApplies(
  keeper: Pick<LeaseKeeper, 'state' | 'contains'>,
  currentPath: string | null
): boolean {
  if (!keeper.state.workspace || keeper.state.mode === 'closed') {
    return false;
  }
  return (
    currentPath === null || keeper.contains(currentPath.replace(/^[^/:]+:/, ''))
  );
}

interface IStatusProps {
  keeper: LeaseKeeper;
  backup: BackupMonitor;
  commands: CommandRegistry;
  trans: TranslationBundle;
  /**
   * The Studio's model: whether this server backs Workspaces up.
   */
  model?: WorkspaceListModel;
  /**
   * The path of the current document (null: the current tab is not one), and
   * when it changes.
   */
  currentPath?: () => string | null;
  currentChanged?: ISignal<any, any>;
}

function StatusView(props: IStatusProps): JSX.Element | null {
  const { keeper, backup, commands, trans, model, currentChanged } = props;
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setTick(tick => tick + 1);
    keeper.stateChanged.connect(bump);
    backup.changed.connect(bump);
    model?.changed.connect(bump);
    currentChanged?.connect(bump);
    bump();
    // Keep "backed up N minutes ago" fresh.
    const timer = setInterval(bump, 30000);
    return () => {
      keeper.stateChanged.disconnect(bump);
      backup.changed.disconnect(bump);
      model?.changed.disconnect(bump);
      currentChanged?.disconnect(bump);
      clearInterval(timer);
    };
  }, [keeper, backup, model, currentChanged]);

  const state = keeper.state;
  if (
    !state.workspace ||
    !statusApplies(keeper, props.currentPath?.() ?? null)
  ) {
    return null;
  }
  const cluster = attachmentName(
    state.workspace.attachment,
    model?.clusters ?? null
  );
  const backups = backupsOf(model?.studio);
  const { text, problem, notice } = backupText(
    backup.status,
    backup.error,
    trans,
    backups
  );
  const backupsOff = !!backups && !backups.enabled;
  return (
    <div
      className="jp-EmrWorkspace-statusItem"
      role="group"
      aria-label={trans.__('EMR Workspace status')}
    >
      <span className="jp-EmrWorkspace-statusName">{state.workspace.name}</span>
      <span className={`jp-EmrWorkspace-statusLease jp-mod-${state.mode}`}>
        {leaseText(state, trans)}
      </span>
      <span className="jp-EmrWorkspace-statusCluster">
        {cluster ? trans.__('Cluster: %1', cluster) : trans.__('No cluster')}
      </span>
      {state.mode === 'editing' && (
        <>
          {!backupsOff && (
            <button
              type="button"
              className="jp-EmrWorkspace-statusButton"
              disabled={backup.busy}
              onClick={() => void commands.execute(CommandIDs.backupNow)}
            >
              {backup.busy ? trans.__('Backing up…') : trans.__('Back up now')}
            </button>
          )}
          <span
            className={`jp-EmrWorkspace-statusBackup${
              problem ? ' jp-mod-error' : notice ? ' jp-mod-notice' : ''
            }`}
            title={
              problem
                ? `${text}\n${problem}`
                : notice
                  ? `${text}: ${notice}`
                  : text
            }
            data-pending={backup.status?.pending?.length ?? 0}
            data-backups={backupsOff ? 'off' : 'on'}
          >
            {problem ? `⚠ ${text}: ${problem.split('\n')[0]}` : text}
          </span>
        </>
      )}
    </div>
  );
}

/**
 * Status bar item of the Workspace open in this tab.
 */
export class WorkspaceStatus extends ReactWidget {
  constructor(private options: IStatusProps) {
    super();
    this.addClass('jp-EmrWorkspace-status');
  }

  protected render(): JSX.Element {
    return <StatusView {...this.options} />;
  }
}
