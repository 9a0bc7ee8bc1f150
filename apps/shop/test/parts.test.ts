/**
 * The shop's pure parts, without a server: router, cart arithmetic, recently viewed, client
 * address, passwords, seeded users, config.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { addLine, addLineOnce, mergeCart, readCart, removeLine, settleOrder } from '../src/cart.js';
import { clientReader } from '../src/client-address.js';
import { readConfig } from '../src/config.js';
import { hashPassword, verifyPassword } from '../src/passwords.js';
import { createStore, redactSpec } from 'stateline/store';
import { Router } from '../src/router.js';
import { addViews, readViews, VIEWED_MAX } from '../src/recently-viewed.js';
import { checkCredentials, normalizeUsername, seedUsers } from '../src/users.js';

describe('router', () => {
  const r = new Router<string>()
    .on('GET', '/api/products/:id', 'one')
    .on('GET', '/api/products', 'list')
    .on('DELETE', '/api/cart/items/:productId', 'remove');

  it('matches patterns, decodes parameters, names the pattern', () => {
    assert.deepEqual(r.match('GET', '/api/products/mug'), {
      kind: 'route',
      pattern: '/api/products/:id',
      params: { id: 'mug' },
      entry: 'one',
    });
    const m = r.match('DELETE', '/api/cart/items/a%20b');
    assert.equal(m.kind === 'route' && m.params.productId, 'a b');
    assert.equal(r.match('HEAD', '/api/products').kind, 'route', 'HEAD falls back to GET');
  });

  it('405 with the allowed methods, none for unknown paths or empty or undecodable parameters', () => {
    assert.deepEqual(r.match('POST', '/api/products'), {
      kind: 'method',
      pattern: '/api/products',
      allow: ['GET', 'HEAD'],
    });
    assert.equal(r.match('GET', '/api/products/').kind, 'none');
    assert.equal(r.match('GET', '/api/products/%E0%A4%A').kind, 'none');
    assert.equal(r.match('GET', '/api/products/mug/extra').kind, 'none');
  });
});

describe('cart', () => {
  it('an add with an Idempotency-Key digest is taken once, survives reads and checkouts, the last 20 kept', () => {
    let cart = addLineOnce(readCart(undefined), 'k1', 'mug', 2);
    assert.equal(addLineOnce(cart, 'k1', 'mug', 2), cart);
    cart = readCart(JSON.parse(JSON.stringify(cart)));
    assert.deepEqual(addLineOnce(cart, 'k1', 'mug', 2).items, [{ productId: 'mug', qty: 2 }]);
    cart = settleOrder(cart, 'o1', [{ productId: 'mug', qty: 2 }]);
    assert.deepEqual(addLineOnce(cart, 'k1', 'mug', 2).items, [], 'still taken after the checkout');
    for (let i = 2; i <= 21; i++) cart = addLineOnce(cart, `k${i}`, 'tee', 1);
    assert.equal(cart.added?.length, 20);
    assert.equal(addLineOnce(cart, 'k1', 'tee', 1).items[0]?.qty, 21, 'the oldest ref was dropped');
  });

  it('adds to a line, refuses past 999, removes a line', () => {
    let c = readCart(undefined);
    c = addLine(c, 'mug', 2);
    c = addLine(c, 'mug', 3);
    c = addLine(c, 'tee', 1);
    assert.deepEqual(c.items, [
      { productId: 'mug', qty: 5 },
      { productId: 'tee', qty: 1 },
    ]);
    assert.throws(() => addLine({ items: [{ productId: 'mug', qty: 990 }] }, 'mug', 10), {
      code: 'SL_ERR_CART_LIMIT',
    });
    assert.deepEqual(removeLine(c, 'mug').items, [{ productId: 'tee', qty: 1 }]);
  });

  it('reads garbage as an empty or cleaned cart', () => {
    assert.deepEqual(readCart('nope').items, []);
    assert.deepEqual(
      readCart({
        items: [
          { productId: 'mug', qty: 1 },
          { productId: 'x', qty: 1 },
          { productId: 'tee', qty: -2 },
          null,
        ],
      }).items,
      [{ productId: 'mug', qty: 1 }],
    );
  });

  it('merges an anonymous cart once per id, a line stopping at 999; keeps ids through a read', () => {
    const account = readCart({ items: [{ productId: 'mug', qty: 995 }] });
    const anonymous = readCart({
      id: 'a1',
      items: [
        { productId: 'mug', qty: 9 },
        { productId: 'tee', qty: 2 },
      ],
    });
    assert.equal(anonymous.id, 'a1');
    const once = mergeCart(account, anonymous, 'a1');
    assert.deepEqual(once.items, [
      { productId: 'mug', qty: 999 },
      { productId: 'tee', qty: 2 },
    ]);
    const stored = readCart(JSON.parse(JSON.stringify(once)));
    assert.deepEqual(stored.merged, ['a1']);
    assert.equal(mergeCart(stored, anonymous, 'a1'), stored, 'the same anonymous cart again: no change');
    assert.deepEqual(mergeCart(stored, anonymous, 'a2').items, [
      { productId: 'mug', qty: 999 },
      { productId: 'tee', qty: 4 },
    ]);
  });

  it('settles an order once: items added meanwhile stay, a second settle changes nothing', () => {
    const cart = {
      items: [
        { productId: 'mug', qty: 3 },
        { productId: 'tee', qty: 1 },
      ],
    };
    const once = settleOrder(cart, 'o1', [
      { productId: 'mug', qty: 2 },
      { productId: 'tee', qty: 1 },
    ]);
    assert.deepEqual(once.items, [{ productId: 'mug', qty: 1 }]);
    assert.deepEqual(settleOrder(once, 'o1', [{ productId: 'mug', qty: 2 }]), once);
  });
});

describe('client address', () => {
  const clientAddress = (r: IncomingMessage) => clientReader(['127.0.0.1', '::1'])(r).address;
  const req = (remote: string, xff?: string) =>
    ({
      socket: { remoteAddress: remote },
      headers: xff ? { 'x-forwarded-for': xff } : {},
    }) as IncomingMessage;
  it('behind the local gateway: the last X-Forwarded-For entry (the one the gateway added)', () => {
    assert.equal(clientAddress(req('127.0.0.1', '6.6.6.6, 203.0.113.9')), '203.0.113.9');
    assert.equal(clientAddress(req('::ffff:127.0.0.1', '203.0.113.9')), '203.0.113.9');
  });
  it('from anywhere else, the socket: X-Forwarded-For is not believed', () => {
    assert.equal(clientAddress(req('198.51.100.7', '203.0.113.9')), '198.51.100.7');
    assert.equal(clientAddress(req('127.0.0.2', '203.0.113.9')), '127.0.0.2', 'loopback is not the gateway');
    assert.equal(clientAddress(req('127.0.0.1')), '127.0.0.1');
  });
});

describe('passwords and users', () => {
  it('scrypt with a per-hash salt; right and wrong passwords; a missing hash is a (slow) no', async () => {
    const a = await hashPassword('stateline');
    const b = await hashPassword('stateline');
    assert.notEqual(a.salt, b.salt);
    assert.notEqual(a.hash, b.hash);
    assert.equal(await verifyPassword(a, 'stateline'), true);
    assert.equal(await verifyPassword(a, 'Stateline'), false);
    assert.equal(await verifyPassword(undefined, 'stateline'), false);
  });
  it('usernames are case-insensitive and restricted', () => {
    assert.equal(normalizeUsername(' Alice '), 'alice');
    assert.equal(normalizeUsername('a b'), null);
    assert.equal(normalizeUsername(''), null);
  });
});

describe('config', () => {
  it('defaults and refusals', () => {
    const c = readConfig({ STATELINE_INSTANCE_ID: 'i1' });
    assert.equal(c.strategy, 'server');
    assert.equal(c.demoPassword, 'stateline');
    assert.equal(c.extraUsers, 0);
    assert.equal(readConfig({ STATELINE_SHOP_USERS: '25' }).extraUsers, 25);
    assert.throws(() => readConfig({ STATELINE_STRATEGY: 'cookie' }), /STATELINE_STRATEGY/);
    assert.throws(() => readConfig({ STATELINE_SHOP_USERS: 'lots' }), /STATELINE_SHOP_USERS/);
    assert.equal(redactSpec('redis://:pw@h:6379'), 'redis://:***@h:6379');
  });
});

describe('recently viewed', () => {
  it('newest first, the same product twice is two views, at most 100, unreadable entries dropped', () => {
    const one = addViews(
      [],
      [
        { id: 'mug', at: 1 },
        { id: 'tee', at: 2 },
      ],
    );
    assert.deepEqual(
      one.map((v) => v.id),
      ['tee', 'mug'],
    );
    const full = addViews(
      one,
      Array.from({ length: 99 }, (_, i) => ({ id: 'mug', at: 3 + i })),
    );
    assert.equal(full.length, VIEWED_MAX);
    assert.deepEqual(full.at(-1), { id: 'tee', at: 2 }, 'the oldest view dropped off');
    assert.deepEqual(readViews([{ id: 'cap', at: 5 }, { id: 7 }, 'x', null]), [{ id: 'cap', at: 5 }]);
    assert.deepEqual(readViews(undefined), []);
  });
});

describe('seeded users', () => {
  it('demo users get a hash each; the load-test users share one per start, and all log in', async () => {
    const store = await createStore('memory:');
    try {
      await seedUsers(store, { password: 'stateline', extra: 40 });
      const salt = async (id: string) =>
        (JSON.parse((await store.get(`shop:user:${id}`))!.value) as { password: { salt: string } }).password
          .salt;
      const demo = await Promise.all(['alice', 'bob', 'carol'].map(salt));
      assert.equal(new Set(demo).size, 3);
      const lab = await Promise.all(Array.from({ length: 40 }, (_, i) => salt(`user${i + 1}`)));
      assert.equal(new Set(lab).size, 1);
      assert.ok(!demo.includes(lab[0]!));
      assert.deepEqual(await checkCredentials(store, 'user40', 'stateline'), {
        id: 'user40',
        name: 'user40',
      });
      assert.equal(await checkCredentials(store, 'user40', 'nope'), null);
    } finally {
      await store.close();
    }
  });
});
