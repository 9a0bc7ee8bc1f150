/**
 * `token` with `compress`: a 100-line cart fits under the 4 KB cookie budget, tokens of either
 * kind open on every instance, and a session holding a key of `except` is sealed uncompressed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { isStatelineError } from '../../src/errors.js';
import { createSessions } from '../../src/session/index.js';
import type { SessionOptions } from '../../src/session/types.js';
import { createStore } from '../../src/store/index.js';
import { Jar, KEY_A, request } from './client.js';

/** Cart lines shaped like apps/shop/src/cart.ts's. */
const cart = (n: number) => ({
  items: Array.from({ length: n }, (_, i) => ({ productId: `product-${i}`, qty: 1 + (i % 5) })),
});

const store = await createStore({ type: 'memory' });
const hub = {};
const manager = (extra: Partial<SessionOptions> = {}) =>
  createSessions({ strategy: 'token', keys: [KEY_A], store, bus: new MemoryBus({ hub }), ...extra });
const tokenOf = (jar: Jar) => jar.get('sl.sid')!;
const zipped = (token: string) =>
  Buffer.from(token.split('.')[0]!, 'base64url').toString().includes('"zip":"DEF"');

describe('token compression', () => {
  it('a 100-line cart is too large uncompressed, fits compressed, and opens on another instance', async () => {
    const plain = await manager();
    const jar = new Jar();
    await assert.rejects(
      request(plain, jar, (s) => s.set('cart', cart(100))),
      (err) => isStatelineError(err) && err.code === 'SL_ERR_SESSION_TOO_LARGE',
    );
    const a = await manager({ compress: true });
    const b = await manager({ compress: true });
    await request(a, jar, (s) => s.set('cart', cart(100)));
    const token = tokenOf(jar);
    assert.ok(zipped(token));
    assert.ok(token.length < 4096, `${token.length} bytes`);
    const { value } = await request(b, jar, (s) => s.get('cart'));
    assert.deepEqual(value, cart(100));
    // A manager with compression off still opens it (and writes plain tokens from then on).
    const { value: again } = await request(plain, jar, (s) => s.get('cart'));
    assert.deepEqual(again, cart(100));
    await Promise.all([plain.close(), a.close(), b.close()]);
  });

  it('old uncompressed tokens open after compression is turned on; small sessions stay plain', async () => {
    const plain = await manager();
    const jar = new Jar();
    await request(plain, jar, (s) => s.set('cart', cart(20)));
    assert.ok(!zipped(tokenOf(jar)));
    const z = await manager({ compress: { threshold: 4000 } });
    const { value } = await request(z, jar, (s) => s.get('cart'));
    assert.deepEqual(value, cart(20));
    await request(z, jar, (s) => s.set('n', 1));
    assert.ok(!zipped(tokenOf(jar)), 'under the threshold');
    await Promise.all([plain.close(), z.close()]);
  });

  it('a session holding a key of `except` is sealed uncompressed', async () => {
    const z = await manager({ compress: { except: ['csrf'] } });
    const jar = new Jar();
    await request(z, jar, (s) => s.set('cart', cart(40)));
    assert.ok(zipped(tokenOf(jar)));
    await request(z, jar, (s) => s.set('csrf', 'a-secret-value'));
    assert.ok(!zipped(tokenOf(jar)));
    const { value } = await request(z, jar, (s) => [s.get('cart'), s.get('csrf')]);
    assert.deepEqual(value, [cart(40), 'a-secret-value']);
    await z.close();
  });

  it('bad compress options are refused', async () => {
    for (const compress of [{ threshold: -1 }, { except: 'csrf' }, { level: 9 }, 'yes']) {
      await assert.rejects(
        manager({ compress } as unknown as Partial<SessionOptions>),
        (err) => isStatelineError(err) && err.code === 'SL_ERR_INVALID_OPTION',
      );
    }
  });
});
