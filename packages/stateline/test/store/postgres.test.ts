import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isStatelineError } from '../../src/errors.js';
import { createLog } from '../../src/log/index.js';
import { createStore, type Store } from '../../src/store/index.js';
import { sweepPostgresStore } from '../../src/store/postgres-store.js';
import { FlakyProxy } from './flaky-proxy.js';
import { eventually, freePort, sleep } from '../support/free-port.js';
import { POSTGRES_URL, needService, uniquePrefix } from '../support/services.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { runStoreConformance } from './store.case.js';

const skip = await needService('postgres');

cleanUpAfter('postgres', skip, [
  ['stateline_store', 'key'],
  ['stateline_index', 'owner'],
]);

runStoreConformance({
  backend: 'postgres',
  // Small pools: the shared server has 100 connection slots for everyone.
  make: (prefix) => createStore({ type: 'postgres', url: POSTGRES_URL, prefix, poolSize: 3 }),
  skip,
});

const unavailable = (err: unknown) => isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE');

/** Rejects with SL_ERR_STORE_UNAVAILABLE, and not much later than `within` ms. */
async function rejectsUnavailableWithin(work: Promise<unknown>, within: number): Promise<void> {
  const t0 = Date.now();
  await assert.rejects(work, unavailable);
  const took = Date.now() - t0;
  assert.ok(took <= within, `took ${took} ms (allowed ${within})`);
}

describe('postgres store: reaching the server [postgres]', { skip }, () => {
  it('[postgres] a store pointed at a port where nothing listens rejects with SL_ERR_STORE_UNAVAILABLE within its timeout', async () => {
    const url = new URL(POSTGRES_URL);
    url.port = String(await freePort());
    await rejectsUnavailableWithin(
      createStore({ type: 'postgres', url: url.toString(), timeout: 500 }),
      1000,
    );
  });

  it('[postgres] a server that accepts but never answers is given up on within the timeout', async () => {
    const proxy = await FlakyProxy.start(POSTGRES_URL);
    try {
      await proxy.blackhole();
      await rejectsUnavailableWithin(
        createStore({ type: 'postgres', url: proxy.url(POSTGRES_URL), timeout: 500 }),
        1000,
      );
    } finally {
      await proxy.stop();
    }
  });

  it('[postgres] a lost server fails calls quickly, and the store heals by itself when it is back', async () => {
    const proxy = await FlakyProxy.start(POSTGRES_URL);
    const store = await createStore({
      type: 'postgres',
      url: proxy.url(POSTGRES_URL),
      prefix: uniquePrefix('pg-outage'),
      timeout: 500,
      poolSize: 2,
    });
    try {
      assert.deepEqual(await store.create('k', 'v'), { ok: true, version: 1 });
      await proxy.cut();
      await rejectsUnavailableWithin(store.get('k'), 1000);
      await rejectsUnavailableWithin(store.update('k', 'w'), 1000);
      await proxy.restore();
      const rec = await eventually(() => store.get('k'), 5000, 50);
      assert.equal(rec?.value, 'v');
      assert.deepEqual(await store.update('k', 'w'), { ok: true, version: 2 });
    } finally {
      await store.close();
      await proxy.stop();
    }
  });

  it('[postgres] a server that stops answering mid-session times calls out, and the store recovers', async () => {
    const proxy = await FlakyProxy.start(POSTGRES_URL);
    const store = await createStore({
      type: 'postgres',
      url: proxy.url(POSTGRES_URL),
      prefix: uniquePrefix('pg-hang'),
      timeout: 400,
      poolSize: 2,
    });
    try {
      await store.create('k', 'v');
      await proxy.blackhole();
      await rejectsUnavailableWithin(store.get('k'), 900);
      await rejectsUnavailableWithin(store.indexMembers('o'), 900);
      await proxy.restore();
      const rec = await eventually(() => store.get('k'), 5000, 50);
      assert.equal(rec?.value, 'v');
    } finally {
      await store.close();
      await proxy.stop();
    }
  });
});

