import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStore, MemoryStore } from '../../src/store/index.js';
import { runStoreConformance } from './store.case.js';

runStoreConformance({
  backend: 'memory',
  make: (prefix) => createStore({ type: 'memory', prefix }),
  perObjectState:
    'a memory store keeps its records in the object itself; there are no connections to race through',
});

describe('memory store [memory]', () => {
  it('[memory] honours an injected clock', async () => {
    let now = 1_000;
    const s = new MemoryStore({ now: () => now });
    await s.create('k', 'v', { ttl: 100 });
    assert.equal((await s.get('k'))?.expiresAt, 1_100);
    now = 1_100;
    assert.equal(await s.get('k'), null);
    await s.close();
  });
});

describe('memory store LRU bound [memory]', () => {
  it('[memory] evicts the least recently used record past maxEntries', async () => {
    const s = new MemoryStore({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c']) await s.create(k, k);
    await s.get('a'); // a is now the most recently used
    await s.create('d', 'd');
    assert.equal(await s.get('b'), null);
    assert.deepEqual(await Promise.all(['a', 'c', 'd'].map(async (k) => (await s.get(k))?.value)), [
      'a',
      'c',
      'd',
    ]);
    await s.close();
  });
});
