/**
 * The shop's API contract, run against a real cluster (gateway + 3 instances) for one strategy.
 * Each strategy file starts one cluster and shares it across these tests; the instance kill is last.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Cluster } from '@stateline/lab';
import { connect, type MessageFrame } from 'stateline/realtime/client';
import { createStore } from 'stateline/store';
import { Client, expectProblem, instanceUrls, sleep, startShop, within, type Answer } from './support.js';

export interface SuiteOptions {
  strategy: 'server' | 'token' | 'hybrid';
  /** The Store spec, or a skip reason (service absent). */
  store: () => Promise<string | { skip: string }>;
  /** Why concurrent cart adds may lose updates with this strategy (the test is skipped then). */
  lossyConcurrentUpdates?: string;
}

type Items = { items: { productId: string; qty: number }[] };
type OrderBody = {
  order: {
    id: string;
    items: { productId: string; qty: number; price: number }[];
    total: number;
    createdAt: number;
    idempotencyKey: string;
  };
};

const CONTRACT_METRICS = [
  'http_requests_total',
  'http_request_duration_seconds',
  'stateline_store_operations_total',
  'stateline_store_operation_duration_seconds',
  'stateline_store_errors_total',
  'stateline_bus_publishes_total',
  'stateline_bus_errors_total',
  'stateline_sessions_created_total',
  'stateline_sessions_renewed_total',
  'stateline_sessions_revoked_total',
  'stateline_sessions_rejected_total',
  'stateline_near_cache_hit_ratio',
  'stateline_idempotency_replays_total',
  'stateline_idempotency_conflicts_total',
  'stateline_realtime_sockets',
  'stateline_realtime_messages_total',
  'stateline_realtime_slow_consumer_drops_total',
  'process_resident_memory_bytes',
  'process_cpu_seconds_total',
];

