import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

/**
 * Run with Parameters… end to end (issue 13 §6): alice runs a notebook of her
 * open Workspace with n = 42 from the file browser's context menu, follows the
 * execution in the panel until it finishes on the local engine, and opens the
 * executed notebook from the Workspace's executions/ folder.
 *
 * Needs the server config's `c.Studio.server_owner = "alice"` (the in-process
 * runner runs its owner's executions only).
 */

const API = '/emr-workspace/api';
const PANEL_ID = 'jp-emr-workspace-panel';
const NAME = `${process.env.EMR_WS_UI_NAME || `ui-test-${Date.now().toString(36)}`}-ex`;

async function openPanel(page: IJupyterLabPageFixture): Promise<Locator> {
  const panel = page.locator(`#${PANEL_ID}`);
  await expect(async () => {
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('emr-workspace:show-panel');
    });
    await expect(panel).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 20000 });
  return panel;
}

async function openWorkspace(page: IJupyterLabPageFixture): Promise<Locator> {
  const panel = await openPanel(page);
  await panel.getByRole('button', { name: `Open ${NAME}` }).click();
  await expect(page.locator('.jp-EmrWorkspace-statusItem')).toContainText(
    'Lease held'
  );
  return panel;
}

const NOTEBOOK = {
  cells: [
    {
      cell_type: 'code',
      source: 'n = 10',
      metadata: { tags: ['parameters'] },
      outputs: [],
      execution_count: null
    },
    {
      cell_type: 'code',
      source: 'print("count:", spark.range(n).count())',
      metadata: {},
      outputs: [],
      execution_count: null
    }
  ],
  metadata: {
    kernelspec: {
      name: 'emr-pysparkkernel',
      display_name: 'PySpark',
      language: 'python'
    }
  },
  nbformat: 4,
  nbformat_minor: 5
};

test.describe('Notebook executions', () => {
  test('run a notebook with parameters from the UI and open its output', async ({
    page,
    request
  }) => {
    test.setTimeout(600000);
    const created = await request.post(`${API}/workspaces`, {
      data: { name: NAME }
    });
    expect(created.status()).toBe(201);
    const workspace = (await created.json()) as { id: string; path: string };
    try {
      let panel = await openWorkspace(page);
      const put = await request.put(
        `/api/contents/${workspace.path}/params.ipynb`,
        { data: { type: 'notebook', format: 'json', content: NOTEBOOK } }
      );
      expect(put.ok()).toBeTruthy();

      // Attach the Workspace to the local engine.
      const local = panel.locator('.jp-EmrWorkspace-group', {
        has: page.getByRole('heading', { name: 'Local', exact: true })
      });
      await expect(local).toBeVisible({ timeout: 60000 });
      await local
        .getByRole('button', { name: /^Attach to / })
        .first()
        .click();
      await expect(page.locator('.jp-EmrWorkspace-statusCluster')).toHaveText(
        'Cluster: Local Spark (this server)',
        { timeout: 120000 }
      );

      // The file browser's context menu on the notebook.
      await page.evaluate(async path => {
        await window.jupyterapp.commands.execute('filebrowser:go-to-path', {
          path
        });
      }, workspace.path);
      const file = page.locator('.jp-DirListing-item', {
        hasText: 'params.ipynb'
      });
      await expect(file).toBeVisible({ timeout: 20000 });
      await file.click({ button: 'right' });
      await page.getByRole('menuitem', { name: 'Run with Parameters…' }).click();

      // The form shows the parameters cell's value; run with n = 42.
      const dialog = page.locator('.jp-Dialog');
      const n = dialog.locator('input[name="n"]');
      await expect(n).toHaveValue('10');
      await n.fill('42');
      await dialog.locator('select[name="output_format"]').selectOption('both');
      await dialog.getByRole('button', { name: 'Run', exact: true }).click();

      const toast = page.locator('.Toastify__toast', {
        hasText: /Execution ex-[0-9A-Z]{25} of params\.ipynb is queued/
      });
      await expect(toast).toBeVisible({ timeout: 20000 });
      const id = /ex-[0-9A-Z]{25}/.exec((await toast.textContent()) ?? '')![0];
      await toast.getByRole('button', { name: 'Show Executions' }).click();

      panel = await openPanel(page);
      const execution = panel.locator(`[data-execution-id="${id}"]`);
      await expect(execution).toBeVisible();
      await expect(execution).toContainText('FINISHED', { timeout: 480000 });
      await expect(
        execution.getByRole('button', { name: 'Run again' })
      ).toBeVisible();

      // The output reaches the Workspace's folder when it is next opened.
      await page.evaluate(async () => {
        await window.jupyterapp.commands.execute('emr-workspace:close');
      });
      await expect(page.locator('.jp-EmrWorkspace-statusItem')).toHaveCount(0, {
        timeout: 30000
      });
      panel = await openWorkspace(page);
      await panel
        .locator(`[data-execution-id="${id}"]`)
        .getByRole('button', { name: 'Output', exact: true })
        .click();
      const output = page.locator('.jp-NotebookPanel:visible');
      await expect(output).toContainText('count: 42', { timeout: 30000 });
      await expect(output).toContainText('n = 42');
    } finally {
      for (const session of (await (
        await request.get('/api/sessions')
      ).json()) as { id: string; path: string }[]) {
        if (session.path.startsWith(workspace.path + '/')) {
          await request.delete(`/api/sessions/${session.id}`);
        }
      }
      await request.delete(`${API}/workspaces/${workspace.id}/lock`);
      await request.delete(
        `${API}/workspaces/${workspace.id}?delete_notebooks=true`
      );
    }
  });
});
