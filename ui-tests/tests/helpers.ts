import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

/**
 * What the UI specs share: the panel, its cluster groups, and README screenshots.
 */

export const API = '/emr-workspace/api';
export const PANEL_ID = 'jp-emr-workspace-panel';

// Kept after the run (Playwright empties test-results/ when a run starts);
// the best ones are copied to docs/screenshots/ for the README.
export const SCREENSHOTS = path.join(
  __dirname,
  '..',
  'test-results',
  'screenshots'
);

/**
 * Show the panel. The command only activates (clicking the tab of an open
 * panel closes it); retried, as opening a Workspace ends by activating the
 * file browser, which may hide the panel again just after it was shown.
 */
export async function openPanel(
  page: IJupyterLabPageFixture
): Promise<Locator> {
  const panel = page.locator(`#${PANEL_ID}`);
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

/** The panel's group of clusters of one source, by its heading. */
export function group(panel: Locator, label: string): Locator {
  return panel.locator('.jp-EmrWorkspace-group', {
    has: panel.page().getByRole('heading', { name: label, exact: true })
  });
}

/** An entry of a list (Workspaces, clusters) by its accessible name. */
export function listItem(scope: Locator, name: string): Locator {
  return scope.getByRole('listitem', { name, exact: true });
}

/**
 * Width and height of a PNG file (its IHDR chunk).
 */
function pngSize(file: string): { width: number; height: number } {
  const bytes = fs.readFileSync(file);
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/**
 * Write a screenshot of `locator` and check it is what it claims: the element
 * is visible, and the file is a PNG of the element's size (not an empty or
 * clipped shot).
 */
export async function screenshot(
  locator: Locator,
  file: string,
  testInfo = test.info()
): Promise<{ width: number; height: number }> {
  await expect(locator).toBeVisible();
  const box = (await locator.boundingBox())!;
  expect(box.width).toBeGreaterThan(20);
  expect(box.height).toBeGreaterThan(10);
  const scale = await locator.page().evaluate(() => window.devicePixelRatio);
  const target = path.join(SCREENSHOTS, file);
  fs.rmSync(target, { force: true });
  await locator.screenshot({ path: target });
  const size = pngSize(target);
  expect(Math.abs(size.width - box.width * scale)).toBeLessThanOrEqual(
    2 * scale
  );
  expect(Math.abs(size.height - box.height * scale)).toBeLessThanOrEqual(
    2 * scale
  );
  // A real picture, not a blank: PNG compresses a flat image to almost nothing.
  expect(fs.statSync(target).size).toBeGreaterThan(
    (size.width * size.height) / 200
  );
  await testInfo.attach(file, { path: target, contentType: 'image/png' });
  return size;
}

/**
 * Open the Workspace `name` from the panel; done when the file browser shows
 * its folder `path`. The panel is refreshed first, as a user would: it lists a
 * Workspace created through the API at its next poll only (every 30 s).
 */
export async function openWorkspaceNamed(
  page: IJupyterLabPageFixture,
  name: string,
  path: string
): Promise<Locator> {
  const panel = await openPanel(page);
  await panel.getByRole('button', { name: 'Refresh Workspaces' }).click();
  await panel.getByRole('button', { name: `Open ${name}` }).click();
  await expect(page.locator('.jp-EmrWorkspace-statusItem')).toContainText(
    'Lease held'
  );
  await expect.poll(() => page.filebrowser.getCurrentDirectory()).toBe(path);
  return panel;
}
