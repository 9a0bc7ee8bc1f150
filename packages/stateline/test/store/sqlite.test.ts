import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isStatelineError } from '../../src/errors.js';
import { createStore } from '../../src/store/index.js';
import { openSqliteStore } from '../../src/store/sqlite-store.js';
import { sleep } from '../support/free-port.js';
import { uniquePrefix } from '../support/services.js';
import { runStoreConformance } from './store.case.js';

const dir = mkdtempSync(join(tmpdir(), 'sl-sqlite-store-'));
const file = join(dir, 'state.db');
after(() => rmSync(dir, { recursive: true, force: true }));

// Every make() opens a new better-sqlite3 connection to the same file: the concurrency test's
// four stores are four real connections.
runStoreConformance({
  backend: 'sqlite',
  make: (prefix) => createStore({ type: 'sqlite', path: file, prefix }),
});

describe('sqlite store [sqlite]', () => {
  it('[sqlite] two OS processes doing 100 CAS increments each on one file end at exactly 200', async () => {
    const prefix = uniquePrefix('store-sqlite-procs');
    const store = await createStore({ type: 'sqlite', path: file, prefix });
    await store.create('counter', '0');
    const worker = new URL('./fixtures/cas-worker.ts', import.meta.url).pathname;
    const kids = [0, 1].map(() =>
      fork(worker, [file, prefix, '100'], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      }),
    );
    const results = kids.map(
      (k) =>
        new Promise<number>((resolve, reject) => {
          k.on('message', (m) => {
            if (typeof m === 'object' && m !== null && 'conflicts' in m) resolve(Number(m.conflicts));
          });
          k.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
        }),
    );
    // Start both only when both are ready, so their loops overlap.
    await Promise.all(kids.map((k) => new Promise((r) => k.once('message', r))));
    for (const k of kids) k.send('go');
    const conflicts = await Promise.all(results);
    const rec = await store.get('counter');
    assert.equal(rec?.value, '200');
    assert.equal(rec?.version, 201);
    assert.ok(conflicts[0]! + conflicts[1]! > 0, `the processes really raced (conflicts ${conflicts})`);
    await store.close();
  });

  it('[sqlite] creates the parent directory and uses WAL', async () => {
    const nested = join(dir, 'a', 'b', 'nested.db');
    const store = await createStore(`sqlite:${nested}`);
    assert.equal((await store.create('k', 'v')).ok, true);
    assert.ok(existsSync(nested));
    const raw = new Database(nested);
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
    await store.close();
  });

  it('[sqlite] :memory: is a private database', async () => {
    const a = await createStore({ type: 'sqlite', path: ':memory:' });
    const b = await createStore({ type: 'sqlite', path: ':memory:' });
    await a.create('k', 'v');
    assert.equal(await b.get('k'), null);
    await a.close();
    await b.close();
  });

  it('[sqlite] a write lock held past the timeout is SL_ERR_STORE_UNAVAILABLE, and it works again after', async () => {
    const store = await createStore({
      type: 'sqlite',
      path: file,
      prefix: uniquePrefix('busy'),
      timeout: 150,
    });
    const blocker = new Database(file);
    blocker.exec('BEGIN IMMEDIATE');
    try {
      const t0 = Date.now();
      await assert.rejects(store.create('k', 'v'), (err) =>
        isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE'),
      );
      assert.ok(Date.now() - t0 >= 100, 'waited for the busy timeout');
      await assert.rejects(store.update('k', 'v'), (err) =>
        isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE'),
      );
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    assert.deepEqual(await store.create('k', 'v'), { ok: true, version: 1 });
    await store.close();
  });

  it('[sqlite] the background sweep deletes expired records and index members in batches', async () => {
    const prefix = uniquePrefix('gc');
    const store = await openSqliteStore({ type: 'sqlite', path: file, prefix });
    for (let i = 0; i < 5; i++) await store.create(`gone${i}`, 'x', { ttl: 20 });
    await store.create('kept', 'x', { ttl: 60_000 });
    await store.indexAdd('owner', 'old', Date.now() + 20);
    await store.indexAdd('owner', 'new', null);
    await sleep(60);
    const raw = new Database(file);
    const rows = () =>
      (
        raw.prepare('SELECT count(*) AS n FROM stateline_store WHERE key LIKE ?').get(`${prefix}%`) as {
          n: number;
        }
      ).n;
    const members = () =>
      (
        raw.prepare('SELECT count(*) AS n FROM stateline_index WHERE owner = ?').get(`${prefix}owner`) as {
          n: number;
        }
      ).n;
    assert.equal(rows(), 6, 'expired rows are invisible but still stored before the sweep');
    let removed = 0;
    for (let n = store.sweep(2); n > 0; n = store.sweep(2)) removed += n;
    assert.ok(removed >= 6, `removed ${removed}`);
    assert.equal(rows(), 1);
    assert.equal(members(), 1);
    raw.close();
    await store.close();
    assert.equal(store.sweep(), 0, 'a closed store sweeps nothing');
  });
});
