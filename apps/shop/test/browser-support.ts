/**
 * What the shop's browser tests share: the built app, the screenshot folder, one Chromium per
 * file, and (for the files that need one) a `server`-strategy cluster on SQLite started before the
 * file's tests and stopped after them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { startCluster, type Cluster } from '@stateline/lab';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../../../packages/stateline/test/support/browser.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const APP = join(ROOT, 'apps/shop/dist/server.js');
/** Where screenshots go. */
export const RESULTS = join(ROOT, 'test-results');

export interface BrowserFixture {
  /** The reason the file's browser tests skip, or false. */
  readonly skip: false | string;
  /** A temporary folder of this file's own, removed after its tests. */
  readonly dir: string;
  readonly browser: Browser;
  /** The cluster started for the file (only with `cluster: true`). */
  readonly cluster: Cluster;
}

/**
 * Registers the file's `before`/`after`: Chromium launched (and closed), the screenshot folder
 * made, and with `cluster` a gateway + 3 instances of the shop (`server` on SQLite).
 */
export function useBrowser(what: string, options: { cluster: boolean }): BrowserFixture {
  const skip = chromiumSkip(what);
  const dir = mkdtempSync(join(tmpdir(), 'shop-browser-'));
  let browser: Browser | undefined;
  let cluster: Cluster | undefined;
  before(async () => {
    if (skip) return;
    assert.ok(existsSync(APP), `${APP} is missing: run npm run build first`);
    mkdirSync(RESULTS, { recursive: true });
    if (options.cluster)
      cluster = await startCluster({
        app: APP,
        strategy: 'server',
        store: `sqlite:${join(dir, 'state.db')}`,
        port: 0,
        instances: 3,
        stdio: 'ignore',
        env: { LOG_LEVEL: 'silent' },
      });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    skip,
    dir,
    get browser() {
      assert.ok(browser, 'Chromium was not launched');
      return browser;
    },
    get cluster() {
      assert.ok(cluster, 'no cluster was started for this file');
      return cluster;
    },
  };
}

/** Opens the login page of the shop at `url` and logs in as `name` (password `stateline`). */
export async function logInAt(page: Page, url: string, name: string): Promise<void> {
  await page.goto(`${url}/#/login`);
  await fillLogin(page, name);
}

/** Fills and submits the login form already shown, and waits for the page to show `name`. */
export async function fillLogin(page: Page, name: string): Promise<void> {
  await page.getByTestId('login-username').fill(name);
  await page.getByTestId('login-password').fill('stateline');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('user').filter({ hasText: name }).waitFor();
}