/** Runs the whole API suite for one strategy. */
export function shopApiSuite(o: SuiteOptions): void {
  describe(`shop API (${o.strategy})`, () => {
    let cluster: Cluster | undefined;
    let spec = '';
    let skip: string | false = false;
    let gw = '';
    const client = (ua?: string) => new Client(gw, ua);

    before(async () => {
      const s = await o.store();
      if (typeof s !== 'string') {
        skip = s.skip;
        return;
      }
      spec = s;
      cluster = await startShop(o.strategy, spec);
      gw = cluster.url;
    });
    after(() => cluster?.close());

    /** `it`, skipped when the service the strategy needs is absent. */
    const test = (name: string, fn: (t: TestContext) => Promise<void>) =>
      it(name, async (t) => {
        if (skip) return t.skip(skip);
        await fn(t);
      });

    test('whoami: instance, strategy, redacted store, no user', async () => {
      const r = await client().req<{ instance: string; strategy: string; store: string; user: null }>(
        'GET',
        '/api/whoami',
      );
      assert.equal(r.status, 200);
      assert.equal(r.body.instance, r.headers.get('x-stateline-instance'));
      assert.equal(r.body.strategy, o.strategy);
      assert.equal(typeof r.body.store, 'string');
      assert.equal(r.body.user, null);
      assert.equal(r.headers.get('set-cookie'), null, 'reading whoami makes no session');
    });

    test('products: list and one, ETag, If-None-Match 304 (strong, weak, list), Cache-Control, 404', async () => {
      const c = client();
      const list = await c.req<{
        products: { id: string; name: string; description: string; price: number }[];
      }>('GET', '/api/products');
      assert.equal(list.status, 200);
      assert.ok(list.body.products.length >= 6);
      for (const p of list.body.products) {
        assert.match(p.id, /^[a-z][a-z0-9-]{0,15}$/);
        assert.ok(Number.isInteger(p.price) && p.price > 0);
        assert.equal(typeof p.name, 'string');
        assert.equal(typeof p.description, 'string');
      }
      assert.equal(list.headers.get('cache-control'), 'public, max-age=60');
      const etag = list.headers.get('etag')!;
      assert.match(etag, /^"[^"]+"$/);
      assert.equal(list.headers.get('set-cookie'), null, 'stateless: no session');
      for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
        const r = await c.req('GET', '/api/products', { headers: { 'if-none-match': inm } });
        assert.equal(r.status, 304, `If-None-Match: ${inm}`);
        assert.equal(r.text, '');
        assert.equal(r.headers.get('etag'), etag);
      }
      assert.equal(
        (await c.req('GET', '/api/products', { headers: { 'if-none-match': '"other"' } })).status,
        200,
      );

      const one = await c.req<{ product: { id: string } }>('GET', '/api/products/mug');
      assert.equal(one.status, 200);
      assert.equal(one.body.product.id, 'mug');
      assert.equal(one.headers.get('cache-control'), 'public, max-age=60');
      const etag1 = one.headers.get('etag')!;
      assert.notEqual(etag1, etag);
      assert.equal(
        (await c.req('GET', '/api/products/mug', { headers: { 'if-none-match': etag1 } })).status,
        304,
      );
      // Every instance answers the same bytes, so the same ETag.
      const tags = new Set<string>();
      for (let i = 0; i < 4; i++) tags.add((await c.req('GET', '/api/products')).headers.get('etag')!);
      assert.deepEqual([...tags], [etag]);
      expectProblem(await c.req('GET', '/api/products/nope'), 404, 'SL_ERR_NOT_FOUND');
    });

    test('login: 200 with the user, 401 for a wrong password or unknown user, 400 for bad input', async () => {
      const c = client();
      expectProblem(
        await c.req('POST', '/api/login', { body: { username: 'alice', password: 'wrong' } }),
        401,
        'SL_ERR_BAD_CREDENTIALS',
      );
      expectProblem(
        await c.req('POST', '/api/login', { body: { username: 'nobody-here', password: 'stateline' } }),
        401,
        'SL_ERR_BAD_CREDENTIALS',
      );
      expectProblem(
        await c.req('POST', '/api/login', { body: { username: 'alice', password: 12 } }),
        400,
        'SL_ERR_BAD_REQUEST',
      );
      expectProblem(await c.req('POST', '/api/login', { body: ['alice'] }), 400, 'SL_ERR_BAD_REQUEST');
      const ok = await c.req('POST', '/api/login', {
        body: { username: 'Alice', password: 'stateline', extra: 'ignored' },
      });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, { user: { id: 'alice', name: 'alice' } });
      const me = await c.req<{ user: unknown }>('GET', '/api/whoami');
      assert.deepEqual(me.body.user, { id: 'alice', name: 'alice' });
    });

    test('login rate limit: the 11th try within a minute is 429 with Retry-After, on every instance', async () => {
      const c = client();
      for (let i = 0; i < 10; i++) {
        const r = await c.req('POST', '/api/login', { body: { username: 'user3', password: `guess-${i}` } });
        expectProblem(r, 401, 'SL_ERR_BAD_CREDENTIALS');
      }
      const instances = new Set<string>();
      for (let i = 0; i < 3; i++) {
        // The right password too, and whatever X-Forwarded-For the client makes up.
        const r = await c.req('POST', '/api/login', {
          body: { username: 'user3', password: 'stateline' },
          headers: { 'x-forwarded-for': `198.51.100.${i}` },
        });
        expectProblem(r, 429, 'SL_ERR_RATE_LIMITED');
        const wait = Number(r.headers.get('retry-after'));
        assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 60, `Retry-After ${wait}`);
        instances.add(r.headers.get('x-stateline-instance')!);
      }
      assert.equal(instances.size, 3, 'the count is shared: every instance refuses');
      // Another user from the same address is not affected.
      await client().login('user2');
    });

    test('the anonymous cart survives login; the session id is renewed', async () => {
      const c = client();
      const add = await c.req<Items>('POST', '/api/cart/items', { body: { productId: 'mug', qty: 2 } });
      assert.equal(add.status, 200);
      assert.deepEqual(add.body.items, [{ productId: 'mug', qty: 2 }]);
      const anonymous = c.cookie;
      assert.ok(anonymous, 'the cart made a session');
      await c.login('bob');
      assert.ok(c.cookie && c.cookie !== anonymous, 'a new session id after login');
      const cart = await c.req<Items>('GET', '/api/cart');
      assert.deepEqual(cart.body.items, [{ productId: 'mug', qty: 2 }]);
      // The old id stopped working (token: its handle is on the deny list, on every instance within 1 s).
      const old = new Client(gw);
      old.cookie = anonymous;
      await within(1000, async () => (await old.req<Items>('GET', '/api/cart')).body.items.length === 0);
    });

    test('recently viewed: kept in the session up to 100 views, newest first, 400/404 refused, gone at logout', async () => {
      const c = client();
      await c.login('alice');
      const ids = ['mug', 'tee', 'cap', 'sticker', 'hoodie', 'socks', 'notebook'];
      const now = Math.floor(Date.now() / 1000);
      // A page's batch: views of the last hour, oldest first, the products in no tidy order.
      const hundred = Array.from({ length: 100 }, (_, i) => ({
        id: ids[(i * i + 3 * i) % ids.length]!,
        at: now - 3600 + i * 31 + (i % 7),
      }));
      const first = await c.req<{ count: number }>('POST', '/api/viewed', { body: { views: hundred } });
      assert.equal(first.status, 200);
      assert.equal(first.body.count, 100);
      // A full list: under token the whole session rides in the cookie, deflated, within 4 KB.
      if (o.strategy === 'token') assert.ok(c.cookie.length < 4096, `a ${c.cookie.length}-byte cookie`);
      const more = await c.req<{ count: number }>('POST', '/api/viewed', {
        body: { views: [{ id: 'mug' }, { id: 'tee', at: now + 3600 }] },
      });
      assert.equal(more.body.count, 100, 'the oldest views drop off');
      const list = await c.req<{ viewed: { id: string; at: number }[] }>('GET', '/api/viewed');
      assert.equal(list.status, 200);
      assert.equal(list.body.viewed.length, 100);
      assert.deepEqual(
        list.body.viewed.slice(0, 3).map((v) => v.id),
        ['tee', 'mug', hundred[99]!.id],
      );
      assert.equal(list.body.viewed[2]!.at, hundred[99]!.at, 'a time within the last day is kept');
      assert.ok(list.body.viewed[0]!.at <= now + 5, 'a future time becomes now');
      assert.equal(list.body.viewed.at(-1)!.at, hundred[2]!.at);
      expectProblem(
        await c.req('POST', '/api/viewed', { body: { views: [...hundred, { id: 'mug' }] } }),
        400,
        'SL_ERR_BAD_REQUEST',
      );
      expectProblem(await c.req('POST', '/api/viewed', { body: { views: [] } }), 400, 'SL_ERR_BAD_REQUEST');
      expectProblem(
        await c.req('POST', '/api/viewed', { body: { views: ['mug'] } }),
        400,
        'SL_ERR_BAD_REQUEST',
      );
      expectProblem(
        await c.req('POST', '/api/viewed', { body: { views: [{ id: 'nope' }] } }),
        404,
        'SL_ERR_NOT_FOUND',
      );
      assert.equal((await c.req('POST', '/api/logout')).status, 204);
      await c.login('alice');
      const after = await c.req<{ viewed: unknown[] }>('GET', '/api/viewed');
      assert.deepEqual(after.body.viewed, [], 'a new session starts with no views');
      await c.req('POST', '/api/viewed', { body: { views: [{ id: 'tee' }] } });
      assert.equal((await c.req('DELETE', '/api/viewed')).status, 204);
      assert.deepEqual((await c.req<{ viewed: unknown[] }>('GET', '/api/viewed')).body.viewed, []);
    });

    test('logout: 204, the cookie is cleared and the session is anonymous again', async () => {
      const c = client();
      await c.login('carol');
      const before = c.cookie;
      const r = await c.req('POST', '/api/logout');
      assert.equal(r.status, 204);
      assert.equal(c.cookie, '', 'Set-Cookie cleared it');
      const stale = new Client(gw);
      stale.cookie = before;
      await within(
        1000,
        async () => (await stale.req<{ user: null }>('GET', '/api/whoami')).body.user === null,
      );
      assert.equal((await c.req<{ user: null }>('GET', '/api/whoami')).body.user, null);
      assert.equal((await client().req('POST', '/api/logout')).status, 204, 'anonymous logout is fine');
    });

    test('logout-all: every session of the user is refused on every instance within 1 s', async () => {
      const instances = await instanceUrls(cluster!);
      assert.equal(instances.length, 3);
      const a = client('device-a');
      const b = client('device-b');
      await a.login('bob');
      await b.login('bob');
      // Each instance has seen (and, for hybrid, cached) b's session.
      for (const i of instances) {
        const r = await b.req<{ user: { id: string } | null }>('GET', '/api/whoami', { base: i.url });
        assert.equal(r.body.user?.id, 'bob', `b is logged in on ${i.id}`);
      }
      expectProblem(await client().req('POST', '/api/logout-all'), 401, 'SL_ERR_UNAUTHENTICATED');
      const started = Date.now();
      assert.equal((await a.req('POST', '/api/logout-all')).status, 204);
      await Promise.all(
        instances.map((i) =>
          within(1000, async () => {
            const r = await b.req<{ user: unknown }>('GET', '/api/whoami', { base: i.url, noCookie: false });
            return r.body.user === null;
          }),
        ),
      );
      assert.ok(Date.now() - started <= 1500);
      const again = await b.req('GET', '/api/sessions');
      expectProblem(again, 401, 'SL_ERR_UNAUTHENTICATED');
    });

    test('sessions page: list with current, revoke another, 404 for unknown or not mine, 401', async () => {
      const one = client('agent-one');
      const two = client('agent-two');
      await one.login('carol');
      await two.login('carol');
      type List = {
        sessions: {
          handle: string;
          createdAt: number;
          lastSeenAt: number;
          userAgent: string | null;
          current: boolean;
        }[];
      };
      const list = await one.req<List>('GET', '/api/sessions');
      assert.equal(list.status, 200);
      const mine = list.body.sessions.find((s) => s.current)!;
      assert.ok(mine, 'the caller is marked current');
      assert.equal(mine.userAgent, 'agent-one');
      assert.equal(list.body.sessions.filter((s) => s.current).length, 1);
      const other = list.body.sessions.find((s) => s.userAgent === 'agent-two' && !s.current)!;
      assert.ok(other, 'the other device is listed');
      for (const s of list.body.sessions) {
        assert.equal(typeof s.handle, 'string');
        assert.ok(s.createdAt > 0 && s.lastSeenAt >= s.createdAt);
      }

      // Someone else's session is not found from here, and keeps working.
      const bob = client('bob-device');
      await bob.login('bob');
      const bobs = (await bob.req<List>('GET', '/api/sessions')).body.sessions.find((s) => s.current)!;
      expectProblem(await one.req('DELETE', `/api/sessions/${bobs.handle}`), 404, 'SL_ERR_NOT_FOUND');
      assert.equal((await bob.req<{ user: { id: string } }>('GET', '/api/whoami')).body.user.id, 'bob');

      assert.equal((await one.req('DELETE', `/api/sessions/${other.handle}`)).status, 204);
      await within(
        1000,
        async () => (await two.req<{ user: unknown }>('GET', '/api/whoami')).body.user === null,
      );
      expectProblem(await one.req('DELETE', `/api/sessions/${other.handle}`), 404, 'SL_ERR_NOT_FOUND');
      expectProblem(await one.req('DELETE', '/api/sessions/no-such-handle'), 404, 'SL_ERR_NOT_FOUND');
      const after = await one.req<List>('GET', '/api/sessions');
      assert.ok(!after.body.sessions.some((s) => s.handle === other.handle));
      expectProblem(await client().req('GET', '/api/sessions'), 401, 'SL_ERR_UNAUTHENTICATED');
      expectProblem(
        await client().req('DELETE', `/api/sessions/${mine.handle}`),
        401,
        'SL_ERR_UNAUTHENTICATED',
      );
    });

    test('cart: add, remove, 404 unknown product, 400 bad qty or JSON, 409 past 999 per line', async () => {
      const c = client();
      let r = await c.req<Items>('POST', '/api/cart/items', { body: { productId: 'tee', qty: 1 } });
      assert.deepEqual(r.body.items, [{ productId: 'tee', qty: 1 }]);
      r = await c.req<Items>('POST', '/api/cart/items', {
        body: { productId: 'cap', qty: 3, note: 'ignored' },
      });
      assert.deepEqual(r.body.items, [
        { productId: 'tee', qty: 1 },
        { productId: 'cap', qty: 3 },
      ]);
      expectProblem(
        await c.req('POST', '/api/cart/items', { body: { productId: 'unicorn', qty: 1 } }),
        404,
        'SL_ERR_NOT_FOUND',
      );
      for (const qty of [0, 100, 1.5, '2', null, -1])
        expectProblem(
          await c.req('POST', '/api/cart/items', { body: { productId: 'tee', qty } }),
          400,
          'SL_ERR_BAD_REQUEST',
        );
      expectProblem(await c.req('POST', '/api/cart/items', { body: { qty: 1 } }), 400, 'SL_ERR_BAD_REQUEST');
      expectProblem(
        await c.req('POST', '/api/cart/items', {
          raw: '{"productId": "tee", "qty": 1',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'SL_ERR_BAD_REQUEST',
      );
      for (let i = 0; i < 10; i++)
        assert.equal(
          (await c.req('POST', '/api/cart/items', { body: { productId: 'socks', qty: 99 } })).status,
          200,
        );
      expectProblem(
        await c.req('POST', '/api/cart/items', { body: { productId: 'socks', qty: 10 } }),
        409,
        'SL_ERR_CART_LIMIT',
      );
      r = await c.req<Items>('POST', '/api/cart/items', { body: { productId: 'socks', qty: 9 } });
      assert.equal(r.body.items.find((l) => l.productId === 'socks')?.qty, 999);
      r = await c.req<Items>('DELETE', '/api/cart/items/tee');
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.items.map((l) => l.productId),
        ['cap', 'socks'],
      );
      expectProblem(await c.req('DELETE', '/api/cart/items/unicorn'), 404, 'SL_ERR_NOT_FOUND');
      assert.deepEqual((await c.req<Items>('GET', '/api/cart')).body.items, r.body.items);
    });

    test('20 concurrent adds through the gateway, spread over the instances, are all counted', async (t) => {
      if (o.lossyConcurrentUpdates) return t.skip(o.lossyConcurrentUpdates);
      const c = client();
      await c.req('POST', '/api/cart/items', { body: { productId: 'sticker', qty: 1 } });
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          c.req('POST', '/api/cart/items', { body: { productId: 'sticker', qty: 1 } }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(20).fill(200),
      );
      const served = new Set(answers.map((a) => a.headers.get('x-stateline-instance')));
      assert.ok(served.size >= 2, `spread over ${[...served].join(', ')}`);
      const cart = await c.req<Items>('GET', '/api/cart');
      assert.deepEqual(cart.body.items, [{ productId: 'sticker', qty: 21 }]);
    });

    test('orders: 401, 400 without a key, 409 empty cart, 201, replay of the same order, list newest first', async () => {
      const c = client();
      const key = () => ({ 'idempotency-key': randomUUID() });
      expectProblem(await c.req('POST', '/api/orders', { headers: key() }), 401, 'SL_ERR_UNAUTHENTICATED');
      expectProblem(await c.req('GET', '/api/orders'), 401, 'SL_ERR_UNAUTHENTICATED');
      await c.login('user1');
      expectProblem(await c.req('POST', '/api/orders'), 400, 'SL_ERR_IDEMPOTENCY_KEY_MISSING');
      expectProblem(await c.req('POST', '/api/orders', { headers: key() }), 409, 'SL_ERR_CART_EMPTY');

      await c.req('POST', '/api/cart/items', { body: { productId: 'mug', qty: 2 } });
      await c.req('POST', '/api/cart/items', { body: { productId: 'notebook', qty: 1 } });
      const k1 = key();
      const first = await c.req<OrderBody>('POST', '/api/orders', { headers: k1 });
      assert.equal(first.status, 201, first.text);
      const order = first.body.order;
      assert.deepEqual(order.items, [
        { productId: 'mug', qty: 2, price: 1200 },
        { productId: 'notebook', qty: 1, price: 700 },
      ]);
      assert.equal(order.total, 3100);
      assert.equal(order.idempotencyKey, k1['idempotency-key']);
      assert.ok(order.createdAt > 0 && typeof order.id === 'string');
      assert.deepEqual((await c.req<Items>('GET', '/api/cart')).body.items, [], 'the cart was emptied');

      const replays = await Promise.all(
        [1, 2, 3].map(() => c.req<OrderBody>('POST', '/api/orders', { headers: k1 })),
      );
      for (const r of replays) {
        assert.equal(r.status, 201);
        assert.deepEqual(r.body.order, order);
        assert.equal(r.headers.get('idempotent-replayed'), 'true');
      }
      expectProblem(
        await c.req('POST', '/api/orders', { headers: k1, body: { different: true } }),
        422,
        'SL_ERR_IDEMPOTENCY_MISMATCH',
      );

      await c.req('POST', '/api/cart/items', { body: { productId: 'hoodie', qty: 1 } });
      await sleep(2);
      const second = await c.req<OrderBody>('POST', '/api/orders', { headers: key() });
      assert.equal(second.status, 201);
      const list = await c.req<{ orders: OrderBody['order'][] }>('GET', '/api/orders');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.orders.map((x) => x.id),
        [second.body.order.id, order.id],
      );
      assert.deepEqual(list.body.orders[1], order);
    });

    test('checkout re-run after a crash finds the order its first run wrote (no second order)', async () => {
      const c = client();
      await c.login('user2');
      await c.req('POST', '/api/cart/items', { body: { productId: 'cap', qty: 1 } });
      // What a first run wrote before its instance died: the order under (user, key), nothing else.
      const key = randomUUID();
      const ref = createHash('sha256').update(key).digest('base64url');
      const written = {
        id: randomUUID(),
        items: [{ productId: 'cap', qty: 1, price: 1800 }],
        total: 1800,
        createdAt: Date.now(),
        idempotencyKey: key,
      };
      const store = await createStore(spec);
      try {
        assert.ok((await store.create(`shop:order:user2:${ref}`, JSON.stringify(written))).ok);
      } finally {
        await store.close();
      }
      const r = await c.req<OrderBody>('POST', '/api/orders', { headers: { 'idempotency-key': key } });
      assert.equal(r.status, 201);
      assert.deepEqual(r.body.order, written, 'the order of the first run, not a new one');
      assert.deepEqual(
        (await c.req<Items>('GET', '/api/cart')).body.items,
        [],
        'and its items left the cart',
      );
      const list = await c.req<{ orders: { id: string }[] }>('GET', '/api/orders');
      assert.deepEqual(list.body.orders.filter((x) => x.id === written.id).length, 1);
    });

    test('bad requests: malformed JSON 400, body over 16 KiB 413, unknown route 404, wrong method 405', async () => {
      const c = client();
      expectProblem(
        await c.req('POST', '/api/login', {
          raw: '{"username":',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'SL_ERR_BAD_REQUEST',
      );
      const big = JSON.stringify({ productId: 'mug', qty: 1, pad: 'x'.repeat(17 * 1024) });
      expectProblem(
        await c.req('POST', '/api/cart/items', { raw: big, headers: { 'content-type': 'application/json' } }),
        413,
        'SL_ERR_PAYLOAD_TOO_LARGE',
      );
      expectProblem(await c.req('GET', '/api/nope'), 404, 'SL_ERR_NOT_FOUND');
      expectProblem(
        await c.req('GET', '/nope', { headers: { accept: 'application/json' } }),
        404,
        'SL_ERR_NOT_FOUND',
      );
      const put = await c.req('PUT', '/api/cart', { body: {} });
      expectProblem(put, 405, 'SL_ERR_METHOD_NOT_ALLOWED');
      assert.equal(put.headers.get('allow'), 'GET, HEAD');
      const del = await c.req('DELETE', '/api/products');
      expectProblem(del, 405, 'SL_ERR_METHOD_NOT_ALLOWED');
      expectProblem(await c.req('GET', '/api/login'), 405, 'SL_ERR_METHOD_NOT_ALLOWED');
    });

    test('static UI: index.html no-cache, SPA fallback for HTML, hashed assets immutable', async () => {
      const c = client();
      const index = await c.req('GET', '/', { headers: { accept: 'text/html' } });
      assert.equal(index.status, 200);
      assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(index.headers.get('cache-control'), 'no-cache');
      const deep = await c.req('GET', '/orders/history', { headers: { accept: 'text/html,*/*' } });
      assert.equal(deep.status, 200);
      assert.equal(deep.text, index.text);
      const asset = /\/assets\/[\w.-]+\.js/.exec(index.text)?.[0];
      assert.ok(asset, 'index.html names a built script');
      const js = await c.req('GET', asset);
      assert.equal(js.status, 200);
      assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.match(js.headers.get('content-type') ?? '', /javascript/);
      expectProblem(await c.req('GET', '/assets/missing-0000.js'), 404, 'SL_ERR_NOT_FOUND');
      expectProblem(await c.req('GET', '/assets/..%2F..%2Fpackage.json'), 404, 'SL_ERR_NOT_FOUND');
    });

    test('/metrics on every instance has the contract names; route labels are patterns', async () => {
      const instances = await instanceUrls(cluster!);
      await client().req('GET', '/api/products/tee');
      for (const i of instances) {
        const r = await fetch(`${i.url}/metrics`);
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
        const text = await r.text();
        for (const name of CONTRACT_METRICS)
          assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${i.id}: ${name}`);
        assert.doesNotMatch(text, /route="\/api\/products\/(mug|tee)"/, 'no raw paths as labels');
        assert.match(text, /stateline_store_operations_total\{op="get"\} [1-9]/);
      }
      const all = await Promise.all(instances.map(async (i) => (await fetch(`${i.url}/metrics`)).text()));
      assert.ok(
        all.some((t) =>
          /http_requests_total\{method="GET",route="\/api\/products\/:id",status="200"\} [1-9]/.test(t),
        ),
      );
      assert.ok(
        all.some((t) => /stateline_idempotency_replays_total [1-9]/.test(t)),
        'replays were counted',
      );
      assert.ok(all.some((t) => /stateline_sessions_created_total [1-9]/.test(t)));
      assert.ok(all.some((t) => /stateline_sessions_revoked_total [1-9]/.test(t)));
      // A forged cookie is counted as tampered by the instance that saw it.
      await fetch(`${instances[0]!.url}/api/whoami`, { headers: { cookie: 'sl.sid=forged.forged.forged' } });
      const first = await (await fetch(`${instances[0]!.url}/metrics`)).text();
      assert.match(first, /stateline_sessions_rejected_total\{reason="tampered"\} [1-9]/);
      // logout-all and revoke left cookies behind that were refused afterwards.
      assert.ok(
        all.some((t) => /stateline_sessions_rejected_total\{reason="(ended|revoked)"\} [1-9]/.test(t)),
        'refusals of revoked sessions were counted',
      );
      if (o.strategy === 'hybrid')
        assert.ok(
          all.some((t) => /stateline_near_cache_hit_ratio 0\.\d*[1-9]/.test(t)),
          'the near cache answered some reads',
        );
      const gwText = await (await fetch(`${gw}/metrics`)).text();
      assert.match(gwText, /^# TYPE stateline_gateway_requests_total counter/m);
    });

    test('/ws chat: two users on different instances see each other’s messages and presence', async () => {
      const instances = await instanceUrls(cluster!);
      const alice = client();
      const bob = client();
      await alice.login('alice');
      await bob.login('bob');
      const ws = (u: string) => u.replace(/^http/, 'ws') + '/ws';
      const a = connect(ws(instances[0]!.url), { headers: { cookie: alice.cookie } });
      const b = connect(ws(instances[1]!.url), { headers: { cookie: bob.cookie } });
      const anon = connect(ws(instances[2]!.url), { maxDelay: 60_000, minDelay: 60_000 });
      const anonClosed = new Promise<number>((resolve) => anon.on('close', (e) => resolve(e.code)));
      try {
        const got: MessageFrame[] = [];
        b.on('message', (m) => got.push(m));
        await a.join('lobby');
        await b.join('lobby');
        await within(5000, async () => {
          const m = a.members('lobby');
          return m.includes('alice') && m.includes('bob');
        });
        const text = `hello ${randomUUID()}`;
        await a.send('lobby', text);
        const m = (await within(3000, async () => got.find((x) => x.text === text)))!;
        assert.equal(m.from, 'alice');
        assert.equal(typeof m.at, 'number');
        const closed = await Promise.race([anonClosed, sleep(3000).then(() => 'still open')]);
        assert.equal(closed, 4401, 'anonymous sockets are refused');
      } finally {
        a.close();
        b.close();
        anon.close();
      }
    });

    test('an instance killed after checkout: the retry with the same key lands elsewhere and replays ONE order', async () => {
      const c = client();
      await c.login('carol');
      await c.req('POST', '/api/cart/items', { body: { productId: 'tee', qty: 2 } });
      const headers = { 'idempotency-key': randomUUID() };
      const first = await c.req<OrderBody>('POST', '/api/orders', { headers });
      assert.equal(first.status, 201);
      const served = first.headers.get('x-stateline-instance')!;
      const kill = await fetch(`${gw}/_stateline/instances/${served}/kill`, { method: 'POST' });
      assert.equal(kill.status, 200);
      let retry: Answer<OrderBody> | undefined;
      for (let i = 0; i < 3; i++) retry = await c.req<OrderBody>('POST', '/api/orders', { headers });
      assert.equal(retry!.status, 201);
      assert.notEqual(retry!.headers.get('x-stateline-instance'), served);
      assert.equal(retry!.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(retry!.body.order, first.body.order);
      const list = await c.req<{ orders: { idempotencyKey: string }[] }>('GET', '/api/orders');
      assert.equal(list.body.orders.filter((x) => x.idempotencyKey === headers['idempotency-key']).length, 1);
      assert.equal(
        (await fetch(`${gw}/_stateline/instances/${served}/start`, { method: 'POST' })).status,
        200,
      );
    });
  });
}
