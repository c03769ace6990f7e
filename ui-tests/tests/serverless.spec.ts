import { expect, test } from '@jupyterlab/galata';
import type { APIRequestContext, Locator } from '@playwright/test';

import { API, group, listItem, openPanel } from './helpers';

/**
 * EMR Serverless in the panel (issue 12): its applications are listed beside
 * the clusters on EC2 and EKS and the local engine, with their state and why
 * one cannot take a Workspace; alice attaches an open Workspace to a stopped
 * application as an execution role she may pass, sees it start until it is
 * ready and the attachment shown with its role; a role not offered to her is
 * refused, named.
 *
 * What the account holds (applications, a cluster, a virtual cluster) and the
 * roles offered come from jupyter_server_test_config.py's EMR Serverless block.
 */

const NAME = `${
  process.env.EMR_WS_UI_NAME || `ui-test-${Date.now().toString(36)}`
}-serverless`;
const ROLES = 'arn:aws:iam::123456789012:role';
const ANALYTICS = `${ROLES}/analytics-exec`;
const REPORTING = `${ROLES}/reporting-exec`;
const FINANCE = `${ROLES}/finance-exec`; // offered to carol only

interface ICluster {
  type: string;
  id: string;
  name: string;
  state: string;
}

// Galata's `mockState` would answer this extension's /api/workspaces too.
test.use({ mockState: false });

async function workspaceNamed(
  request: APIRequestContext,
  name: string
): Promise<any> {
  const { workspaces } = await (await request.get(`${API}/workspaces`)).json();
  return workspaces.find((w: { name: string }) => w.name === name);
}

