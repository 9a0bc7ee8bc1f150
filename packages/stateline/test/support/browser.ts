/**
 * Headless Chromium for the browser tests: Debian's `/usr/bin/chromium` driven by playwright-core
 * (never a browser of its own download). Outside CI a missing binary skips the test with one line;
 * under CI=true the test runs and fails.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * The `skip` value for a browser test: false when Chromium is there or CI requires the test,
 * otherwise the reason (printed once per caller as a `# SKIP` line).
 */
export function chromiumSkip(what: string): false | string {
  if (existsSync(CHROMIUM) || IN_CI) return false;
  const reason = `${CHROMIUM} is not installed: the ${what} is skipped (apt-get install -y chromium)`;
  console.log(`# SKIP ${reason}`);
  return reason;
}

/** Launches headless Chromium with the flags a shared CI machine needs. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
