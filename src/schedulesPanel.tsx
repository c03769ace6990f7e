import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Time } from '@jupyterlab/coreutils';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { EmrWorkspaceClient, ISchedule } from './api';

/**
 * The panel's Schedules view: the open Workspace's schedules, each with its
 * cron and next firing, to enable, disable or delete.
 *
 * It fetches when shown for a Workspace and after each change (or the refresh
 * button); schedules change seldom, so it does not poll.
 */
export function SchedulesSection(props: {
  client: Pick<
    EmrWorkspaceClient,
    'listSchedules' | 'updateSchedule' | 'deleteSchedule'
  >;
  workspaceId: string | null;
  trans: TranslationBundle;
  /** Ask before deleting (default: a dialog). */
  confirm?: (schedule: ISchedule) => Promise<boolean>;
}): JSX.Element | null {
  const { client, workspaceId, trans } = props;
  const [schedules, setSchedules] = React.useState<ISchedule[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState<string | null>(null);

  const load = React.useCallback(async () => {
    if (!workspaceId) {
      return;
    }
    try {
      setSchedules(await client.listSchedules({ workspace_id: workspaceId }));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [client, workspaceId]);

  React.useEffect(() => {
    setSchedules(null);
    void load();
  }, [load]);

  if (!workspaceId) {
    return null;
  }

  const act = async (schedule: ISchedule, work: () => Promise<unknown>) => {
    setBusy(schedule.id);
    let failure: string | null = null;
    try {
      await work();
    } catch (e) {
      failure = trans.__(
        'Could not change schedule %1: %2',
        schedule.name || schedule.relative_path,
        e instanceof Error ? e.message : String(e)
      );
    }
    setBusy(null);
    // Reload (another server may have changed it), then say what failed.
    await load();
    if (failure) {
      setError(failure);
    }
  };
  const confirm = props.confirm ?? (s => confirmDelete(s, trans));

  return (
    <section
      className="jp-EmrWorkspace-section jp-EmrWorkspace-schedules"
      aria-labelledby="jp-EmrWorkspace-schedulesHeading"
    >
      <div className="jp-EmrWorkspace-sectionHeader">
        <h3 id="jp-EmrWorkspace-schedulesHeading">{trans.__('Schedules')}</h3>
        <button
          type="button"
          className="jp-EmrWorkspace-iconButton"
          onClick={() => void load()}
          aria-label={trans.__('Refresh schedules')}
          title={trans.__('Refresh schedules')}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      {error && (
        <div className="jp-EmrWorkspace-error" role="alert">
          {error}
        </div>
      )}
      {schedules && schedules.length === 0 && (
        <div className="jp-EmrWorkspace-empty">
          {trans.__('No schedules for this Workspace.')}
        </div>
      )}
      <ul aria-labelledby="jp-EmrWorkspace-schedulesHeading">
        {(schedules ?? []).map(schedule => (
          <li
            key={schedule.id}
            className="jp-EmrWorkspace-item jp-EmrWorkspace-schedule"
            data-schedule-id={schedule.id}
          >
            <div className="jp-EmrWorkspace-itemHeader">
              <span className="jp-EmrWorkspace-itemName" title={schedule.id}>
                {schedule.name || schedule.relative_path}
              </span>
              <span
                className={`jp-EmrWorkspace-state jp-mod-${schedule.enabled ? 'enabled' : 'disabled'}`}
              >
                {schedule.enabled ? trans.__('Enabled') : trans.__('Disabled')}
              </span>
            </div>
            <div className="jp-EmrWorkspace-itemMeta">
              <code>{schedule.cron}</code> <span>{schedule.timezone}</span>
              {schedule.enabled && schedule.next_fire_at && (
                <span>
                  {' '}
                  {trans.__(
                    'next %1',
                    Time.formatHuman(new Date(schedule.next_fire_at))
                  )}
                </span>
              )}
            </div>
            {schedule.last_error && (
              <div className="jp-EmrWorkspace-reason">
                {schedule.last_error}
              </div>
            )}
            <div className="jp-EmrWorkspace-actions">
              <button
                type="button"
                className="jp-mod-styled jp-EmrWorkspace-button"
                disabled={busy === schedule.id}
                onClick={() =>
                  void act(schedule, () =>
                    client.updateSchedule(schedule.id, {
                      enabled: !schedule.enabled
                    })
                  )
                }
              >
                {schedule.enabled ? trans.__('Disable') : trans.__('Enable')}
              </button>
              <button
                type="button"
                className="jp-mod-styled jp-mod-warn jp-EmrWorkspace-button"
                disabled={busy === schedule.id}
                onClick={() =>
                  void (async () => {
                    if (await confirm(schedule)) {
                      await act(schedule, () =>
                        client.deleteSchedule(schedule.id)
                      );
                    }
                  })()
                }
              >
                {trans.__('Delete')}
              </button>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

async function confirmDelete(
  schedule: ISchedule,
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Delete schedule'),
    body: trans.__(
      'Delete the schedule of %1 (%2)? Its executions stay.',
      schedule.relative_path,
      schedule.cron
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Delete') })
    ]
  });
  return result.button.accept;
}
