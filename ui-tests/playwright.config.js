/**
 * Galata (Playwright) configuration for the UI tests.
 *
 * The browser is Debian's Chromium: Playwright's own browser download does not
 * work here (never run `npx playwright install`).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = process.env.EMR_WS_UI_PORT || '8888';

// One Workspace name per run, the same in every worker (a worker restarts
// after a failed test and loads the test file again).
process.env.EMR_WS_UI_NAME =
  process.env.EMR_WS_UI_NAME || `ui-test-${Date.now().toString(36)}`;

module.exports = {
  ...baseConfig,
  // The scenarios share one server and build on each other.
  workers: 1,
  // A retry on CI tells a flaky test from a broken one, but never hides it:
  // a test that passes only on its retry fails the run.
  retries: process.env.CI ? 1 : 0,
  failOnFlakyTests: !!process.env.CI,
  timeout: 120 * 1000,
  expect: { timeout: 20 * 1000 },
  outputDir: 'test-results',
  reporter: [
    [process.env.CI ? 'line' : 'list'],
    ['html', { open: 'never', outputFolder: 'playwright-report' }]
  ],
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${port}`,
    video: 'off',
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    command: 'jlpm start',
    url: `http://localhost:${port}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI
  }
};
