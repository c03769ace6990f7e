import { nullTranslator } from '@jupyterlab/translation';
import { sleep } from '@jupyterlab/testing';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { SparkLinks } from '../sparkLinks';
import { fakeServer, json } from './utils';

const trans = nullTranslator.load('jupyter_emr_workspace');

async function render(element: JSX.Element): Promise<HTMLElement> {
  const widget = ReactWidget.create(element);
  Widget.attach(widget, document.body);
  const start = Date.now();
  while (!widget.node.querySelector('ul, [role="alert"]')) {
    if (Date.now() - start > 5000) {
      break;
    }
    await sleep(10);
  }
  await sleep(10);
  return widget.node;
}

describe('SparkLinks', () => {
  it('links each local session to its Spark UI and driver log through the server', async () => {
    const base = '/lab-base/emr-workspace/api/workspaces/e-1';
    const { settings, requests } = fakeServer(() =>
      json(200, {
        sessions: [
          {
            session_id: 3,
            kind: 'pyspark',
            state: 'idle',
            spark_ui: `${base}/spark-ui/3/`,
            driver_log: `${base}/driver-log/3`
          },
          {
            session_id: 4,
            spark_ui: null,
            driver_log: `${base}/driver-log/4`,
            reason: 'The Spark UI is off for this session'
          }
        ],
        links: [],
        reason: null
      })
    );
    const host = await render(
      <SparkLinks workspaceId="e-1" trans={trans} settings={settings} />
    );
    expect(requests[0].url.split('?')[0]).toBe(
      'http://localhost:8888/lab-base/emr-workspace/api/workspaces/e-1/app-ui'
    );
    const hrefs = Array.from(host.querySelectorAll('a')).map(a =>
      a.getAttribute('href')
    );
    expect(hrefs).toEqual([
      `${base}/spark-ui/3/`,
      `${base}/driver-log/3`,
      `${base}/driver-log/4`
    ]);
    expect(host.textContent).toContain('The Spark UI is off for this session');
    expect(host.querySelector('a')!.getAttribute('target')).toBe('_blank');
  });

  it('says why there is no link, and shows a refusal as an error', async () => {
    const { settings } = fakeServer(() =>
      json(200, { sessions: [], links: [], reason: 'No Spark session yet' })
    );
    const host = await render(
      <SparkLinks workspaceId="e-1" trans={trans} settings={settings} />
    );
    expect(host.textContent).toContain('No Spark session yet');
    const refused = fakeServer(() =>
      json(403, {
        error: { code: 'WorkspaceNotOpen', message: 'Open it first' }
      })
    );
    const other = await render(
      <SparkLinks workspaceId="e-1" trans={trans} settings={refused.settings} />
    );
    expect(other.querySelector('[role="alert"]')!.textContent).toContain(
      'Open it first'
    );
  });
});