describe('postgres store: rows and expiry [postgres]', { skip }, () => {
  let store: Store;
  let raw: pg.Client;
  const prefix = uniquePrefix('pg-rows');
  before(async () => {
    store = await createStore({ type: 'postgres', url: POSTGRES_URL, prefix, poolSize: 2 });
    raw = new pg.Client({ connectionString: POSTGRES_URL });
    await raw.connect();
  });
  after(async () => {
    await raw.query('DELETE FROM stateline_store WHERE key LIKE $1', [`${prefix}%`]);
    await raw.query('DELETE FROM stateline_index WHERE owner LIKE $1', [`${prefix}%`]);
    await raw.end();
    await store.close();
  });
  const rowCount = async (table: 'stateline_store' | 'stateline_index', col: 'key' | 'owner') =>
    Number(
      (await raw.query(`SELECT count(*) AS n FROM ${table} WHERE ${col} LIKE $1`, [`${prefix}%`])).rows[0].n,
    );

  it('[postgres] the prefix is part of the key column, and expired rows are swept in the background, live ones kept', async () => {
    await store.create('live', 'x', { ttl: 60_000 });
    await store.create('dies', 'x', { ttl: 50 });
    await store.indexAdd('owner', 'old', Date.now() - 1);
    await store.indexAdd('owner', 'new', null);
    const keys = (
      await raw.query('SELECT key FROM stateline_store WHERE key LIKE $1 ORDER BY key', [`${prefix}%`])
    ).rows.map((r) => r.key);
    assert.deepEqual(keys, [`${prefix}dies`, `${prefix}live`]);
    await sleep(120);
    assert.equal(
      await rowCount('stateline_store', 'key'),
      2,
      'expired rows stay until swept (never deleted on the hot path of get)',
    );
    assert.equal(await store.get('dies'), null);
    await sweepPostgresStore(store);
    assert.equal(await rowCount('stateline_store', 'key'), 1);
    assert.equal(await rowCount('stateline_index', 'owner'), 1);
    assert.equal((await store.get('live'))?.value, 'x');
  });

  it('[postgres] a compare-and-set that lost to a concurrent writer reports the version that writer committed', async () => {
    await store.create('cas', 'v1');
    await raw.query('BEGIN');
    await raw.query('UPDATE stateline_store SET value = $2, version = version + 1 WHERE key = $1', [
      `${prefix}cas`,
      'other',
    ]);
    const pending = store.update('cas', 'mine', { ifVersion: 1 });
    await sleep(150); // the update now waits for the row lock
    await raw.query('COMMIT');
    assert.deepEqual(await pending, { ok: false, reason: 'conflict', version: 2 });
    assert.deepEqual(await store.get('cas'), { value: 'other', version: 2, expiresAt: null });
  });

  it('[postgres] delete reports false for an expired key but removes its row', async () => {
    await store.create('gone', 'x', { ttl: 30 });
    await sleep(80);
    assert.equal(await store.delete('gone'), false);
    assert.equal(
      Number(
        (await raw.query('SELECT count(*) AS n FROM stateline_store WHERE key = $1', [`${prefix}gone`]))
          .rows[0].n,
      ),
      0,
    );
  });

  it('[postgres] NUL characters and non-finite ttls are refused as invalid arguments, not as outages', async () => {
    const invalid = (err: unknown) => isStatelineError(err, 'SL_ERR_INVALID_ARGUMENT');
    await assert.rejects(store.create('nul', 'a\0b'), invalid);
    await assert.rejects(store.get('a\0b'), invalid);
    await assert.rejects(store.create('inf', 'x', { ttl: Number.POSITIVE_INFINITY }), invalid);
    await assert.rejects(store.update('inf', 'x', { ifVersion: 1.5 }), invalid);
    assert.equal((await store.create('after', 'still works')).ok, true);
  });

  it('[postgres] several stores and logs opening at once on an empty database create their schemas without racing', async () => {
    // A private schema stands in for an empty database: search_path sends the tables there.
    const schema = `sltest_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    await raw.query(`CREATE SCHEMA ${schema}`);
    try {
      const url = new URL(POSTGRES_URL);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const tables = async () =>
        (
          await raw.query(
            'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
            [schema],
          )
        ).rows.map((r: { table_name: string }) => r.table_name);
      const many = await Promise.all(
        Array.from({ length: 4 }, () =>
          createStore({ type: 'postgres', url: url.toString(), prefix, poolSize: 1 }),
        ),
      );
      const opened: { close(): Promise<void> }[] = [...many];
      try {
        // Each backend creates its own tables: a Store alone makes no Log tables.
        assert.deepEqual(await tables(), ['stateline_index', 'stateline_store']);
        // Logs and one more Store at once: the same lock serialises both schemas.
        const [logs, late] = await Promise.all([
          Promise.all(
            Array.from({ length: 2 }, () =>
              createLog({ type: 'postgres', url: url.toString(), prefix, poolSize: 1 }),
            ),
          ),
          createStore({ type: 'postgres', url: url.toString(), prefix, poolSize: 1 }),
        ]);
        opened.push(...logs, late);
        assert.deepEqual(await tables(), [
          'stateline_index',
          'stateline_log',
          'stateline_log_fence',
          'stateline_log_key',
          'stateline_log_meta',
          'stateline_store',
        ]);
        assert.equal((await logs[0]!.append('s', 'x')).offset, 1);
        assert.deepEqual(
          await Promise.all(many.map((s, i) => s.create(`k${i}`, 'v'))),
          many.map(() => ({ ok: true, version: 1 })),
        );
        assert.equal(
          Number((await raw.query(`SELECT count(*) AS n FROM ${schema}.stateline_store`)).rows[0].n),
          4,
        );
      } finally {
        await Promise.all(opened.map((s) => s.close()));
      }
    } finally {
      await raw.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});
