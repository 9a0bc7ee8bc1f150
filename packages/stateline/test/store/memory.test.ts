import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStore, MemoryStore } from '../../src/store/index.js';
import { runStoreConformance } from './store.case.js';

runStoreConformance({
  backend: 'memory',
  make: (prefix) => createStore({ type: 'memory', prefix }),
  perObjectState: 'a memory store keeps its records in the object itself; there are no connections to race through',
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
