import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSessions, type SessionOptions } from '../../src/session/index.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { UpdateOptions } from '../../src/store/types.js';
import { FakeClock, Jar, KEY_A, request } from './client.js';

class CountingStore extends MemoryStore {
  updates = 0;
  override update(key: string, value: string, options?: UpdateOptions) {
    this.updates++;
    return super.update(key, value, options);
  }
}

/** A manager over a counting Store on a fake clock: idle timeout 30 min, touch after 3. */
async function setUp(options: Partial<SessionOptions> = {}) {
  const clock = new FakeClock();
  const store = new CountingStore({ now: clock.now });
  const m = await createSessions({
    keys: [KEY_A],
    store,
    now: clock.now,
    idleTimeout: '30m',
    touchAfter: '3m',
    ...options,
  });
  return { clock, store, m, jar: new Jar() };
}

describe('sliding idle timeout without a write per request [server]', () => {
  it('[server] reads inside touchAfter write nothing; the first read after it writes once', async () => {
    const { clock, store, m, jar } = await setUp();
    await request(m, jar, (s) => s.set('k', 1));
    store.updates = 0;
    for (let i = 0; i < 20; i++) {
      clock.advance(5_000);
      await request(m, jar, (s) => s.get('k'));
    }
    assert.equal(store.updates, 0, '20 reads over 100 s: no write');
    clock.advance(3 * 60_000);
    await request(m, jar, (s) => s.get('k'));
    assert.equal(store.updates, 1, 'one refresh once touchAfter passed');
    await request(m, jar, (s) => s.get('k'));
    assert.equal(store.updates, 1);
    await m.close();
  });
});

describe('an update() leaves its commit nothing to write [server]', () => {
  it('[server] an update() when a touch is due writes once: the touch goes with it, and slides the timeout', async () => {
    const { clock, store, m, jar } = await setUp();
    await request(m, jar, (s) => s.set('n', 1));
    clock.advance(20 * 60_000);
    store.updates = 0;
    const { value } = await request(m, jar, (s) => s.update<number>('n', (n = 0) => n + 1));
    assert.equal(value, 2);
    assert.equal(store.updates, 1, 'one write: the compare-and-set of update() carried the touch');
    // Idle since the first request: 40 min > 30. Last seen at the update: 20 min < 30.
    clock.advance(20 * 60_000);
    const { value: n } = await request(m, jar, (s) => s.get<number>('n'));
    assert.equal(n, 2, 'the update slid the idle timeout');
    await m.close();
  });

  it('[server] after update(), commitNow() answers at once with nothing written; with a pending set() it waits', async () => {
    const { store, m, jar } = await setUp();
    await request(m, jar, (s) => s.set('n', 1));
    store.updates = 0;
    const s = await m.load(jar.context());
    await s.update<number>('n', (n = 0) => n + 1);
    assert.equal(store.updates, 1);
    assert.deepEqual(s.commitNow?.(), { setCookie: [] });
    assert.deepEqual(await s.commit(), { setCookie: [] }, 'commit() answers what commitNow() did');
    assert.equal(store.updates, 1, 'the commit wrote nothing');

    const t = await m.load(jar.context());
    t.set('m', 1);
    assert.equal(t.commitNow?.(), undefined, 'a pending change needs the Store');
    assert.equal(store.updates, 1, 'commitNow() that answers undefined did nothing');
    await t.commit();
    assert.equal(store.updates, 2);
    const { value } = await request(m, jar, (x) => x.get('m'));
    assert.equal(value, 1);
    await m.close();
  });

  it('[token] a changed token is sealed by commitNow(); a due touch of a logged-in token waits for the Store', async () => {
    const { clock, store, m, jar } = await setUp({ strategy: 'token' });
    const s = await m.load(jar.context());
    s.set('n', 1);
    const now = s.commitNow?.();
    assert.equal(now?.setCookie.length, 1, 'the new token');
    jar.apply(now!.setCookie);
    await request(m, jar, (x) => x.login('alice'));
    clock.advance(5 * 60_000);
    store.updates = 0;
    const t = await m.load(jar.context());
    assert.equal(t.get('n'), 1);
    assert.equal(t.commitNow?.(), undefined, 'the touch writes last-seen for list()');
    assert.equal((await t.commit()).setCookie.length, 1);
    assert.equal(store.updates, 1);
    await m.close();
  });
});
