import { ReactWidget } from '@jupyterlab/apputils';
import { Time } from '@jupyterlab/coreutils';
import { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { IBackupStatus } from './api';
import { BackupMonitor, ILeaseState, LeaseKeeper } from './models';
import { CommandIDs } from './tokens';

/**
 * One line about a backup status: last backup time, pending count, error.
 */
export function backupText(
  status: IBackupStatus | null,
  error: Error | null,
  trans: TranslationBundle
): { text: string; problem: string | null } {
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

function StatusView(props: {
  keeper: LeaseKeeper;
  backup: BackupMonitor;
  commands: CommandRegistry;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { keeper, backup, commands, trans } = props;
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setTick(tick => tick + 1);
    keeper.stateChanged.connect(bump);
    backup.changed.connect(bump);
    bump();
    // Keep "backed up N minutes ago" fresh.
    const timer = setInterval(bump, 30000);
    return () => {
      keeper.stateChanged.disconnect(bump);
      backup.changed.disconnect(bump);
      clearInterval(timer);
    };
  }, [keeper, backup]);

  const state = keeper.state;
  if (!state.workspace || state.mode === 'closed') {
    return null;
  }
  const cluster = state.workspace.attachment?.cluster_id;
  const { text, problem } = backupText(backup.status, backup.error, trans);
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
        {cluster ? trans.__('Cluster %1', cluster) : trans.__('No cluster')}
      </span>
      {state.mode === 'editing' && (
        <>
          <button
            type="button"
            className="jp-EmrWorkspace-statusButton"
            disabled={backup.busy}
            onClick={() => void commands.execute(CommandIDs.backupNow)}
          >
            {backup.busy ? trans.__('Backing up…') : trans.__('Back up now')}
          </button>
          <span
            className={`jp-EmrWorkspace-statusBackup${
              problem ? ' jp-mod-error' : ''
            }`}
            title={problem ? `${text}\n${problem}` : text}
            data-pending={backup.status?.pending?.length ?? 0}
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
  constructor(
    private options: {
      keeper: LeaseKeeper;
      backup: BackupMonitor;
      commands: CommandRegistry;
      trans: TranslationBundle;
    }
  ) {
    super();
    this.addClass('jp-EmrWorkspace-status');
  }

  protected render(): JSX.Element {
    return <StatusView {...this.options} />;
  }
}
