import {
  expect,
  galata,
  IJupyterLabPageFixture,
  test
} from '@jupyterlab/galata';
import type { APIRequestContext, Locator } from '@playwright/test';
import * as path from 'path';

/**
 * The EMR Workspaces panel, end to end against a real server: alice creates a
 * Workspace, opens it, saves a notebook in it, backs it up and attaches it to
 * the local cluster; bob sees it in use and gets it read-only; alice deletes it.
 */

const PANEL_ID = 'jp-emr-workspace-panel';

const API = '/emr-workspace/api';
const NAME =
  process.env.EMR_WS_UI_NAME || `ui-test-${Date.now().toString(36)}`;
// Kept after the run (Playwright empties test-results/ when a run starts);
// the best ones are copied to docs/screenshots/ for the README.
const SCREENSHOTS = path.join(__dirname, '..', 'test-results', 'screenshots');

interface IWorkspace {
  id: string;
  name: string;
  path: string;
  attachment: { type: string; cluster_id: string } | null;
  lock: { holders: { user: string }[] } | null;
}

async function findWorkspace(
  request: APIRequestContext,
  name = NAME
): Promise<IWorkspace | undefined> {
  const response = await request.get(`${API}/workspaces`);
  expect(response.ok()).toBeTruthy();
  const { workspaces } = await response.json();
  return (workspaces as IWorkspace[]).find(w => w.name === name);
}

async function openPanel(page: IJupyterLabPageFixture): Promise<Locator> {
  const panel = page.locator(`#${PANEL_ID}`);
  // The command only activates (clicking the tab of an open panel closes it);
  // retried, as opening a Workspace activates the file browser when it is done.
  await expect(async () => {
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('emr-workspace:show-panel');
    });
    await expect(panel).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 20000 });
  await expect(
    panel.getByRole('heading', { name: 'Workspaces', exact: true })
  ).toBeVisible();
  return panel;
}

/**
 * Open the Workspace in this tab (alice may take her own lease over) and
 * return the panel.
 */
async function openWorkspace(page: IJupyterLabPageFixture): Promise<Locator> {
  const panel = await openPanel(page);
  await panel.getByRole('button', { name: `Open ${NAME}` }).click();
  await expect(page.locator('.jp-EmrWorkspace-statusItem')).toContainText(
    'Lease held'
  );
  // Opening ends by showing the Workspace's folder in the file browser.
  await expect(page.locator('.jp-FileBrowser')).toBeVisible();
  return panel;
}

function item(panel: Locator, name = NAME): Locator {
  return panel.getByRole('listitem', { name, exact: true });
}

async function screenshot(
  locator: Locator,
  file: string,
  testInfo = test.info()
): Promise<void> {
  const target = path.join(SCREENSHOTS, file);
  await locator.screenshot({ path: target });
  await testInfo.attach(file, { path: target, contentType: 'image/png' });
}

// Galata's `mockState` answers every GET matching /.*\/api\/workspaces/ with
// JupyterLab's own layout workspaces, which would hide this extension's
// /emr-workspace/api/workspaces: keep JupyterLab's real (temporary) state.
test.use({ mockState: false });

