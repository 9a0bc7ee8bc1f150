import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { shopApiSuite } from './api.case.js';
import { Client, instanceUrls, startShop } from './support.js';
import { cleanUpAfter } from '../../../packages/stateline/test/support/cleanup.js';
import { needService, REDIS_URL, uniquePrefix } from '../../../packages/stateline/test/support/services.js';

const skip = await needService('redis');
// Sessions, users, orders, idempotency records and chat history under one unique prefix.
const prefix = uniquePrefix('shop-hybrid');

shopApiSuite({
  strategy: 'hybrid',
  store: async () => (skip ? { skip } : `${REDIS_URL}?prefix=${prefix}`),
});

describe('shop (hybrid): a user reads their own writes on every instance', { skip }, () => {
  it('500 get cart → add → checkout sequences, each step on the next instance: 0 SL_ERR_CART_EMPTY', async () => {
    // One user per client: a user's sessions share the account's cart, so clients of one user
    // would check out each other's lines.
    const cluster = await startShop('hybrid', `${REDIS_URL}?prefix=${uniquePrefix('shop-hybrid-ryw')}`, 50);
    try {
      const urls = (await instanceUrls(cluster)).map((i) => i.url);
      assert.equal(urls.length, 3);
      const CLIENTS = 50;
      const EACH = 10;
      const refused: string[] = [];
      let placed = 0;
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, n) => {
          const c = new Client(cluster.url);
          await c.login(`user${n + 1}`);
          let turn = n;
          const next = () => urls[turn++ % urls.length]!;
          for (let k = 0; k < EACH; k++) {
            const cart = await c.req('GET', '/api/cart', { base: next() });
            assert.equal(cart.status, 200, cart.text);
            const add = await c.req('POST', '/api/cart/items', {
              base: next(),
              body: { productId: 'mug', qty: 1 },
            });
            assert.equal(add.status, 200, add.text);
            const order = await c.req('POST', '/api/orders', {
              base: next(),
              headers: { 'idempotency-key': randomUUID() },
            });
            if (order.status === 201) placed++;
            else refused.push(`${order.status} ${(order.body as { code?: string }).code ?? order.text}`);
            // Now and then a fourth step, so the instance that answers each step keeps changing.
            if (k % 7 === n % 7) next();
          }
        }),
      );
      assert.deepEqual(refused, [], `${refused.length} of ${CLIENTS * EACH} checkouts refused`);
      assert.equal(placed, CLIENTS * EACH);
    } finally {
      await cluster.close();
    }
  });
});

cleanUpAfter('redis', skip);
