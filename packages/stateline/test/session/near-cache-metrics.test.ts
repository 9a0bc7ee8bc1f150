/** The hybrid strategy reports its near cache's hits and misses through `sessions.metrics`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { createSessions } from '../../src/session/index.js';
import { createStore } from '../../src/store/index.js';
import { Jar } from './client.js';

const KEY = 'k'.repeat(32);

describe('near cache metrics', () => {
  it('hybrid: a repeated read is a hit, a read after another instance wrote is a miss', async () => {
    const store = await createStore('memory:');
    const hub = {};
    const bus1 = new MemoryBus({ hub });
    const bus2 = new MemoryBus({ hub });
    const a = await createSessions({ strategy: 'hybrid', store, bus: bus1, keys: [KEY] });
    const b = await createSessions({ strategy: 'hybrid', store, bus: bus2, keys: [KEY] });
    try {
      assert.deepEqual([a.metrics.nearCacheHits, a.metrics.nearCacheMisses], [0, 0]);
      const jar = new Jar();
      const s = await a.load(jar.context());
      await s.update('n', () => 1);
      jar.apply((await s.commit()).setCookie);
      const before = { ...a.metrics };
      assert.equal((await a.load(jar.context())).get('n'), 1);
      assert.equal((await a.load(jar.context())).get('n'), 1);
      assert.equal(a.metrics.nearCacheHits - before.nearCacheHits, 2, 'both reads from the cache');
      assert.equal(a.metrics.nearCacheMisses, before.nearCacheMisses);

      // The other instance writes: its invalidation empties a's copy, so a's next read is a miss.
      await (await b.load(jar.context())).update('n', () => 2);
      const mid = { ...a.metrics };
      for (let i = 0; i < 100 && (await a.load(jar.context())).get('n') !== 2; i++)
        await new Promise((r) => setTimeout(r, 5));
      assert.ok(a.metrics.nearCacheMisses > mid.nearCacheMisses, 'the invalidated record was read again');
    } finally {
      await a.close();
      await b.close();
      await bus1.close();
      await bus2.close();
      await store.close();
    }
  });

  it('other strategies report zero', async () => {
    const s = await createSessions({ strategy: 'server', store: 'memory:', keys: [KEY] });
    try {
      await s.load(new Jar().context());
      assert.deepEqual([s.metrics.nearCacheHits, s.metrics.nearCacheMisses], [0, 0]);
    } finally {
      await s.close();
    }
  });
});
