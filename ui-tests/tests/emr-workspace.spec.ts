import {
  expect,
  galata,
  IJupyterLabPageFixture,
  test
} from '@jupyterlab/galata';
import type { APIRequestContext, Locator, Page } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import { API, group, openPanel, screenshot, SCREENSHOTS } from './helpers';

/**
 * The EMR Workspaces panel, end to end against a real server: alice creates a
 * Workspace, opens it, saves a notebook in it, backs it up and attaches it to
 * the local cluster; bob sees it in use and gets it read-only; alice deletes it.
 */

const NAME = process.env.EMR_WS_UI_NAME || `ui-test-${Date.now().toString(36)}`;

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

/**
 * Show the panel with the Workspaces listed afresh, as a user presses Refresh
 * after creating a Workspace elsewhere: a Workspace a test has just created
 * through the API is otherwise listed at the panel's next poll (every 30 s).
 */
async function openPanelRefreshed(
  page: IJupyterLabPageFixture
): Promise<Locator> {
  const panel = await openPanel(page);
  await panel.getByRole('button', { name: 'Refresh Workspaces' }).click();
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

/**
 * The panel's key elements, asserted before a screenshot of it.
 */
async function expectPanelShown(page: Page, panel: Locator): Promise<void> {
  await expect(
    panel.getByRole('heading', { name: 'EMR Workspaces', exact: true })
  ).toBeVisible();
  await expect(panel.getByText('signed in as alice')).toBeVisible();
  await expect(
    panel.getByRole('heading', { name: 'Workspaces', exact: true })
  ).toBeVisible();
  await expect(item(panel).locator('.jp-EmrWorkspace-state')).toHaveText(
    /^In use by you since /
  );
  await expect(
    panel.getByRole('heading', { name: 'Compute', exact: true })
  ).toBeVisible();
  await expect(panel.locator('.jp-EmrWorkspace-current')).toContainText(
    `${NAME} is open in this tab; you hold its lease.`
  );
  const status = page.locator('.jp-EmrWorkspace-statusItem');
  await expect(status).toContainText(NAME);
  await expect(status).toContainText('Lease held');
}

// Galata's `mockState` answers every GET matching /.*\/api\/workspaces/ with
// JupyterLab's own layout workspaces, which would hide this extension's
// /emr-workspace/api/workspaces: keep JupyterLab's real (temporary) state.
test.use({ mockState: false });

// The scenarios build on each other (one Workspace, from creation to deletion)
// and must run in this order on one worker: serial mode says so, and skips the
// rest of the chain when one fails instead of failing them for the wrong
// reason. The last describe block stands alone.
test.describe.serial('EMR Workspaces panel', () => {
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
    const local = group(panel, 'Local');
    await expect(local).toBeVisible({ timeout: 60000 });
    await local
      .getByRole('button', { name: /^Attach to / })
      .first()
      .click();
    // The cluster's display name, not its id "local".
    await expect(page.locator('.jp-EmrWorkspace-statusCluster')).toHaveText(
      'Cluster: Local Spark (this server)',
      { timeout: 120000 }
    );
    await expect(item(panel)).toContainText(
      'Cluster: Local Spark (this server)'
    );
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
    const status = page.locator('.jp-EmrWorkspace-statusItem');
    const background = () =>
      panel.evaluate(node => getComputedStyle(node).backgroundColor);

    await page.theme.setLightTheme();
    await openPanel(page);
    await expectPanelShown(page, panel);
    const light = await background();
    await screenshot(panel, 'panel-light.png');
    await screenshot(status, 'status-light.png');

    await page.theme.setDarkTheme();
    await openPanel(page);
    await expectPanelShown(page, panel);
    // The theme did change what is shot.
    expect(await background()).not.toBe(light);
    await screenshot(panel, 'panel-dark.png');
    await screenshot(status, 'status-dark.png');
    await page.theme.setLightTheme();

    const bytes = (file: string) =>
      fs.readFileSync(path.join(SCREENSHOTS, file));
    expect(bytes('panel-light.png').equals(bytes('panel-dark.png'))).toBe(
      false
    );
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
      await bob
        .context()
        .addCookies([
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
      await expect(page.locator('.jp-EmrWorkspace-statusItem')).toContainText(
        'Lease lost: read-only'
      );
      await expect(
        page.getByText(
          `You lost the lease on Workspace "${NAME}": bob took it over.`
        )
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
    // The Workspace's own backup prefix (EMR's layout), not only the Studio's.
    await expect(dialog).toContainText(
      `backups stay in ${studio.backup_uri}/${workspace.id}/ and keep costing storage`
    );
    await expect(dialog).toContainText(
      'Its working copy on this server (the folder'
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

/**
 * A Workspace of its own for a test that stands alone: created through the API
 * with a name no other test or run uses, deleted (with its backups) by `drop`.
 */
async function ownWorkspace(
  request: APIRequestContext,
  what: string
): Promise<{ workspace: IWorkspace; drop: () => Promise<void> }> {
  const name = `${NAME}-${what}-${Date.now().toString(36)}`;
  const created = await request.post(`${API}/workspaces`, {
    data: { name, description: `UI test: ${what}` }
  });
  expect(created.status()).toBe(201);
  const workspace = (await created.json()) as IWorkspace;
  const drop = async () => {
    // Whoever still holds it (a tab of this test), it goes.
    await request.delete(`${API}/workspaces/${workspace.id}/lock`);
    const deleted = await request.delete(
      `${API}/workspaces/${workspace.id}?delete_notebooks=true`
    );
    expect([200, 204, 404]).toContain(deleted.status());
  };
  return { workspace, drop };
}

/** A second user in a browser context of their own. */
async function asUser(
  user: string,
  fixtures: {
    browser: any;
    baseURL: string | undefined;
    waitForApplication: any;
  }
): Promise<IJupyterLabPageFixture> {
  const { page } = await galata.newPage({
    baseURL: fixtures.baseURL!,
    browser: fixtures.browser,
    waitForApplication: fixtures.waitForApplication,
    autoGoto: false,
    mockSettings: galata.DEFAULT_SETTINGS,
    mockState: false
  });
  const url = new URL(fixtures.baseURL!);
  await page
    .context()
    .addCookies([
      { name: 'test_user', value: user, domain: url.hostname, path: '/' }
    ]);
  await page.goto();
  return page;
}

// Stands alone: its own Workspace and its own users (alice and bob each in a
// browser context of their own), so it passes run alone (`-g "refused save"`)
// as in the full run.
test.describe('A refused save', () => {
  test('is shown to the user, naming who holds the Workspace', async ({
    browser,
    baseURL,
    request,
    waitForApplication
  }) => {
    const { workspace, drop } = await ownWorkspace(request, 'save');
    const fixtures = { browser, baseURL, waitForApplication };
    const file = `${workspace.path}/shared.py`;
    let alice: IJupyterLabPageFixture | null = null;
    let bob: IJupyterLabPageFixture | null = null;
    try {
      // alice opens it in her tab: its heartbeats keep her lease for the test.
      alice = await asUser('alice', fixtures);
      const panel = await openPanel(alice);
      await panel
        .getByRole('button', { name: `Open ${workspace.name}` })
        .click();
      await expect(alice.locator('.jp-EmrWorkspace-statusItem')).toContainText(
        'Lease held'
      );
      const written = await alice.request.put(`/api/contents/${file}`, {
        headers: { 'X-Test-User': 'alice' },
        data: { type: 'file', format: 'text', content: 'x = 1\n' }
      });
      expect(written.ok()).toBeTruthy();

      // bob, who never opened the panel, opens the file, edits it, saves.
      bob = await asUser('bob', fixtures);
      await bob.evaluate(async path => {
        await window.jupyterapp.commands.execute('docmanager:open', { path });
      }, file);
      const editor = bob.locator('.jp-FileEditor .cm-content');
      await expect(editor).toContainText('x = 1');
      await editor.click();
      await bob.keyboard.press('Control+End');
      await bob.keyboard.type('  # bob was here');
      await expect(editor).toContainText('bob was here');
      await bob.keyboard.press('Control+s');

      // A visible error says why (a dialog from the contents API's 423, or the
      // extension's notification when a collaboration room drops the save).
      const why = bob
        .locator('.jp-Dialog, .Toastify__toast')
        .filter({ hasText: /read-only for you/ })
        .first();
      await expect(why).toBeVisible({ timeout: 30000 });
      await expect(why).toContainText('alice');
      await expect(why).toContainText(workspace.name);

      // Nothing of bob's reached the file.
      const content = await (
        await request.get(`/api/contents/${file}?content=1`)
      ).json();
      expect(content.content).toBe('x = 1\n');
    } finally {
      await bob?.context().close();
      await alice?.context().close();
      await drop();
    }
  });
});

// Stands alone (issue 14 §1): run with EMR_WS_UI_COLLABORATION=off too, where
// JupyterLab's open-time checkpoint, refused by the lock, used to fail the open.
test.describe('A Workspace held by someone else', () => {
  test('opens its notebook for reading, with the banner, and a save names the holder', async ({
    browser,
    baseURL,
    request,
    waitForApplication
  }) => {
    const { workspace, drop } = await ownWorkspace(request, 'read');
    const fixtures = { browser, baseURL, waitForApplication };
    const file = `${workspace.path}/read.ipynb`;
    let alice: IJupyterLabPageFixture | null = null;
    let bob: IJupyterLabPageFixture | null = null;
    try {
      alice = await asUser('alice', fixtures);
      const panel = await openPanel(alice);
      await panel
        .getByRole('button', { name: `Open ${workspace.name}` })
        .click();
      await expect(alice.locator('.jp-EmrWorkspace-statusItem')).toContainText(
        'Lease held'
      );
      const notebook = {
        cells: [
          {
            cell_type: 'markdown',
            id: 'a1',
            metadata: {},
            source: 'alice wrote this'
          }
        ],
        metadata: {},
        nbformat: 4,
        nbformat_minor: 5
      };
      const written = await alice.request.put(`/api/contents/${file}`, {
        headers: { 'X-Test-User': 'alice' },
        // as a plain file: a notebook saved through the API gets a first
        // checkpoint in the background, and JupyterLab then makes none on open
        data: {
          type: 'file',
          format: 'text',
          content: JSON.stringify(notebook)
        }
      });
      expect(written.ok()).toBeTruthy();

      // bob opens the Workspace from the panel (read-only), then the notebook.
      bob = await asUser('bob', fixtures);
      const bobPanel = await openPanel(bob);
      await bobPanel
        .getByRole('button', { name: `Open ${workspace.name}` })
        .click();
      await expect(bob.locator('.jp-EmrWorkspace-statusItem')).toContainText(
        'Read-only (alice)'
      );
      await bob.evaluate(async path => {
        await window.jupyterapp.commands.execute('docmanager:open', {
          path,
          factory: 'Notebook'
        });
      }, file);
      // Once loaded (no File Load Error: the lock used to refuse the checkpoint
      // JupyterLab makes on open), JupyterLab asks for a kernel; none is needed.
      const dialog = bob.locator('.jp-Dialog');
      await expect(dialog).toContainText('Select Kernel');
      await expect(dialog).not.toContainText('File Load Error');
      await dialog.getByRole('button', { name: 'No Kernel' }).click();
      const notebookPanel = bob.locator('.jp-NotebookPanel');
      await expect(notebookPanel).toContainText('alice wrote this');
      const banner = notebookPanel.locator('.jp-EmrWorkspace-banner');
      await expect(banner).toBeVisible();
      await expect(banner).toContainText(
        `Workspace "${workspace.name}" is being edited by alice`
      );
      // All of its text shows (the content header sizes it by its min-height).
      await expect(async () => {
        const { shown, needed } = await banner.evaluate(node => ({
          shown: node.clientHeight,
          needed: node.scrollHeight
        }));
        expect(shown).toBeGreaterThan(20);
        expect(shown).toBeGreaterThanOrEqual(needed);
      }).toPass({ timeout: 5000 });
      // An edit, then Ctrl+S: an error names who holds the Workspace.
      await bob.notebook.setCell(0, 'markdown', 'bob was here');
      await bob.keyboard.press('Control+s');
      const why = bob
        .locator('.jp-Dialog, .Toastify__toast')
        .filter({ hasText: /read-only for you/ })
        .first();
      await expect(why).toBeVisible({ timeout: 30000 });
      await expect(why).toContainText('alice');
      await expect(why).toContainText(workspace.name);
      const content = await (
        await request.get(`/api/contents/${file}?content=1`)
      ).json();
      expect(JSON.stringify(content.content)).not.toContain('bob was here');
    } finally {
      await bob?.context().close();
      await alice?.context().close();
      await drop();
    }
  });
});

// Stands alone: its own Workspace (issue 14 §4).
test.describe('Names, not ids', () => {
  test("the Workspace's folder shows its name in the file browser, breadcrumbs, launcher and tab tooltip", async ({
    page,
    request
  }) => {
    const { workspace, drop } = await ownWorkspace(request, 'names');
    const { name, id } = workspace;
    try {
      const panel = await openPanelRefreshed(page);
      await panel.getByRole('button', { name: `Open ${name}` }).click();
      await expect(page.locator('.jp-EmrWorkspace-statusItem')).toContainText(
        'Lease held'
      );
      // Written as alice, who holds it now.
      const written = await request.put(
        `/api/contents/${workspace.path}/notes.txt`,
        { data: { type: 'file', format: 'text', content: 'notes\n' } }
      );
      expect(written.ok()).toBeTruthy();
      await expect
        .poll(() => page.filebrowser.getCurrentDirectory())
        .toBe(workspace.path);

      // Breadcrumbs: the name, the path (with the id) in the tooltip.
      const browser = page.locator('.jp-FileBrowser');
      const crumb = browser.locator(
        `.jp-BreadCrumbs-item[data-path="${workspace.path}"]`
      );
      await expect(crumb).toHaveText(name);
      await expect(crumb).toHaveAttribute('title', new RegExp(id));

      // The listing of the Workspaces folder: the name, not the id.
      await browser
        .locator('.jp-BreadCrumbs-item', { hasText: /^workspaces$/ })
        .click();
      await expect
        .poll(() => page.filebrowser.getCurrentDirectory())
        .toBe(workspace.path.split('/').slice(0, -1).join('/'));
      const entry = browser.locator('.jp-DirListing-item', {
        has: page.locator('.jp-DirListing-itemText', {
          hasText: new RegExp(`^${name}$`)
        })
      });
      await expect(entry).toBeVisible();
      await expect(entry).toHaveAttribute(
        'title',
        new RegExp(`EMR Workspace "${name}" \\(${workspace.path}\\)`)
      );
      await expect(
        browser.locator('.jp-DirListing-itemText', { hasText: id })
      ).toHaveCount(0);
      await screenshot(browser, 'names-file-browser.png');
      // Still the folder: opening it goes into the Workspace.
      await entry.dblclick();
      await expect
        .poll(() => page.filebrowser.getCurrentDirectory())
        .toBe(workspace.path);

      // The launcher in the Workspace's folder is headed by its name.
      await page.evaluate(async cwd => {
        await window.jupyterapp.commands.execute('launcher:create', { cwd });
      }, workspace.path);
      await expect(page.locator('.jp-Launcher-cwd h3:visible')).toHaveText(
        name
      );

      // A document's tab tooltip names its Workspace.
      await page.evaluate(async path => {
        await window.jupyterapp.commands.execute('docmanager:open', { path });
      }, `${workspace.path}/notes.txt`);
      const tab = page.locator('.lm-TabBar-tab', { hasText: 'notes.txt' });
      await expect(tab).toHaveAttribute(
        'title',
        new RegExp(`^EMR Workspace "${name}" \\(${workspace.path}\\)\\n`)
      );
    } finally {
      await drop();
    }
  });
});

// A data scientist's day (issue 14): stands alone, its own Workspace.
test.describe("A data scientist's day", () => {
  const DAY = `${NAME}-day`;

  async function sessionsIn(
    request: APIRequestContext,
    folder: string
  ): Promise<string[]> {
    const sessions = (await (await request.get('/api/sessions')).json()) as {
      path: string;
    }[];
    return sessions.map(s => s.path).filter(p => p.startsWith(folder + '/'));
  }

  async function openDay(page: IJupyterLabPageFixture): Promise<Locator> {
    const panel = await openPanel(page);
    await panel.getByRole('button', { name: `Open ${DAY}` }).click();
    await expect(page.locator('.jp-EmrWorkspace-statusItem')).toContainText(
      'Lease held'
    );
    return panel;
  }

  test('close asks about open notebooks, delete leaves nothing running', async ({
    page,
    request
  }) => {
    const created = await request.post(`${API}/workspaces`, {
      data: { name: DAY, description: "a data scientist's day" }
    });
    expect(created.status()).toBe(201);
    const workspace = (await created.json()) as IWorkspace;
    let deleted = false;
    try {
      // No Workspace open: Attach is disabled for the accessibility tree and
      // says why inline.
      let panel = await openPanelRefreshed(page);
      const attach = panel
        .getByRole('button', { name: /^Attach to Local Spark/ })
        .first();
      await expect(attach).toBeVisible({ timeout: 60000 });
      await expect(attach).toBeDisabled();
      const why = await attach.getAttribute('aria-describedby');
      expect(why).toBeTruthy();
      await expect(page.locator(`[id="${why}"]`)).toHaveText(
        'Open a Workspace to attach it to a cluster.'
      );
      await expect(page.locator(`[id="${why}"]`)).toBeVisible();

      // Open it, with a notebook and its running kernel.
      panel = await openDay(page);
      const notebookPath = `${workspace.path}/day.ipynb`;
      const put = await request.put(`/api/contents/${notebookPath}`, {
        data: {
          type: 'notebook',
          format: 'json',
          content: {
            cells: [
              {
                cell_type: 'code',
                source: 'x = 41 + 1',
                metadata: {},
                outputs: [],
                execution_count: null
              }
            ],
            metadata: {},
            nbformat: 4,
            nbformat_minor: 5
          }
        }
      });
      expect(put.ok()).toBeTruthy();
      const openNotebook = () =>
        page.evaluate(async path => {
          await window.jupyterapp.commands.execute('docmanager:open', {
            path,
            kernel: { name: 'python3' }
          });
        }, notebookPath);
      await openNotebook();
      await expect(page.locator('.jp-NotebookPanel:visible')).toContainText(
        'x = 41 + 1'
      );
      await expect
        .poll(() => sessionsIn(request, workspace.path))
        .toEqual([notebookPath]);

      // Close: asked; "Keep open read-only" shuts the kernel down and leaves
      // a read-only tab with the banner, not an editable one that cannot save.
      await openPanel(page);
      await panel.getByRole('button', { name: `Close ${DAY}` }).click();
      let dialog = page.locator('.jp-Dialog');
      await expect(dialog).toContainText('1 open document (day.ipynb)');
      await expect(dialog).toContainText('1 running kernel');
      await dialog.getByRole('button', { name: /Keep .*read-only/ }).click();
      await expect(dialog).toHaveCount(0);
      await expect(
        item(panel, DAY).locator('.jp-EmrWorkspace-state')
      ).toHaveText('Free');
      await expect.poll(() => sessionsIn(request, workspace.path)).toEqual([]);
      await page.activity.activateTab('day.ipynb');
      const notebook = page.locator('.jp-NotebookPanel:visible');
      await expect(
        notebook.locator('.jp-EmrWorkspace-closedBanner')
      ).toContainText(`Workspace "${DAY}" is closed`);
      const cell = notebook.locator('.cm-content').first();
      await expect(cell).toHaveAttribute('aria-readonly', 'true');
      await cell.click();
      await page.keyboard.press('End');
      await page.keyboard.type(' # lost?');
      await expect(cell).toHaveText('x = 41 + 1'); // typing does nothing

      // Opening it again makes the tab editable again.
      await openDay(page);
      await expect(
        notebook.locator('.jp-EmrWorkspace-closedBanner')
      ).toHaveCount(0);
      await expect(cell).not.toHaveAttribute('aria-readonly', 'true');

      // Close again: "Close them" closes the tab.
      await openPanel(page);
      await panel.getByRole('button', { name: `Close ${DAY}` }).click();
      dialog = page.locator('.jp-Dialog');
      await expect(dialog).toContainText('1 open document (day.ipynb)');
      await dialog.getByRole('button', { name: 'Close them' }).click();
      await expect(page.locator('.jp-NotebookPanel')).toHaveCount(0);
      await expect(
        item(panel, DAY).locator('.jp-EmrWorkspace-state')
      ).toHaveText('Free');

      // Delete with a kernel running in the folder: the dialog says the
      // working copy goes and what is running; afterwards nothing runs there.
      await openDay(page);
      await openNotebook();
      await expect
        .poll(() => sessionsIn(request, workspace.path))
        .toEqual([notebookPath]);
      await openPanel(page);
      await panel.getByRole('button', { name: `Delete ${DAY}` }).click();
      dialog = page.locator('.jp-Dialog');
      await expect(dialog).toContainText(
        'Its working copy on this server (the folder'
      );
      await expect(dialog).toContainText('1 running kernel');
      await expect(
        dialog.getByRole('button', { name: 'Back up now' })
      ).toBeVisible();
      await screenshot(
        dialog.locator('.jp-Dialog-content'),
        'delete-dialog-open.png'
      );
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await expect(item(panel, DAY)).toHaveCount(0);
      deleted = true;
      await expect(
        page
          .locator('.Toastify__toast')
          .filter({ hasText: `Deleted Workspace "${DAY}"` })
      ).toContainText(`/${workspace.id}/`);
      expect(await sessionsIn(request, workspace.path)).toEqual([]);
      await expect(page.locator('.jp-NotebookPanel')).toHaveCount(0);
    } finally {
      if (!deleted) {
        for (const session of (await (
          await request.get('/api/sessions')
        ).json()) as { id: string; path: string }[]) {
          if (session.path.startsWith(workspace.path + '/')) {
            await request.delete(`/api/sessions/${session.id}`);
          }
        }
        const force = await request.post(
          `${API}/workspaces/${workspace.id}/force-release`
        );
        void force;
        await request.delete(
          `${API}/workspaces/${workspace.id}?delete_notebooks=true`
        );
      }
    }
  });
});
