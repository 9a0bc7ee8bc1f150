import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createStore, type Store } from '../../src/store/index.js';
import { freePort } from '../support/free-port.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { runStoreConformance } from './store.case.js';

const skip = await needService('redis');

cleanUpAfter('redis', skip);

runStoreConformance({
  backend: 'redis',
  skip,
  make: (prefix) => createStore({ type: 'redis', url: REDIS_URL, prefix }),
});

describe('redis store [redis]', { skip: skip || undefined }, () => {
  let store: Store;
  const prefix = uniquePrefix('store-redis-own');
  let raw: Store;
  before(async () => {
    store = await createStore(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`);
    raw = await createStore({ type: 'redis', url: REDIS_URL, prefix: '' });
  });
  after(async () => {
    await store.close();
    await raw.close();
  });

  it('[redis] a spec string opens a redis store with its prefix', async () => {
    assert.equal(store.backend, 'redis');
    await store.create('spec', 'v');
    assert.equal((await raw.get(`${prefix}spec`))?.value, 'v');
  });

  it('[redis] records expire on the server (PEXPIREAT), not only on read', async () => {
    const { createClient } = await import('redis');
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    try {
      await store.create('pexp', 'x', { ttl: 60_000 });
      const pttl = await c.pTTL(`${prefix}pexp`);
      assert.ok(pttl > 59_000 && pttl <= 60_000, `pttl ${pttl}`);
      // One string per record: `<version>:<expiresAt>:<value>`, expiresAt equal to the Redis expiry.
      const expiresAt = (await store.get('pexp'))!.expiresAt!;
      assert.equal(await c.get(`${prefix}pexp`), `1:${expiresAt}:x`);
      assert.equal(await c.pExpireTime(`${prefix}pexp`), expiresAt);
      await store.update('pexp', 'y:z');
      assert.equal(await c.get(`${prefix}pexp`), `2:${expiresAt}:y:z`, 'update keeps the expiry');
      assert.equal(await c.pExpireTime(`${prefix}pexp`), expiresAt);
      await store.touch('pexp', 120_000);
      const touched = (await store.get('pexp'))!.expiresAt!;
      assert.ok(touched > expiresAt + 50_000);
      assert.equal(await c.get(`${prefix}pexp`), `2:${touched}:y:z`);
      assert.equal(await c.pExpireTime(`${prefix}pexp`), touched);
      await store.touch('pexp', null);
      assert.equal(await c.get(`${prefix}pexp`), '2::y:z');
      assert.equal(await c.pTTL(`${prefix}pexp`), -1);
      await store.indexAdd('owner', 'a', Date.now() + 30_000);
      await store.indexAdd('owner', 'b', Date.now() + 90_000);
      const idxTtl = await c.pTTL(`${prefix}idx:{owner}`);
      assert.ok(idxTtl > 85_000 && idxTtl <= 90_000, `index ttl follows its latest member (${idxTtl})`);
      await store.indexRemove('owner', 'b');
      const after = await c.pTTL(`${prefix}idx:{owner}`);
      assert.ok(after > 25_000 && after <= 30_000, `index ttl shrinks after removing the latest (${after})`);
      await store.indexAdd('owner', 'c', null);
      assert.equal(
        await c.pTTL(`${prefix}idx:{owner}`),
        -1,
        'a never-expiring member makes the index persistent',
      );
    } finally {
      await c.close();
    }
  });

  it('[redis] scripts are reloaded after SCRIPT FLUSH (NOSCRIPT fallback)', async () => {
    await store.create('flush', 'a');
    const { createClient } = await import('redis');
    const t = await import('../support/redis-server.js').then((m) => m.TestRedis.start());
    try {
      const s = await createStore({ type: 'redis', url: t.url, prefix });
      const c = createClient({ url: t.url });
      await c.connect();
      await s.create('k', 'v');
      await c.scriptFlush();
      assert.deepEqual(await s.update('k', 'w', { ifVersion: 1 }), { ok: true, version: 2 });
      await c.close();
      await s.close();
    } finally {
      await t.stop();
    }
  });

  it('[redis] bad arguments are refused with SL_ERR_INVALID_ARGUMENT', async () => {
    await assert.rejects(store.create('bad', 'x', { ttl: Number.NaN }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
    );
    await assert.rejects(store.update('bad', 'x', { ifVersion: 1.5 }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
    );
    await assert.rejects(store.indexAdd('o', 'm', Number.POSITIVE_INFINITY), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
    );
  });

  it('[redis] opening against a dead port rejects with SL_ERR_STORE_UNAVAILABLE within the timeout', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(
      createStore({ type: 'redis', url: `redis://127.0.0.1:${port}`, timeout: 300 }),
      (e) => isStatelineError(e, 'SL_ERR_STORE_UNAVAILABLE') && /ECONNREFUSED/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  });

  it('[redis] a malformed url is an option error', async () => {
    await assert.rejects(createStore({ type: 'redis', url: 'http://nope' }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
    );
  });
});
