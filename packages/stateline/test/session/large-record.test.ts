/**
 * Records over 1 KB are written from the text they were loaded from (session/record-text.ts) and,
 * on Redis, sent as a splice of that text: the guarantees of the small records must hold there too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSessions } from '../../src/session/index.js';
import type { SessionManager } from '../../src/session/index.js';
import { createStore } from '../../src/store/index.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { Jar, KEY_A, request } from './client.js';

const redis = await needService('redis');
cleanUpAfter('redis', redis);

interface Cart {
  items: { productId: string; qty: number }[];
}
const cartOf = (n: number): Cart => ({
  items: Array.from({ length: n }, (_, i) => ({ productId: `sku-${i}-é😀"`, qty: 1 + (i % 5) })),
});

const cases: { name: string; skip: string | false; make: () => Promise<SessionManager> }[] = [
  {
    name: 'server/memory-store',
    skip: false,
    make: async () => createSessions({ keys: [KEY_A], store: await createStore({ type: 'memory' }) }),
  },
  {
    name: 'server/redis',
    skip: redis,
    make: () =>
      createSessions({ keys: [KEY_A], store: `${REDIS_URL}?prefix=${uniquePrefix('large-record')}` }),
  },
];

for (const c of cases) {
  describe(`a session carrying a 100-line cart [${c.name}]`, { skip: c.skip || undefined }, () => {
    it(`[${c.name}] 50 concurrent counter updates all land and the cart stays whole`, async () => {
      const m = await c.make();
      try {
        const jar = new Jar();
        await request(m, jar, (s) => s.set('cart', cartOf(100)));
        // Loaded together, so most of them conflict and re-apply on the fresh record.
        const sessions = await Promise.all(Array.from({ length: 50 }, () => m.load(jar.context())));
        await Promise.all(sessions.map((s) => s.update<number>('hits', (n = 0) => n + 1)));
        await Promise.all(sessions.map((s) => s.commit()));
        const { value } = await request(m, jar, (s) => ({ hits: s.get('hits'), cart: s.get<Cart>('cart') }));
        assert.equal(value.hits, 50);
        assert.deepEqual(value.cart, cartOf(100));
      } finally {
        await m.close();
      }
    });

    it(`[${c.name}] set, delete and a changed cart land; a change in place without set does not`, async () => {
      const m = await c.make();
      try {
        const jar = new Jar();
        await request(m, jar, (s) => {
          s.set('cart', cartOf(100));
          s.set('theme', 'dark');
        });
        await request(m, jar, (s) => {
          s.get<Cart>('cart')!.items.length = 0; // never set: not written
          s.set('hits', 1);
          s.delete('theme');
        });
        let { value } = await request(m, jar, (s) => ({
          cart: s.get<Cart>('cart'),
          hits: s.get('hits'),
          theme: s.get('theme'),
        }));
        assert.deepEqual(value, { cart: cartOf(100), hits: 1, theme: undefined });
        await request(m, jar, (s) => {
          const cart = s.get<Cart>('cart')!;
          cart.items.push({ productId: 'new', qty: 2 });
          s.set('cart', cart); // the same object, set: written
        });
        ({ value } = await request(m, jar, (s) => ({
          cart: s.get<Cart>('cart'),
          hits: s.get('hits'),
          theme: s.get('theme'),
        })));
        assert.equal(value.cart!.items.length, 101);
        assert.deepEqual(value.cart!.items[100], { productId: 'new', qty: 2 });
        assert.equal(value.hits, 1);
        // A login (new id, user bound) and a regenerate keep the cart.
        await request(m, jar, (s) => s.login('user-1'));
        await request(m, jar, (s) => s.regenerate());
        const after = await request(m, jar, (s) => ({
          user: s.userId,
          n: s.get<Cart>('cart')!.items.length,
        }));
        assert.deepEqual(after.value, { user: 'user-1', n: 101 });
      } finally {
        await m.close();
      }
    });
  });
}
