/**
 * `server/memcached` in the lab: the config parses, the lab starts its own memcached on a free port
 * for sessions beside a fresh SQLite file, a restart empties it (what a memcached restart does), and
 * a run of the reference shop on it serves its users with the sessions in that memcached.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createStore } from 'stateline/store';
import { parseConfig, parseConfigs } from '../src/run/config.js';
import { validateReport } from '../src/run/report-schema.js';
import { runLab } from '../src/run/run-lab.js';
import { findOnPath, prepareStore } from '../src/run/store-server.js';

const SHOP = new URL('../../../apps/shop/dist/server.js', import.meta.url).pathname;
const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const missing =
  findOnPath('memcached') === null
    ? 'no memcached on PATH'
    : !existsSync(SHOP)
      ? 'the shop is not built'
      : false;
if (missing && IN_CI) throw new Error(`CI=true but ${missing}: the lab memcached tests cannot run`);
if (missing) console.log(`# SKIP ${missing}: the lab memcached tests are skipped`);

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('lab server/memcached', { skip: missing || undefined }, () => {
  it('parses as the server strategy on the memcached store', () => {
    assert.deepEqual(parseConfig('server/memcached'), {
      name: 'server/memcached',
      strategy: 'server',
      store: 'memcached',
      bus: 'ipc',
      balance: 'round-robin',
      replication: 'off',
      switchTo: null,
      workload: null,
      credentials: 'cookie',
    });
    assert.equal(parseConfig('hybrid/memcached/sticky').store, 'memcached');
  });

  it('starts its own memcached for sessions beside SQLite; a restart empties it; close removes it', async () => {
    const handle = await prepareStore('memcached', { postgres: 'postgres://unused' });
    assert.ok(!('skipped' in handle), 'skipped' in handle ? handle.skipped : '');
    const port = Number(/^memcached:(\d+)$/.exec(handle.target ?? '')?.[1]);
    assert.ok(port > 0 && port !== 11211, `target ${handle.target}`);
    assert.match(handle.spec, /^sqlite:/);
    assert.equal(handle.sessionSpec, `memcached://127.0.0.1:${port}`);
    const store = await createStore(handle.sessionSpec!);
    try {
      await store.create('s', 'x');
      assert.equal((await store.get('s'))?.value, 'x');
      await handle.restart!();
      // The driver marks a server it lost as failed for a second before it tries again.
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(await store.get('s'), null, 'a memcached restart loses every session');
    } finally {
      await store.close();
      await handle.close();
    }
    assert.equal(await listening(port), false);
  });

  it('runs the shop with its sessions in the lab’s memcached', async () => {
    const report = await runLab({
      configs: parseConfigs('server/memcached'),
      durationMs: 4000,
      users: 6,
      instances: 2,
      faults: [],
      seed: 5,
      app: SHOP,
      write: false,
    });
    assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), []);
    const run = report.runs[0]!;
    assert.equal(run.skipped, null, String(run.skipped));
    assert.equal(run.store, 'memcached');
    assert.ok(run.requests! > 50, `requests ${run.requests}`);
    assert.equal(run.sessionsLost, 0);
  });
});
