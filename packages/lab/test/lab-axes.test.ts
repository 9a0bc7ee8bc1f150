/**
 * `stateline lab --scale` and `--state-size`: the option parsers, the CPU probe and the
 * bottleneck rule, how cells share clusters, and a real (short) run of the shop at two instance
 * counts and two state sizes: one row per (config, instances, size) in order on one kept cluster,
 * a token that grows with the session's recently viewed list, report.html opening with "which
 * config for what" that names this run's figures, and both axes charted. In
 * headless Chromium the summary is the first thing on the page and quotes report.json's best
 * throughput. Screenshot: test-results/lab-axes.png.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OptionError } from '../src/cluster-options.js';
import { cellGroups } from '../src/run/cell-groups.js';
import { loadReport, processCpuSeconds } from '../src/run/cpu-probe.js';
import { parseConfigs } from '../src/run/config.js';
import { parseScale, parseStateSizes } from '../src/run/options.js';
import type { LabReport } from '../src/run/report.js';
import { validateReport } from '../src/run/report-schema.js';
import { runLab } from '../src/run/run-lab.js';
import { summaryLines } from '../src/run/summary.js';
import { chromiumSkip, launchChromium } from '../../stateline/test/support/browser.js';

const SHOP = new URL('../../../apps/shop/dist/server.js', import.meta.url).pathname;
const RESULTS = new URL('../../../test-results/', import.meta.url).pathname;
const skip = chromiumSkip('lab axes browser test');

describe('axis options', () => {
  it('--scale and --state-size take sorted, distinct, bounded lists', () => {
    assert.deepEqual(parseScale('4,1,2'), [1, 2, 4]);
    assert.deepEqual(parseStateSizes('100, 1,10'), [1, 10, 100]);
    assert.throws(() => parseScale('1,1'), OptionError);
    assert.throws(() => parseScale('0,2'), /--scale must be a whole number from 1 to 64/);
    assert.throws(() => parseScale('1,2,3,4,5,6,7,8,9'), /at most 8/);
    assert.throws(() => parseStateSizes('1,x'), /--state-size/);
  });
});

describe('cell groups', () => {
  const token = parseConfigs('token')[0]!;
  const cells = (gs: ReturnType<typeof cellGroups>) =>
    gs.map((g) => g.cells.map((c) => `${c.instances}/${c.stateSize}`).join(' '));
  it('one kept cluster per config through the built-in gateway, one per count behind a proxy or in netns', () => {
    assert.deepEqual(cells(cellGroups(token, 'builtin', [1, 2], [1, 100], false)), ['1/1 1/100 2/1 2/100']);
    assert.deepEqual(cells(cellGroups(token, 'haproxy', [1, 2], [1, 100], false)), [
      '1/1 1/100',
      '2/1 2/100',
    ]);
    assert.deepEqual(cells(cellGroups(token, 'builtin', [1, 2], [null], true)), ['1/null', '2/null']);
    const sw = parseConfigs('server/sqlite>hybrid/sqlite')[0]!;
    assert.deepEqual(cells(cellGroups(sw, 'builtin', [3], [1, 10], false)), ['3/1', '3/10']);
  });
});

describe('bottleneck', () => {
  const cpu = { seconds: 10, hostBusy: 0.5, storeSeconds: 2 as number | null, gatewaySeconds: 3 };
  it('names the single-threaded store or gateway near one core, else a full host, else none', () => {
    assert.equal(loadReport({ ...cpu, storeSeconds: 9.5 }, 4).bottleneck, 'store');
    assert.equal(loadReport({ ...cpu, gatewaySeconds: 9 }, 4).bottleneck, 'gateway');
    assert.equal(loadReport({ ...cpu, hostBusy: 0.95 }, 4).bottleneck, 'host-cpu');
    const idle = loadReport({ ...cpu, storeSeconds: null }, 4);
    assert.deepEqual(idle, {
      hostBusy: 0.5,
      instanceCores: 0.4,
      storeCores: null,
      gatewayCores: 0.3,
      bottleneck: 'none',
    });
  });

  it("reads a process's own CPU from /proc/<pid>/stat", { skip: process.platform !== 'linux' }, async () => {
    // The child burns 0.3 s of its own CPU (whatever the wall time on a busy machine), says so and
    // waits: its counters are read while it is alive and known to hold at least that much.
    const burn =
      'while (process.cpuUsage().user < 300000); process.stdout.write("ready"); setInterval(() => {}, 1000);';
    const child = spawn(process.execPath, ['-e', burn], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => child.stdout!.once('data', r));
    const seconds = processCpuSeconds(child.pid!);
    child.kill();
    await new Promise((r) => child.once('exit', r));
    assert.ok(seconds !== null && seconds >= 0.25, `expected ≥ 0.25 s of CPU, got ${seconds}`);
    assert.equal(processCpuSeconds(child.pid!), null);
  });
});

describe('a scale and state-size run of the shop', () => {
  const out = mkdtempSync(join(tmpdir(), 'lab-axes-'));
  let report: LabReport;
  let html: string;

  before(async () => {
    report = await runLab({
      configs: parseConfigs('token'),
      durationMs: 2500,
      users: 4,
      instances: 3,
      scale: [1, 2],
      stateSizes: [0, 100],
      faults: [],
      seed: 19,
      app: SHOP,
      out,
    });
    html = readFileSync(join(out, 'report.html'), 'utf8');
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('has one valid row per (config, instances, size), in order, with the CPU of the run', () => {
    assert.deepEqual(validateReport(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))), []);
    assert.deepEqual(
      report.runs.map((r) => [r.config, r.instances, r.stateSize, r.skipped]),
      [
        ['token', 1, 0, null],
        ['token', 1, 100, null],
        ['token', 2, 0, null],
        ['token', 2, 100, null],
      ],
    );
    for (const r of report.runs) {
      assert.ok(r.throughput! > 0 && r.bytesPerRequest! > 0 && r.cpuSecondsPer1k! > 0);
      assert.ok(r.load && r.load.hostBusy > 0 && r.load.gatewayCores > 0);
      // SQLite runs inside the instances: no store server of the lab's to measure.
      assert.equal(r.storeCpuSecondsPer1k, null);
    }
  });

  it('100 recently viewed entries in the session make token requests larger, nothing lost', () => {
    const at = (n: number, size: number) =>
      report.runs.find((r) => r.instances === n && r.stateSize === size)!;
    // A cell on a busy machine may spend its 2.5 s mostly signing in: one count must show it.
    const growth = [1, 2].map((n) => at(n, 100).requestHeaderBytes! - at(n, 0).requestHeaderBytes!);
    assert.ok(
      Math.max(...growth) > 300,
      `request header bytes grew by ${growth.join(' and ')} from 0 to 100 views`,
    );
    for (const n of [1, 2]) assert.deepEqual([at(n, 100).sessionsLost, at(n, 100).errors], [0, 0]);
  });

  it('a saturated host: when every config lost throughput with more instances, the summary says so', () => {
    const down = {
      ...report,
      runs: report.runs.map((r) => ({ ...r, throughput: r.instances === 1 ? 200 : 150 })),
    };
    const line = summaryLines(down).find((l) => l.startsWith('To scale out'))!;
    assert.match(
      line,
      /no config gained from 1 to 2 instances; `token` lost least \(200 → 150 req\/s, ×0\.75\)/,
    );
  });

  it('the cells share one cluster: the second size at a count starts nothing', () => {
    for (const n of [1, 2]) {
      const [a, b] = report.runs.filter((r) => r.instances === n);
      assert.ok(b!.startupMs! * 3 < a!.startupMs!, `×${n}: ${a!.startupMs} then ${b!.startupMs} ms`);
    }
  });

  it('report.html opens with the summary, then the table, then both axes charted', () => {
    const lines = summaryLines(report);
    assert.ok(lines.length >= 4 && lines.length <= 5, lines.join('\n'));
    assert.match(
      lines.find((l) => l.startsWith('As state grows'))!,
      /from 0 to 100 items/,
    );
    assert.match(
      lines.find((l) => l.startsWith('To scale out'))!,
      /from 1 to 2 instances/,
    );
    const order = [
      'id="summary"',
      '<table>',
      'id="scale-throughput"',
      'id="size-bytesPerRequest"',
      'What this run shows',
    ];
    const at = order.map((s) => html.indexOf(s));
    assert.ok(
      at.every((i) => i > 0),
      `missing: ${order.filter((_, i) => at[i]! < 0).join(', ')}`,
    );
    assert.deepEqual(
      [...at].sort((a, b) => a - b),
      at,
    );
    for (const id of ['scale-throughput', 'scale-p99', 'size-bytesPerRequest', 'size-throughput'])
      assert.match(html, new RegExp(`<figure id="${id}"><svg`));
  });

  it(
    'in Chromium, the summary comes first and names a figure from report.json',
    { skip, timeout: 30_000 },
    async () => {
      const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as LabReport;
      const top = Math.max(...json.runs.map((r) => r.throughput ?? 0));
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        await page.goto(`file://${join(out, 'report.html')}`);
        const first = await page.locator('h2').first().textContent();
        assert.equal(first, 'Which config for what');
        const summary = await page.locator('#summary').innerText();
        assert.ok(
          summary.includes(`${top.toLocaleString('en-US', { maximumFractionDigits: 0 })} req/s`),
          `summary does not quote ${top} req/s:\n${summary}`,
        );
        const box = await page.locator('#summary').boundingBox();
        assert.ok(box && box.y < 900, 'the summary is above the fold');
        assert.equal(await page.locator('#scale-throughput svg').count(), 1);
        mkdirSync(RESULTS, { recursive: true });
        await page.screenshot({ path: join(RESULTS, 'lab-axes.png'), fullPage: false });
      } finally {
        await browser.close();
      }
    },
  );
});