// The scenarios build on each other and run in order on one worker; a failure
// does not skip the rest, so each test reports on its own part.
test.describe('EMR Workspaces panel', () => {
  test('the server extension answers and versions match', async ({
    page,
    request
  }) => {
    const response = await request.get(`${API}/studio`);
    expect(response.ok()).toBeTruthy();
    const studio = await response.json();
    expect(studio.user.name).toBe('alice');
    const panel = await openPanel(page);
    await expect(panel.getByText(/do not match/)).toHaveCount(0);
    await expect(panel.getByText(`signed in as alice`)).toBeVisible();
  });

  test('create a Workspace', async ({ page, request }) => {
    const panel = await openPanel(page);
    await panel.getByRole('button', { name: 'New Workspace' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toBeVisible();
    await dialog.getByLabel('Name', { exact: true }).fill(NAME);
    await dialog
      .getByLabel('Description', { exact: true })
      .fill('Created by the UI tests');
    await dialog.getByLabel('Tags', { exact: true }).fill('team=ui-tests');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await expect(dialog).toHaveCount(0);

    const created = item(panel);
    await expect(created).toBeVisible();
    await expect(created).toContainText('Created by the UI tests');
    await expect(created).toContainText('Created by alice');
    await expect(created.locator('.jp-EmrWorkspace-state')).toHaveText('Free');

    const workspace = await findWorkspace(request);
    expect(workspace?.id).toMatch(/^e-[A-Z0-9]{25}$/);
  });

  test('open it: the lease is taken and the file browser moves', async ({
    page,
    request
  }) => {
    const workspace = (await findWorkspace(request))!;
    await openWorkspace(page);
    await expect
      .poll(() => page.filebrowser.getCurrentDirectory())
      .toBe(workspace.path);
    const status = page.locator('.jp-EmrWorkspace-statusItem');
    await expect(status).toContainText(NAME);
    await expect(status).toContainText('Lease held');
    const held = await findWorkspace(request);
    expect(held?.lock?.holders.map(h => h.user)).toEqual(['alice']);
  });

  test('create and save a notebook in it', async ({ page, request }) => {
    const workspace = (await findWorkspace(request))!;
    await openWorkspace(page);
    const name = await page.notebook.createNew('analysis.ipynb');
    expect(name).toBe('analysis.ipynb');
    await page.notebook.setCell(0, 'code', 'print("hello from EMR")');
    await page.notebook.save();
    await page.filebrowser.refresh();
    expect(
      await page.filebrowser.isFileListedInBrowser('analysis.ipynb')
    ).toBeTruthy();
    const file = await request.get(
      `/api/contents/${workspace.path}/analysis.ipynb?content=0`
    );
    expect(file.ok()).toBeTruthy();
  });

  test('the backup state changes', async ({ page, request }) => {
    const workspace = (await findWorkspace(request))!;
    await openWorkspace(page);
    const backup = page.locator('.jp-EmrWorkspace-statusBackup');
    await expect(backup).toBeVisible();
    await page
      .locator('.jp-EmrWorkspace-statusItem')
      .getByRole('button', { name: 'Back up now' })
      .click();
    await expect(backup).toContainText('Backed up', { timeout: 60000 });
    await expect(backup).not.toContainText('pending');
    const status = await (
      await request.get(`${API}/workspaces/${workspace.id}/backup`)
    ).json();
    expect(status.last_backup_at).toBeTruthy();
    expect(status.pending).toEqual([]);
    expect(status.failed).toEqual([]);
  });

  test('attach it to the local cluster', async ({ page, request }) => {
    const panel = await openWorkspace(page);
    await openPanel(page);
    const local = panel.locator('.jp-EmrWorkspace-group', {
      has: page.getByRole('heading', { name: 'Local', exact: true })
    });
    await expect(local).toBeVisible({ timeout: 60000 });
    await local
      .getByRole('button', { name: /^Attach to / })
      .first()
      .click();
    await expect(page.locator('.jp-EmrWorkspace-statusCluster')).toHaveText(
      /^Cluster /,
      { timeout: 120000 }
    );
    await expect(item(panel)).toContainText('Cluster: ');
    await expect(
      local.getByRole('button', { name: /^Detach from / })
    ).toBeVisible();
    const attached = await findWorkspace(request);
    expect(attached?.attachment?.type).toBe('local');
  });

  test('create a cluster from a template, with a form from its fields', async ({
    page,
    request
  }) => {
    const { templates } = await (await request.get(`${API}/templates`)).json();
    test.skip(
      templates.length === 0,
      'No cluster template (EMR_WS_UI_STORE=local runs without moto)'
    );
    const panel = await openPanel(page);
    await panel.getByRole('button', { name: 'Create cluster' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.getByLabel('Template')).toHaveValue('small-spark');
    // The template's fields, with their defaults.
    const nodes = dialog.getByLabel('Nodes');
    await expect(nodes).toHaveValue('2');
    await expect(dialog.getByLabel('Instance type')).toHaveValue('m5.xlarge');
    await dialog.getByLabel('Cluster name').fill(`${NAME}-cluster`);
    // Out of the field's bounds: the form says so and cannot be sent.
    await expect(dialog).toContainText('From 1 to 10.');
    const create = dialog.getByRole('button', { name: 'Create' });
    await nodes.fill('50');
    await expect(create).toBeDisabled();
    await nodes.fill('3');
    await expect(create).toBeEnabled();
    await create.click();
    await expect(page.locator('.jp-Dialog')).toHaveCount(0, { timeout: 60000 });

    const ec2 = panel.locator('.jp-EmrWorkspace-group', {
      has: page.getByRole('heading', { name: 'EMR on EC2', exact: true })
    });
    await expect(ec2.getByText(`${NAME}-cluster`)).toBeVisible({
      timeout: 60000
    });
    const { clusters } = await (await request.get(`${API}/clusters`)).json();
    expect(
      clusters.some(
        (c: { type: string; name: string }) =>
          c.type === 'emr-ec2' && c.name === `${NAME}-cluster`
      )
    ).toBeTruthy();
  });

  test('screenshots of the panel in the light and dark themes', async ({
    page
  }) => {
    const panel = await openWorkspace(page);
    await page.theme.setLightTheme();
    await openPanel(page);
    await screenshot(panel, 'panel-light.png');
    await screenshot(
      page.locator('.jp-EmrWorkspace-statusItem'),
      'status-light.png'
    );
    await page.theme.setDarkTheme();
    await openPanel(page);
    await screenshot(panel, 'panel-dark.png');
    await screenshot(
      page.locator('.jp-EmrWorkspace-statusItem'),
      'status-dark.png'
    );
    await page.theme.setLightTheme();
  });

  test('another user sees it in use and opens it read-only', async ({
    page,
    browser,
    baseURL,
    request,
    waitForApplication
  }) => {
    // alice (this page) holds the Workspace.
    const alicePanel = await openWorkspace(page);

    // bob, in a second browser context.
    const { page: bob } = await galata.newPage({
      baseURL: baseURL!,
      browser,
      waitForApplication,
      autoGoto: false,
      mockSettings: galata.DEFAULT_SETTINGS,
      mockState: false
    });
    try {
      const url = new URL(baseURL!);
      await bob.context().addCookies([
        { name: 'test_user', value: 'bob', domain: url.hostname, path: '/' }
      ]);
      await bob.goto();
      const bobPanel = await openPanel(bob);
      await expect(bobPanel.getByText('signed in as bob')).toBeVisible();
      await expect(item(bobPanel).locator('.jp-EmrWorkspace-state')).toHaveText(
        /^In use by alice since /
      );

      await bobPanel.getByRole('button', { name: `Open ${NAME}` }).click();
      const banner = bob.locator('.jp-FileBrowser .jp-EmrWorkspace-banner');
      await expect(banner).toBeVisible();
      await expect(banner).toContainText(
        `Workspace "${NAME}" is being edited by alice`
      );
      await expect(bob.locator('.jp-EmrWorkspace-statusItem')).toContainText(
        'Read-only (alice)'
      );
      await screenshot(bob.locator('.jp-FileBrowser'), 'read-only-banner.png');

      // The server refuses bob's writes, whatever the UI shows.
      const workspace = (await findWorkspace(request))!;
      const write = await bob.request.put(
        `/api/contents/${workspace.path}/bob.txt`,
        {
          headers: { 'X-Test-User': 'bob' },
          data: { type: 'file', format: 'text', content: 'bob was here' }
        }
      );
      expect([403, 423]).toContain(write.status());
    } finally {
      await bob.context().close();
    }

    // alice closes it: the lease is released.
    await openPanel(page);
    await alicePanel.getByRole('button', { name: `Close ${NAME}` }).click();
    await expect(item(alicePanel).locator('.jp-EmrWorkspace-state')).toHaveText(
      'Free'
    );
  });

  test('a lease taken over is lost: the tab says so and turns read-only', async ({
    page,
    request,
    playwright,
    baseURL
  }) => {
    await openWorkspace(page);
    const workspace = (await findWorkspace(request))!;

    // bob (who may, with no policies configured) force-releases it and opens it.
    const bob = await playwright.request.newContext({
      baseURL,
      extraHTTPHeaders: { 'X-Test-User': 'bob' }
    });
    try {
      const released = await bob.delete(
        `${API}/workspaces/${workspace.id}/lock`
      );
      expect(released.status()).toBe(204);
      const opened = await bob.post(`${API}/workspaces/${workspace.id}/open`, {
        data: {}
      });
      expect(opened.ok()).toBeTruthy();
      const { lease } = await opened.json();

      // alice's next heartbeat (every 10 s here) finds the lease gone.
      const banner = page.locator('.jp-FileBrowser .jp-EmrWorkspace-banner');
      await expect(banner).toContainText('you lost the lease', {
        timeout: 45000
      });
      await expect(
        page.locator('.jp-EmrWorkspace-statusItem')
      ).toContainText('Lease lost: read-only');
      await expect(
        page.getByText(`You lost the lease on Workspace "${NAME}": bob took it over.`)
      ).toBeVisible();

      const closed = await bob.post(`${API}/workspaces/${workspace.id}/close`, {
        data: { token: lease.token }
      });
      expect(closed.status()).toBe(204);
    } finally {
      await bob.dispose();
    }
  });

  test('delete it; the dialog says the backups stay', async ({
    page,
    request
  }) => {
    const panel = await openPanel(page);
    const workspace = (await findWorkspace(request))!;
    const studio = await (await request.get(`${API}/studio`)).json();
    await panel.getByRole('button', { name: `Delete ${NAME}` }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(
      `backups stay in ${studio.backup_uri} and keep costing storage`
    );
    await expect(dialog).toContainText('unless you tick the box');
    const box = dialog.getByLabel("Also delete the notebooks' backups");
    await expect(box).not.toBeChecked();
    await screenshot(dialog.locator('.jp-Dialog-content'), 'delete-dialog.png');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expect(item(panel)).toHaveCount(0);
    const gone = await request.get(`${API}/workspaces/${workspace.id}`);
    expect(gone.status()).toBe(404);
  });
});
