import { nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { ISchedule } from '../api';
import { ApiError } from '../handler';
import { SchedulesSection } from '../schedulesPanel';

const trans = nullTranslator.load('jupyter_emr_workspace');

function schedule(overrides: Partial<ISchedule> = {}): ISchedule {
  return {
    id: 'sch-1',
    workspace_id: 'e-1',
    relative_path: 'etl/daily.ipynb',
    cron: '0 6 * * 1-5',
    timezone: 'Europe/Paris',
    enabled: true,
    created_by: 'alice',
    last_slot: '2026-11-30T05:00:00Z',
    next_fire_at: '2026-12-01T05:00:00Z',
    ...overrides
  };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) {
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

function render(element: JSX.Element): Widget {
  const widget = ReactWidget.create(element);
  Widget.attach(widget, document.body);
  return widget;
}

describe('SchedulesSection', () => {
  it("lists the Workspace's schedules and disables, enables and deletes them", async () => {
    let stored = [schedule(), schedule({ id: 'sch-2', enabled: false })];
    const client = {
      listSchedules: jest.fn(async () => stored.map(s => ({ ...s }))),
      updateSchedule: jest.fn(async (id: string, patch: any) => {
        stored = stored.map(s => (s.id === id ? { ...s, ...patch } : s));
        return stored.find(s => s.id === id)!;
      }),
      deleteSchedule: jest.fn(async (id: string) => {
        stored = stored.filter(s => s.id !== id);
      })
    };
    const confirm = jest.fn(async () => true);
    const widget = render(
      <SchedulesSection
        client={client}
        workspaceId="e-1"
        trans={trans}
        confirm={confirm}
      />
    );
    const item = (id: string) =>
      widget.node.querySelector(`[data-schedule-id="${id}"]`);
    const button = (id: string, label: string) =>
      Array.from(item(id)!.querySelectorAll('button')).find(
        b => b.textContent === label
      ) as HTMLButtonElement;
    await until(() => !!item('sch-2'));
    expect(client.listSchedules).toHaveBeenCalledWith({ workspace_id: 'e-1' });
    expect(item('sch-1')!.textContent).toContain('0 6 * * 1-5');
    expect(item('sch-1')!.textContent).toContain('Enabled');
    expect(item('sch-2')!.textContent).toContain('Disabled');

    button('sch-1', 'Disable').click();
    await until(() => item('sch-1')!.textContent!.includes('Disabled'));
    expect(client.updateSchedule).toHaveBeenCalledWith('sch-1', {
      enabled: false
    });
    button('sch-2', 'Enable').click();
    await until(() => !!button('sch-2', 'Disable'));
    expect(client.updateSchedule).toHaveBeenCalledWith('sch-2', {
      enabled: true
    });

    button('sch-2', 'Delete').click();
    await until(() => !item('sch-2'));
    expect(confirm).toHaveBeenCalled();
    expect(client.deleteSchedule).toHaveBeenCalledWith('sch-2');
    widget.dispose();
  });

  it('deletes nothing when the user does not confirm', async () => {
    const client = {
      listSchedules: jest.fn(async () => [schedule()]),
      updateSchedule: jest.fn(),
      deleteSchedule: jest.fn()
    };
    const confirm = jest.fn(async () => false);
    const widget = render(
      <SchedulesSection
        client={client}
        workspaceId="e-1"
        trans={trans}
        confirm={confirm}
      />
    );
    await until(() => !!widget.node.querySelector('li'));
    const del = Array.from(widget.node.querySelectorAll('button')).find(
      b => b.textContent === 'Delete'
    )!;
    del.click();
    await until(() => confirm.mock.calls.length > 0);
    await new Promise(resolve => setTimeout(resolve, 20));
    expect(client.deleteSchedule).not.toHaveBeenCalled();
    widget.dispose();
  });

  it("shows the server's refusal and keeps the list", async () => {
    const client = {
      listSchedules: jest.fn(async () => [schedule()]),
      updateSchedule: jest.fn(async () => {
        throw new ApiError(
          403,
          'AccessDenied',
          'not allowed to ManageSchedules'
        );
      }),
      deleteSchedule: jest.fn()
    };
    const widget = render(
      <SchedulesSection client={client} workspaceId="e-1" trans={trans} />
    );
    await until(() => !!widget.node.querySelector('li'));
    (
      Array.from(widget.node.querySelectorAll('button')).find(
        b => b.textContent === 'Disable'
      ) as HTMLButtonElement
    ).click();
    await until(() => !!widget.node.querySelector('[role="alert"]'));
    expect(widget.node.querySelector('[role="alert"]')!.textContent).toContain(
      'not allowed to ManageSchedules'
    );
    expect(widget.node.querySelector('li')).not.toBeNull();
    widget.dispose();
  });
});
