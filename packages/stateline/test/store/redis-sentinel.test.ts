import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createStore } from '../../src/store/index.js';
import { sentinelForFile } from '../support/redis-sentinel.js';
import { uniquePrefix } from '../support/services.js';
import { runStoreConformance } from './store.case.js';

const { skip, set } = await sentinelForFile('redis-sentinel store');

runStoreConformance({
  backend: 'redis-sentinel',
  skip,
  make: (prefix) =>
    createStore({ type: 'redis-sentinel', sentinels: set!.sentinels, name: set!.name, prefix }),
});

describe('redis-sentinel store [redis-sentinel]', { skip: skip || undefined }, () => {
  it('[redis-sentinel] a spec finds the primary through the sentinels and writes there', async () => {
    const prefix = uniquePrefix('sentinel-own');
    const store = await createStore(set!.spec(`?prefix=${encodeURIComponent(prefix)}`));
    after(() => store.close());
    assert.equal(store.backend, 'redis-sentinel');
    await store.create('k', 'v');
    const primary = await set!.primaryPort();
    assert.equal(await set!.cli(primary, 'EXISTS', `${prefix}k`), '1');
    assert.match(await set!.cli(primary, 'ROLE'), /^master/);
  });
});
