import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createStore, type Store } from '../../src/store/index.js';
import { clusterForFile } from '../support/redis-server.js';
import { uniquePrefix } from '../support/services.js';
import { runStoreConformance } from './store.case.js';

const { skip, cluster } = await clusterForFile('redis-cluster store');

runStoreConformance({
  backend: 'redis-cluster',
  skip,
  make: (prefix) => createStore({ type: 'redis-cluster', nodes: cluster!.urls, prefix }),
});

describe('redis-cluster store [redis-cluster]', { skip: skip || undefined }, () => {
  let store: Store;
  before(async () => {
    store = await createStore(
      `redis-cluster://${cluster!.urls.map((u) => u.replace('redis://', '')).join(',')}?prefix=${encodeURIComponent(uniquePrefix('cluster-own'))}`,
    );
  });
  after(async () => {
    await store.close();
  });

  it('[redis-cluster] keys spread over every master and all operations route to their slot', async () => {
    assert.equal(store.backend, 'redis-cluster');
    const keys = Array.from({ length: 60 }, (_, i) => `spread-${i}`);
    for (const k of keys)
      assert.deepEqual(await store.create(k, k, { ttl: 60_000 }), { ok: true, version: 1 });
    for (const k of keys)
      assert.deepEqual(await store.update(k, `${k}!`, { ifVersion: 1 }), { ok: true, version: 2 });
    for (const k of keys) assert.equal((await store.get(k))?.value, `${k}!`);
    const { createClient } = await import('redis');
    let holding = 0;
    for (const url of cluster!.urls) {
      const c = createClient({ url });
      await c.connect();
      if ((await c.dbSize()) > 0) holding++;
      await c.close();
    }
    assert.equal(holding, 3, 'every master holds some of the records');
  });

  it('[redis-cluster] a record key with {owner} shares the slot of that owner index', async () => {
    await store.create('session:{u42}:a', 'x', { ttl: 60_000 });
    await store.indexAdd('u42', 'session:{u42}:a', Date.now() + 60_000);
    assert.deepEqual(
      (await store.indexMembers('u42')).map((e) => e.member),
      ['session:{u42}:a'],
    );
  });
});