test.describe('EMR Serverless', () => {
  test('a Workspace attaches to a stopped application as a role the user may pass', async ({
    page,
    request
  }) => {
    const listed = await (await request.get(`${API}/clusters`)).json();
    test.skip(
      !listed.sources.some((s: ICluster) => s.type === 'emr-serverless'),
      'No EMR Serverless (EMR_WS_UI_STORE=local runs without moto)'
    );
    const app = (listed.clusters as ICluster[]).find(
      c => c.type === 'emr-serverless' && c.name === 'analytics'
    )!;
    expect(app.state).toBe('STOPPED');

    const created = await request.post(`${API}/workspaces`, {
      data: { name: NAME, description: 'UI test: EMR Serverless' }
    });
    expect(created.status()).toBe(201);
    const workspace = await created.json();
    try {
      const panel = await openPanel(page);
      // Created through the API: list it now rather than at the next poll.
      await panel.getByRole('button', { name: 'Refresh Workspaces' }).click();
      await panel.getByRole('button', { name: `Open ${NAME}` }).click();
      await expect(page.locator('.jp-EmrWorkspace-statusItem')).toContainText(
        'Lease held'
      );
      // Opening ends by showing the Workspace's folder in the file browser.
      await expect
        .poll(() => page.filebrowser.getCurrentDirectory())
        .toBe(workspace.path);

      // Every source, each under its heading: Serverless beside the others.
      const serverless = group(panel, 'EMR Serverless');
      await expect(async () => {
        await openPanel(page);
        await expect(serverless).toBeVisible({ timeout: 2000 });
      }).toPass({ timeout: 60000 });
      for (const label of ['EMR on EC2', 'EMR on EKS', 'Local']) {
        await expect(group(panel, label)).toBeVisible();
      }
      await expect(
        listItem(group(panel, 'EMR on EC2'), 'etl-shared')
      ).toBeVisible();

      // The stopped application: its state in words, its release, attachable.
      const analytics = listItem(serverless, 'analytics');
      const state = analytics.locator('.jp-EmrWorkspace-state');
      await expect(state).toHaveText('stopped: starts when attached');
      await expect(state).toHaveAttribute('data-state', 'STOPPED');
      await expect(analytics).toContainText('emr-7.1.0');
      const attach = analytics.getByRole('button', {
        name: 'Attach to analytics'
      });
      await expect(attach).toBeEnabled();

      // Those that cannot take a Workspace say why, and cannot be attached.
      const cannot: [Locator, string, RegExp][] = [
        [serverless, 'nightly-batch', /interactive Livy endpoint is off/],
        [group(panel, 'EMR on EKS'), 'spark-team', /No Livy endpoint is known/]
      ];
      for (const [scope, name, reason] of cannot) {
        const entry = listItem(scope, name);
        await expect(entry.locator('.jp-EmrWorkspace-reason')).toHaveText(
          reason
        );
        const button = entry.getByRole('button', { name: `Attach to ${name}` });
        await expect(button).toBeDisabled();
        const why = await button.getAttribute('aria-describedby');
        await expect(page.locator(`[id="${why}"]`)).toHaveText(reason);
      }

      // Attach: the picker offers only the roles alice may pass.
      await attach.click();
      const dialog = page.locator('.jp-Dialog');
      await expect(dialog).toContainText('Run Spark on analytics as');
      const roles = dialog.locator('select');
      await expect(roles.locator('option')).toHaveText([ANALYTICS, REPORTING]);
      await roles.selectOption(REPORTING);
      await dialog.getByRole('button', { name: 'Attach' }).click();
      await expect(dialog).toHaveCount(0);

      // StartApplication: the panel follows the application until it is ready.
      await expect(state).toHaveText('starting');
      await expect(state).toHaveText('ready');
      await expect(state).toHaveAttribute('data-state', 'STARTED');

      // The attachment, with its role: in the list, the Workspace and the status bar.
      await expect(analytics).toHaveClass(/jp-mod-current/);
      const role = analytics.getByText('as reporting-exec', { exact: true });
      await expect(role).toHaveAttribute('title', REPORTING);
      await expect(
        analytics.getByRole('button', { name: 'Detach from analytics' })
      ).toBeVisible();
      await expect(
        listItem(panel, NAME).locator('.jp-EmrWorkspace-itemCluster')
      ).toContainText('analytics');
      await expect(page.locator('.jp-EmrWorkspace-statusCluster')).toHaveText(
        'Cluster: analytics'
      );
      const attached = (await workspaceNamed(request, NAME)).attachment;
      expect(attached).toMatchObject({
        type: 'emr-serverless',
        cluster_id: app.id,
        execution_role_arn: REPORTING
      });

      // A role not offered to alice (only carol's), asked for all the same:
      // refused, naming it; the attachment stays as it was.
      await page.evaluate(
        async ({ id, role }) => {
          await window.jupyterapp.commands.execute('emr-workspace:attach', {
            type: 'emr-serverless',
            clusterId: id,
            executionRoleArn: role
          });
        },
        { id: app.id, role: FINANCE }
      );
      const refused = page
        .locator('.Toastify__toast')
        .filter({ hasText: `Could not attach "${NAME}" to analytics` });
      await expect(refused).toContainText(`execution role ${FINANCE}`);
      // The toast cuts long messages; the reason is in full one click away.
      await refused.getByRole('button', { name: 'Details' }).click();
      const details = page.locator('.jp-Dialog');
      await expect(details).toContainText(
        `Could not attach "${NAME}" to analytics`
      );
      await expect(details).toContainText(
        `execution role ${FINANCE} is not one of the roles offered to alice (c.Studio.execution_roles)`
      );
      await details.getByRole('button', { name: /^(Close|Dismiss)$/ }).click();
      await expect(details).toHaveCount(0);
      expect((await workspaceNamed(request, NAME)).attachment).toMatchObject({
        execution_role_arn: REPORTING
      });

      // The picker remembers the Workspace's role: offered first next time.
      await page.evaluate(async id => {
        void window.jupyterapp.commands.execute(
          'emr-workspace:attach-with-role',
          { type: 'emr-serverless', clusterId: id }
        );
      }, app.id);
      await expect(roles.locator('option')).toHaveText([REPORTING, ANALYTICS]);
      await expect(roles).toHaveValue(REPORTING);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await expect(dialog).toHaveCount(0);
    } finally {
      await request.delete(`${API}/workspaces/${workspace.id}/lock`);
      await request.delete(
        `${API}/workspaces/${workspace.id}?delete_notebooks=true`
      );
    }
  });
});
