/**
 * The lab's own store server and interruption, with the fixture shop:
 * - `server/redis` with `store-restart`: the lab starts its own redis-server on a free port (never
 *   the shared 6379), restarts it at half time (recorded as a fault), and stops it afterwards.
 * - Aborting (what Ctrl-C does) ends the load at once, skips the remaining configs, closes the
 *   cluster (no instance process left), and still writes a valid report marked `aborted`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigs } from '../src/run/config.js';
import { validateReport } from '../src/run/report-schema.js';
import { runLab } from '../src/run/run-lab.js';
import { findOnPath } from '../src/run/store-server.js';

const FIXTURE = new URL('./fixtures/lab-broken-app.ts', import.meta.url).pathname;
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const noRedis = findOnPath('redis-server') === null;
if (noRedis && !IN_CI) console.log('# SKIP no redis-server on PATH: the lab store-restart test is skipped');

const out = mkdtempSync(join(tmpdir(), 'lab-faults-'));
after(() => rmSync(out, { recursive: true, force: true }));

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** The lab's child processes still alive: instances of the fixture, its redis-server. */
function children(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /lab-broken-app|redis-server/.test(l));
}

describe('lab faults', () => {
  it(
    'restarts its own redis-server at half time and removes it afterwards',
    { skip: noRedis && !IN_CI },
    async () => {
      const report = await runLab({
        configs: parseConfigs('server/redis'),
        durationMs: 4000,
        users: 6,
        instances: 2,
        faults: ['store-restart'],
        seed: 3,
        app: FIXTURE,
        write: false,
      });
      assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), []);
      const run = report.runs[0]!;
      assert.equal(run.skipped, null, String(run.skipped));
      assert.equal(run.faults.length, 1);
      const [fault] = run.faults;
      assert.equal(fault!.kind, 'store-restart');
      const m = /^redis-server:(\d+)$/.exec(fault!.target);
      assert.ok(m, `target ${fault!.target}`);
      const port = Number(m[1]);
      assert.notEqual(port, 6379, 'never the shared Redis');
      // Half time, never before; a loaded machine may start it late, but within the load.
      assert.ok(fault!.at >= 2000 && fault!.at < 4000, `at half time: ${fault!.at}`);
      assert.ok(run.requests! > 50);
      assert.equal(await listening(port), false, 'the lab’s redis-server is gone');
      assert.deepEqual(children(), []);
    },
  );

  it('an abort stops the load, runs no further config, closes everything, writes a partial report', async () => {
    const controller = new AbortController();
    let loading = false;
    const started = Date.now();
    const report = await runLab({
      configs: parseConfigs('server/sqlite,token'),
      durationMs: 30_000,
      users: 4,
      instances: 2,
      faults: ['kill', 'restart'],
      seed: 9,
      app: FIXTURE,
      out,
      signal: controller.signal,
      progress: {
        isTTY: false,
        write: (line) => {
          if (!loading && /\bload\b/.test(line)) {
            loading = true;
            setTimeout(() => controller.abort(), 1500);
          }
        },
      },
    });
    assert.ok(Date.now() - started < 25_000, 'did not wait for the 30 s duration');
    assert.equal(report.aborted, true);
    assert.equal(report.runs.length, 1, 'the second config never ran');
    const run = report.runs[0]!;
    assert.ok(run.durationMs! < 10_000, `load ended early: ${run.durationMs}`);
    assert.equal(run.duplicateOrders, null, 'no audit after an abort');
    assert.deepEqual(run.faults, [], 'the kill at 10 s never came');
    const written: unknown = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    assert.deepEqual(validateReport(written), []);
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /Interrupted/);
    assert.deepEqual(children(), []);
  });
});
