import { expect, test } from '@jupyterlab/galata';

import {
  API,
  group,
  openPanel,
  openWorkspaceNamed,
  screenshot
} from './helpers';

/**
 * Run with Parameters… end to end (issue 13 §6): alice runs a notebook of her
 * open Workspace with n = 42 from the file browser's context menu, follows the
 * execution in the panel until it finishes on the local engine, and opens the
 * executed notebook from the Workspace's executions/ folder.
 *
 * Needs the server config's `c.Studio.server_owner = "alice"` (the in-process
 * runner runs its owner's executions only).
 */

const NAME = `${process.env.EMR_WS_UI_NAME || `ui-test-${Date.now().toString(36)}`}-ex-${Date.now().toString(36)}`;

// Galata's `mockState` answers every GET matching /.*\/api\/workspaces/ with
// JupyterLab's layout workspaces, which would hide this extension's
// /emr-workspace/api/workspaces (the panel would list none, and the test wait
// for an Open button that never comes): keep JupyterLab's real state.
test.use({ mockState: false });

const NOTEBOOK = {
  cells: [
    {
      cell_type: 'code',
      id: 'parameters',
      source: 'n = 10',
      metadata: { tags: ['parameters'] },
      outputs: [],
      execution_count: null
    },
    {
      cell_type: 'code',
      id: 'count',
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
    // The execution starts its own Spark session on the local engine.
    test.setTimeout(360000);
    const created = await request.post(`${API}/workspaces`, {
      data: { name: NAME, description: 'UI test: executions' }
    });
    expect(created.status()).toBe(201);
    const workspace = (await created.json()) as { id: string; path: string };
    try {
      await openWorkspaceNamed(page, NAME, workspace.path);
      const put = await request.put(
        `/api/contents/${workspace.path}/params.ipynb`,
        { data: { type: 'notebook', format: 'json', content: NOTEBOOK } }
      );
      expect(put.ok()).toBeTruthy();

      // Attach the Workspace to the local engine.
      let panel = await openPanel(page);
      const local = group(panel, 'Local');
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
      await page.evaluate(async () => {
        await window.jupyterapp.commands.execute('filebrowser:activate');
      });
      await page.evaluate(async () => {
        await window.jupyterapp.commands.execute('filebrowser:refresh');
      });
      const file = page.locator('.jp-DirListing-item', {
        hasText: 'params.ipynb'
      });
      await expect(file).toBeVisible();
      await file.click({ button: 'right' });
      await page
        .getByRole('menuitem', { name: 'Run with Parameters…' })
        .click();

      // The form shows the parameters cell's value; run with n = 42.
      const dialog = page.locator('.jp-Dialog');
      await expect(dialog).toContainText('Run params.ipynb with parameters');
      const n = dialog.locator('input[name="n"]');
      await expect(n).toHaveValue('10');
      await n.fill('42');
      await dialog.getByRole('button', { name: 'Run', exact: true }).click();
      await expect(dialog).toHaveCount(0);

      const toast = page.locator('.Toastify__toast', {
        hasText: /Execution ex-[0-9A-Z]{25} of params\.ipynb is queued/
      });
      await expect(toast).toBeVisible();
      const id = /ex-[0-9A-Z]{25}/.exec((await toast.textContent()) ?? '')![0];
      // At once: the notice closes itself after a few seconds.
      await toast.getByRole('button', { name: 'Show Executions' }).click();
      // What was submitted: the form's value, as a number.
      const submitted = await (
        await request.get(`${API}/executions/${id}`)
      ).json();
      expect(submitted.parameters).toEqual({ n: 42 });
      expect(submitted.relative_path).toBe('params.ipynb');

      // The panel follows it (it polls while something runs) to FINISHED.
      panel = await openPanel(page);
      const execution = panel.locator(`[data-execution-id="${id}"]`);
      await expect(execution).toBeVisible();
      await expect(execution.locator('.jp-EmrWorkspace-state')).toHaveText(
        'FINISHED',
        { timeout: 240000 }
      );
      await expect(
        execution.getByRole('button', { name: 'Run again' })
      ).toBeVisible();
      await expect(
        execution.getByRole('button', { name: 'Output', exact: true })
      ).toBeVisible();
      await screenshot(
        panel.locator('#jp-EmrWorkspace-executions'),
        'executions.png'
      );

      // The output reaches the Workspace's folder when it is next opened.
      await panel.getByRole('button', { name: `Close ${NAME}` }).click();
      await expect(page.locator('.jp-EmrWorkspace-statusItem')).toHaveCount(0);
      await openWorkspaceNamed(page, NAME, workspace.path);
      panel = await openPanel(page);
      await panel
        .locator(`[data-execution-id="${id}"]`)
        .getByRole('button', { name: 'Output', exact: true })
        .click();
      const output = page.locator('.jp-NotebookPanel:visible');
      // The executed copy, not the notebook it ran from.
      await expect
        .poll(() =>
          page.evaluate(
            () => (window.jupyterapp.shell.currentWidget as any)?.context?.path
          )
        )
        .toBe(`${workspace.path}/executions/${id}/params.ipynb`);
      await expect(output).toContainText('count: 42');
      // papermill's injected cell, after the parameters cell.
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
