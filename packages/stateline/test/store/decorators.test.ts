/**
 * The Store decorators (src/store/decorators/): each passes the Store conformance suite in front of
 * a MemoryStore, and none closes the Store it wraps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { ForwardingStore } from '../../src/store/decorators/forwarding-store.js';
import { NearCacheStore } from '../../src/store/decorators/near-cache-store.js';
import { ReplicatedStore } from '../../src/store/decorators/replicated-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Store } from '../../src/store/types.js';
import { runStoreConformance } from './store.case.js';

/** `decorator` in front of its own MemoryStore; closing it closes both (the suite closes what it opens). */
function owning(decorator: Store, inner: Store): Store {
  return new (class extends ForwardingStore {
    override async close(): Promise<void> {
      await decorator.close();
      await inner.close();
    }
  })(decorator);
}

const PER_OBJECT = 'the decorated MemoryStore keeps its records in the object itself';

runStoreConformance({
  backend: 'forwarding',
  make: async (prefix) => {
    const inner = new MemoryStore({ prefix });
    return owning(new ForwardingStore(inner), inner);
  },
  perObjectState: PER_OBJECT,
});

runStoreConformance({
  backend: 'near-cache',
  make: async (prefix) => {
    const inner = new MemoryStore({ prefix });
    return owning(await NearCacheStore.open(inner, new MemoryBus({ hub: {} })), inner);
  },
  perObjectState: PER_OBJECT,
});

runStoreConformance({
  backend: 'replicated',
  make: async (prefix) => {
    const inner = new MemoryStore({ prefix });
    const bus = new MemoryBus({ hub: {} });
    const replicated = await ReplicatedStore.open(inner, bus, {
      mode: 'backup',
      instanceId: 'alone',
      timeout: 200,
    });
    return owning(replicated, inner);
  },
  perObjectState: PER_OBJECT,
});

describe('Store decorators', () => {
  it('a decorator’s close leaves the Store it wraps open; unchanged calls reach it', async () => {
    const inner = new MemoryStore();
    const bus = new MemoryBus({ hub: {} });
    const decorators = [
      new ForwardingStore(inner),
      await NearCacheStore.open(inner, bus),
      await ReplicatedStore.open(inner, bus, { mode: 'all', instanceId: 'alone', timeout: 200 }),
    ];
    for (const [i, d] of decorators.entries()) {
      assert.equal(d.backend, 'memory');
      await d.indexAdd('owner', `m${i}`, null);
      await d.close();
    }
    assert.deepEqual((await inner.indexMembers('owner')).map((e) => e.member).sort(), ['m0', 'm1', 'm2']);
    assert.deepEqual(await inner.create('still-open', 'x'), { ok: true, version: 1 });
    await inner.close();
  });
});
