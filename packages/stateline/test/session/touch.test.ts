import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSessions } from '../../src/session/index.js';
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

describe('sliding idle timeout without a write per request [server]', () => {
  it('[server] reads inside touchAfter write nothing; the first read after it writes once', async () => {
    const clock = new FakeClock();
    const store = new CountingStore({ now: clock.now });
    const m = await createSessions({ keys: [KEY_A], store, now: clock.now, idleTimeout: '30m', touchAfter: '3m' });
    const jar = new Jar();
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
