/**
 * report.html from a real (short) lab run of the fixture shop, two configs with an instance killed
 * and restarted: self-contained (no script, no external URL), and in headless Chromium it opens
 * without a console error and shows every chart as a drawn SVG (timelines with their fault
 * markers, one bar chart per measure). Screenshot: test-results/lab-report.png. Outside CI a
 * missing /usr/bin/chromium skips the browser half with one line.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BAR_MEASURES } from '../src/run/charts.js';
import { parseConfigs } from '../src/run/config.js';
import type { LabReport } from '../src/run/report.js';
import { validateReport } from '../src/run/report-schema.js';
import { runLab } from '../src/run/run-lab.js';
import { chromiumSkip, launchChromium } from '../../stateline/test/support/browser.js';

const FIXTURE = new URL('./fixtures/lab-broken-app.ts', import.meta.url).pathname;
const RESULTS = new URL('../../../test-results/', import.meta.url).pathname;
const skip = chromiumSkip('lab report browser test');

const out = mkdtempSync(join(tmpdir(), 'lab-html-'));
let report: LabReport;
let html: string;

before(async () => {
  report = await runLab({
    configs: parseConfigs('server/sqlite,memory/sticky'),
    durationMs: 3000,
    users: 6,
    instances: 2,
    faults: ['kill', 'restart'],
    seed: 5,
    app: FIXTURE,
    out,
  });
  html = readFileSync(join(out, 'report.html'), 'utf8');
});
after(() => rmSync(out, { recursive: true, force: true }));

describe('lab report files', () => {
  it('report.json is schema 2 and valid; report.md has the table and the findings', () => {
    const json: unknown = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    assert.deepEqual(validateReport(json), []);
    assert.deepEqual(json, JSON.parse(JSON.stringify(report)));
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    assert.match(md, /\| server\/sqlite \|/);
    assert.match(md, /\| memory\/sticky \|/);
    assert.match(md, /## What this run shows/);
    assert.match(md, /kill i\d at \d+\.\d s/);
  });

  it('report.html is self-contained: no script, no external URL', () => {
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /https?:\/\//);
    assert.doesNotMatch(html, /\b(src|href)=/);
    assert.equal((html.match(/<svg/g) ?? []).length, report.runs.length + BAR_MEASURES.length);
  });

  it(
    'opens in headless Chromium without errors and draws every chart',
    { skip, timeout: 30_000 },
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const problems: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        page.on('request', (r) => {
          if (!r.url().startsWith('file:')) problems.push(`request: ${r.url()}`);
        });
        await page.goto(`file://${join(out, 'report.html')}`);
        for (const run of report.runs) {
          const id = `timeline-${run.config.replace(/[^a-z0-9]+/gi, '-')}`;
          const svg = page.locator(`#${id} svg`);
          const box = await svg.boundingBox();
          assert.ok(box && box.width > 600 && box.height > 150, `${id} drawn: ${JSON.stringify(box)}`);
          // Three panels with a line each, and the fault rules.
          assert.ok((await page.locator(`#${id} svg path`).count()) > 10, `${id} has marks`);
          const labels = await page.locator(`#${id} svg text`).allTextContents();
          assert.ok(
            labels.some((t) => /^kill i\d$/.test(t)),
            `kill marked in ${id}`,
          );
          assert.ok(
            labels.some((t) => /^restart i\d$/.test(t)),
            `restart marked in ${id}`,
          );
        }
        for (const [field] of BAR_MEASURES) {
          const box = await page.locator(`#bars-${field} svg`).boundingBox();
          assert.ok(box && box.width > 200 && box.height > 40, `bars-${field} drawn: ${JSON.stringify(box)}`);
        }
        mkdirSync(RESULTS, { recursive: true });
        await page.screenshot({ path: join(RESULTS, 'lab-report.png'), fullPage: true });
        assert.deepEqual(problems, []);
      } finally {
        await browser.close();
      }
    },
  );
});
