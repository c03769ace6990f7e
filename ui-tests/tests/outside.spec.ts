import { expect, test } from '@jupyterlab/galata';

import { API, openWorkspaceNamed } from './helpers';

/**
 * A Spark notebook outside every Workspace (issue 14 §3): the launcher at the
 * root folder offers "PySpark (EMR Workspace)" too. Its first cell must say the
 * notebook is in no Workspace, in words built from nothing that is missing,
 * and the status bar must not show another Workspace's lease and cluster as if
 * they applied to it.
 */

const NAME = `${
  process.env.EMR_WS_UI_NAME || `ui-test-${Date.now().toString(36)}`
}-outside`;
const NOTEBOOK = `outside-${Date.now().toString(36)}.ipynb`;

// Galata's `mockState` would answer this extension's /api/workspaces too.
test.use({ mockState: false });

test.describe('A notebook outside every Workspace', () => {
  test('says so when run, and shows no Workspace status', async ({
    page,
    request
  }) => {
    const created = await request.post(`${API}/workspaces`, {
      data: { name: NAME, description: 'UI test: a notebook outside' }
    });
    expect(created.status()).toBe(201);
    const workspace = await created.json();
    try {
      // Another Workspace is open in this tab: its status is in the bar.
      await openWorkspaceNamed(page, NAME, workspace.path);
      const status = page.locator('.jp-EmrWorkspace-statusItem');
      await expect(status).toContainText(NAME);

      // A PySpark notebook at the root folder, as the launcher there makes it.
      await page.filebrowser.openDirectory('/');
      expect(
        await page.notebook.createNew(NOTEBOOK, { kernel: 'emr-pysparkkernel' })
      ).toBeTruthy();
      // The bar shows the status of the current document's Workspace: none.
      await expect(status).toHaveCount(0);

      await page.notebook.setCell(0, 'code', 'spark.range(3).count()');
      await page.notebook.runCell(0);
      const output = page.locator('.jp-OutputArea-output').first();
      await expect(output).toContainText(
        'This notebook is not in a Workspace',
        {
          timeout: 60000
        }
      );
      await expect(output).toContainText('EMR Workspaces panel');
      // Nothing built from a name that is not there.
      const text = (await output.textContent()) ?? '';
      expect(text).not.toContain('its cluster');
      expect(text).not.toContain('None');
      expect(text).not.toContain(workspace.id);
    } finally {
      const sessions = (await (await request.get('/api/sessions')).json()) as {
        id: string;
        path: string;
      }[];
      for (const session of sessions) {
        if (session.path === NOTEBOOK) {
          await request.delete(`/api/sessions/${session.id}`);
        }
      }
      await request.delete(`/api/contents/${NOTEBOOK}`);
      await request.delete(`${API}/workspaces/${workspace.id}/lock`);
      await request.delete(
        `${API}/workspaces/${workspace.id}?delete_notebooks=true`
      );
    }
  });
});
