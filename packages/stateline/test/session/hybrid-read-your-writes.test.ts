/**
 * Hybrid read-your-writes: two managers are two instances sharing one Store and one Bus whose
 * delivery the test holds back. Whatever the Bus does, a client never reads a session version
 * older than one it was already answered with, on either instance.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import type { Bus, BusHandler } from '../../src/bus/types.js';
import { cookieSettings, readVersion } from '../../src/session/cookie.js';
import { createSessions } from '../../src/session/index.js';
import type { SessionManager } from '../../src/session/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { ForwardingStore } from '../../src/store/decorators/forwarding-store.js';
import { NearCacheStore } from '../../src/store/decorators/near-cache-store.js';
import type { Store, StoredRecord } from '../../src/store/types.js';
import { Jar, KEY_A, request } from './client.js';

/** A Bus whose deliveries wait while `held` (then arrive in order on `release()`), or are dropped. */
class GatedBus implements Bus {
  readonly backend = 'memory' as const;
  held = false;
  drop = false;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly inner: Bus) {}
  publish(channel: string, message: string): Promise<void> {
    return this.inner.publish(channel, message);
  }
  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    return this.inner.subscribe(channel, (m, c) => {
      if (this.drop) return;
      if (this.held) this.queue.push(() => handler(m, c));
      else handler(m, c);
    });
  }
  release(): void {
    this.held = false;
    for (const deliver of this.queue.splice(0)) deliver();
  }
  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.inner.onConnectionChange(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A Store that can hold back the answer of its next read (the read itself happens at once). */
class SlowReads extends ForwardingStore {
  private next: Promise<void> | null = null;
  private opener: (() => void) | null = null;
  holdNext(): void {
    this.next = new Promise((r) => (this.opener = r));
  }
  open(): void {
    this.opener?.();
  }
  override async get(key: string): Promise<StoredRecord | null> {
    const gate = this.next;
    this.next = null;
    const rec = await this.inner.get(key);
    if (gate) await gate;
    return rec;
  }
  override close(): Promise<void> {
    return this.inner.close();
  }
}

async function twoInstances(store: Store) {
  const hub = {};
  const busA = new GatedBus(new MemoryBus({ hub }));
  const busB = new GatedBus(new MemoryBus({ hub }));
  const a = await createSessions({ strategy: 'hybrid', store, bus: busA, keys: [KEY_A] });
  const b = await createSessions({ strategy: 'hybrid', store, bus: busB, keys: [KEY_A] });
  return {
    a,
    b,
    busA,
    busB,
    async close() {
      for (const x of [a, b] as SessionManager[]) await x.close();
      await busA.close();
      await busB.close();
      await store.close();
    },
  };
}

describe('hybrid: read-your-writes on every instance', () => {
  it('a write on A is read on B at once while the invalidation is held back, or lost', async () => {
    const c = await twoInstances(new MemoryStore());
    try {
      const jar = new Jar();
      await request(c.a, jar, (s) => s.set('cart', []));
      // B reads and caches the empty cart.
      assert.deepEqual((await request(c.b, jar, (s) => s.get('cart'))).value, []);
      assert.deepEqual((await request(c.b, jar, (s) => s.get('cart'))).value, []);
      for (let i = 1; i <= 20; i++) {
        c.busB.held = true;
        c.busB.drop = i % 2 === 0; // every other invalidation never arrives at all
        // Acknowledged write on A (the add), then the next read on B (the checkout).
        const added = await request(c.a, jar, (s) => s.update<number[]>('cart', (cart = []) => [...cart, i]));
        assert.equal(added.value.at(-1), i);
        const seen = await request(c.b, jar, (s) => s.get<number[]>('cart'));
        assert.deepEqual(seen.value, added.value, `read ${i} on B shows the write answered on A`);
        // And back: a write on B is read on A, whose invalidation is also held.
        c.busA.held = true;
        const more = await request(c.b, jar, (s) => s.update<number[]>('cart', (cart = []) => [...cart, -i]));
        assert.deepEqual((await request(c.a, jar, (s) => s.get('cart'))).value, more.value);
        c.busA.release();
        c.busB.drop = false;
        c.busB.release();
      }
      // Reads with nothing new written are still served from the near cache.
      await request(c.b, jar, (s) => s.get('cart'));
      const hits = c.b.metrics.nearCacheHits;
      for (let i = 0; i < 5; i++) await request(c.b, jar, (s) => s.get('cart'));
      assert.equal(c.b.metrics.nearCacheHits - hits, 5, 'an unchanged session is read from the cache');
    } finally {
      await c.close();
    }
  });

  it('a version the client saw on a read (another tab wrote) is never followed by an older one', async () => {
    const c = await twoInstances(new MemoryStore());
    try {
      const tab1 = new Jar();
      await request(c.a, tab1, (s) => s.set('n', 0));
      const tab2 = tab1.clone();
      assert.equal((await request(c.b, tab1, (s) => s.get('n'))).value, 0); // B caches n = 0
      c.busB.held = true;
      await request(c.a, tab2, (s) => s.set('n', 1)); // tab2 writes on A; B is not told
      // tab1 (an older version cookie) reads on A and is answered n = 1 ...
      assert.equal((await request(c.a, tab1, (s) => s.get('n'))).value, 1);
      // ... so B may not answer it n = 0 afterwards.
      assert.equal((await request(c.b, tab1, (s) => s.get('n'))).value, 1);
      c.busB.release();
    } finally {
      await c.close();
    }
  });

  it('a read that raced a logout on the same instance does not bring the session back', async () => {
    const slow = new SlowReads(new MemoryStore());
    const c = await twoInstances(slow);
    try {
      const jar = new Jar();
      await request(c.a, jar, async (s) => s.login('u1'));
      await request(c.b, jar, (s) => s.set('x', 1)); // A's copy dropped: its next read is a miss
      slow.holdNext();
      const racing = c.a.load(jar.context()); // read done, answer held back
      await new Promise((r) => setTimeout(r, 5));
      await request(c.a, jar.clone(), (s) => s.destroy()); // logout on A while that read is out
      slow.open();
      assert.equal((await racing).userId, 'u1', 'the racing read saw the session as it was');
      assert.equal((await request(c.a, jar.clone(), (s) => s.userId)).value, null, 'A refuses it');
      assert.equal((await request(c.b, jar.clone(), (s) => s.userId)).value, null, 'B refuses it');
    } finally {
      await c.close();
    }
  });
});

describe('the version cookie', () => {
  it('is read by exact name; the highest well-formed value wins; anything else is no floor', () => {
    const s = cookieSettings(
      { name: 'sl.sid', secure: 'auto', sameSite: 'lax' },
      { cookie: undefined, encrypted: false },
      false,
    );
    const cases: [string | undefined, number][] = [
      [undefined, 0],
      ['sl.sid=abc', 0],
      ['sl.sid=abc; sl.sid.v=7', 7],
      ['sl.sid.v=7;sl.sid=abc', 7],
      ['sl.sid.v = 12 ; x=1', 12],
      ['sl.sid.v=3; sl.sid.v=9; sl.sid.v=4', 9],
      ['xsl.sid.v=9; sl.sid.vv=9; a=sl.sid.v=9', 0],
      ['sl.sid.v=07; sl.sid.v=-1; sl.sid.v=1e3; sl.sid.v=; sl.sid.v=9999999999999999', 0],
    ];
    for (const [header, want] of cases) assert.equal(readVersion(header, s), want, String(header));
  });
});

describe('NearCacheStore: no stale fill', () => {
  it('a read that started before a write on this instance does not cache the old record', async () => {
    const slow = new SlowReads(new MemoryStore());
    const bus = new MemoryBus({ hub: {} });
    const near = await NearCacheStore.open(slow, bus);
    try {
      await slow.create('k', 'v1'); // not through the cache: its first read is a miss
      slow.holdNext();
      const old = near.get('k'); // reads v1, answer held
      await new Promise((r) => setTimeout(r, 5));
      const res = await near.update('k', 'v2');
      assert.ok(res.ok);
      slow.open();
      assert.equal((await old)?.value, 'v1');
      assert.equal((await near.get('k'))?.value, 'v2', 'the racing read did not overwrite the write');
    } finally {
      await near.close();
      await bus.close();
      await slow.close();
    }
  });

  it('a copy older than minVersion is re-read; a fresh enough one is a hit', async () => {
    const store = new MemoryStore();
    const hub = {};
    const busA = new GatedBus(new MemoryBus({ hub }));
    const busB = new MemoryBus({ hub });
    const a = await NearCacheStore.open(store, busA);
    const b = await NearCacheStore.open(store, busB);
    try {
      await a.create('k', 'v1');
      assert.equal((await a.get('k'))?.version, 1);
      busA.held = true;
      const w = await b.update('k', 'v2');
      assert.ok(w.ok);
      assert.equal((await a.get('k'))?.value, 'v1', 'without a floor the held invalidation shows');
      const hits = a.hits;
      assert.equal((await a.get('k', w.version))?.value, 'v2');
      assert.equal((await a.get('k', w.version))?.value, 'v2');
      assert.equal(a.hits - hits, 1, 'the re-read copy serves the next read');
      busA.release();
    } finally {
      await a.close();
      await b.close();
      await busA.close();
      await busB.close();
      await store.close();
    }
  });
});
