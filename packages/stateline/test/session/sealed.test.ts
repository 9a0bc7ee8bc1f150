/**
 * A session refuses property writes with a TypeError that says what to call instead, for every
 * strategy, in strict and sloppy code alike, while its methods keep working.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fromStateline } from '../../src/migrate/index.js';
import { createSessions } from '../../src/session/index.js';
import type { Session, SessionManager, SessionStrategyName } from '../../src/session/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { Jar, KEY_A, request } from './client.js';

const STRATEGIES: SessionStrategyName[] = ['server', 'hybrid', 'memory', 'token'];

describe('session property writes', () => {
  const managers: SessionManager[] = [];
  after(async () => {
    for (const m of managers) await m.close();
  });
  const open = async (strategy: SessionStrategyName) => {
    const m = await createSessions({ strategy, keys: [KEY_A], store: new MemoryStore() });
    managers.push(m);
    return m;
  };

  for (const strategy of STRATEGIES) {
    it(`${strategy}: assignments throw naming the method to use; the session is untouched and still saves`, async () => {
      const m = await open(strategy);
      const jar = new Jar();
      await request(m, jar, async (s) => {
        const loose = s as unknown as Record<string, unknown>;
        assert.throws(
          () => (loose.cart = ['a']),
          (e: unknown) =>
            e instanceof TypeError &&
            /^session\.cart = … would be lost/.test(e.message) &&
            /session\.set\("cart", value\)/.test(e.message) &&
            /session\.update\("cart"/.test(e.message),
        );
        assert.throws(() => (loose.userId = 'alice'), /session\.login\(userId\)/);
        assert.throws(() => (loose.handle = 'h'), /read-only/);
        assert.throws(() => Object.defineProperty(s, 'cart', { value: 1 }), TypeError);
        assert.throws(() => (loose.cookie as { maxAge: number }).maxAge, /configured on the manager/);
        // Sloppy-mode code (a CommonJS file without "use strict") is refused the same way.
        const sloppy = new Function('s', 's.views = 1; return s.views;') as (x: Session) => unknown;
        assert.throws(() => sloppy(s), /session\.views = … would be lost/);
        assert.equal(loose.cart, undefined, 'nothing was stored on the object');
        assert.equal(s.userId, null);
        assert.equal(Object.prototype.toString.call(s), '[object Object]');
        s.set('cart', ['kept']);
        await s.login('alice');
      });
      const { value } = await request(m, jar, (s) => [s.get('cart'), s.userId]);
      assert.deepEqual(value, [['kept'], 'alice']);
    });
  }

  it('a session taken over by a migrate reader is sealed the same way', async () => {
    const store = new MemoryStore();
    const before = await createSessions({ strategy: 'token', keys: [KEY_A], store });
    managers.push(before);
    const jar = new Jar();
    await request(before, jar, async (s) => {
      s.set('cart', ['p-1']);
      await s.login('bob');
    });
    const after = await createSessions({
      strategy: 'server',
      keys: [KEY_A],
      store,
      migrate: [fromStateline({ strategy: 'token', keys: [KEY_A], store })],
    });
    managers.push(after);
    const { value } = await request(after, jar, (s) => {
      assert.equal(s.constructor.name, 'MigratedSession', 'the reader took it over');
      const loose = s as unknown as Record<string, unknown>;
      assert.throws(() => (loose.cart = ['b']), /session\.set\("cart", value\)/);
      assert.throws(() => (loose.userId = 'eve'), /session\.login\(userId\)/);
      assert.throws(() => Object.defineProperty(s, 'cart', { value: 1 }), TypeError);
      return [s.get('cart'), s.userId];
    });
    assert.deepEqual(value, [['p-1'], 'bob']);
  });
});
