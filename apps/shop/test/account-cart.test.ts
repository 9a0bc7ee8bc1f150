/**
 * The logged-in user's cart is kept with the account, for every session strategy: one cart shared
 * by the user's devices and instances with no lost add, the anonymous cart merged into it once
 * (even when the login is retried), and checkout idempotent from either device.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startCluster, type Cluster } from '@stateline/lab';
import { cleanUpAfter } from '../../../packages/stateline/test/support/cleanup.js';
import { needService, REDIS_URL, uniquePrefix } from '../../../packages/stateline/test/support/services.js';
import { Client, instanceUrls, SHOP_APP, sleep, type Answer } from './support.js';

type Items = { items: { productId: string; qty: number }[] };
type OrderBody = {
  order: { id: string; items: { productId: string; qty: number }[]; idempotencyKey: string };
};

const redisSkip = await needService('redis');
cleanUpAfter('redis', redisSkip);
const dir = mkdtempSync(join(tmpdir(), 'shop-account-cart-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Setup {
  name: string;
  strategy: 'server' | 'token' | 'hybrid' | 'memory';
  store: () => string;
  skip?: string | false;
  /** memory: a session lives in one instance, so each device stays on the instance it logged in on. */
  pinned?: boolean;
}

const SETUPS: Setup[] = [
  { name: 'server (SQLite)', strategy: 'server', store: () => `sqlite:${join(dir, 'server.db')}` },
  { name: 'token', strategy: 'token', store: () => `sqlite:${join(dir, 'token.db')}` },
  {
    name: 'hybrid (Redis)',
    strategy: 'hybrid',
    store: () => `${REDIS_URL}?prefix=${uniquePrefix('shop-account-cart')}`,
    skip: redisSkip,
  },
  {
    name: 'memory, sticky',
    strategy: 'memory',
    store: () => `sqlite:${join(dir, 'memory.db')}`,
    pinned: true,
  },
];

/** Sorted lines, for comparing carts. */
const lines = (a: Answer<Items>) => [...a.body.items].sort((x, y) => x.productId.localeCompare(y.productId));

for (const setup of SETUPS) {
  describe(`account cart (${setup.name})`, { skip: setup.skip ?? false }, () => {
    let cluster: Cluster | undefined;
    let urls: string[] = [];

    before(async () => {
      cluster = await startCluster({
        app: SHOP_APP,
        port: 0,
        instances: 3,
        stdio: 'ignore',
        strategy: setup.strategy,
        ...(setup.pinned ? { balance: 'sticky' as const } : {}),
        store: setup.store(),
        env: { LOG_LEVEL: 'silent', STATELINE_SHOP_USERS: '3' },
      });
      urls = (await instanceUrls(cluster)).map((i) => i.url);
      assert.equal(urls.length, 3);
    });
    after(() => cluster?.close());

    /**
     * A device of `user`, logged in on instance `home`. Its requests go to `home` when sessions
     * are pinned (memory), else round-robin over all three instances starting there.
     */
    async function device(user: string, home: number, agent: string) {
      const c = new Client(urls[home]!, agent);
      await c.login(user);
      let turn = home;
      const base = () => (setup.pinned ? urls[home]! : urls[turn++ % urls.length]!);
      return {
        c,
        req: <T = Record<string, unknown>>(m: string, p: string, o: Parameters<Client['req']>[2] = {}) =>
          c.req<T>(m, p, { ...o, base: base() }),
      };
    }

    it('200 concurrent adds from two devices of one user, spread over the instances: exactly 200', async () => {
      const phone = await device('user1', 0, 'phone');
      const laptop = await device('user1', 1, 'laptop');
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, n) =>
          (n % 2 ? phone : laptop).req<Items>('POST', '/api/cart/items', {
            body: { productId: 'sticker', qty: 1 },
          }),
        ),
      );
      assert.deepEqual(
        answers.filter((a) => a.status !== 200).map((a) => a.text),
        [],
      );
      const served = new Set(answers.map((a) => a.headers.get('x-stateline-instance')));
      assert.equal(served.size, setup.pinned ? 2 : 3, `served by ${[...served].join(', ')}`);
      for (const d of [phone, laptop])
        assert.deepEqual(lines(await d.req<Items>('GET', '/api/cart')), [{ productId: 'sticker', qty: 200 }]);
    });

    it('the anonymous cart joins the account cart at login exactly once, though the login is retried', async (t: TestContext) => {
      const laptop = await device('user2', 1, 'laptop');
      assert.equal(
        (await laptop.req('POST', '/api/cart/items', { body: { productId: 'socks', qty: 1 } })).status,
        200,
      );

      const phone = new Client(urls[0]!, 'phone');
      for (const [productId, qty] of [
        ['mug', 2],
        ['tee', 1],
      ] as const) {
        const r = await phone.req<Items>('POST', '/api/cart/items', { body: { productId, qty } });
        assert.equal(r.status, 200, r.text);
      }
      const anonymous = phone.cookie;
      assert.ok(anonymous, 'the anonymous cart made a session');
      // A login whose answer is slow is sent again: the same request, with the same anonymous
      // cookie, at once on every instance that can know the session; then once more after.
      const again = setup.pinned ? [urls[0]!, urls[0]!, urls[0]!] : [urls[0]!, urls[1]!, urls[2]!, urls[0]!];
      const retries = await Promise.all(
        again.map((base) =>
          phone.req('POST', '/api/login', {
            base,
            noCookie: true,
            headers: { cookie: anonymous },
            body: { username: 'user2', password: 'stateline' },
          }),
        ),
      );
      t.diagnostic(
        `concurrent logins: ${retries.map((r) => `${r.status} ${r.headers.get('x-stateline-instance')}`).join(', ')}`,
      );
      assert.ok(
        retries.some((r) => r.status === 200),
        'a login went through',
      );
      await phone.login('user2');
      const want = [
        { productId: 'mug', qty: 2 },
        { productId: 'socks', qty: 1 },
        { productId: 'tee', qty: 1 },
      ];
      assert.deepEqual(lines(await phone.req<Items>('GET', '/api/cart', { base: urls[0]! })), want);
      assert.deepEqual(lines(await laptop.req<Items>('GET', '/api/cart')), want, 'the other device sees it');
      // The session no longer holds a cart of its own: after logout the visitor's cart is empty.
      assert.equal((await phone.req('POST', '/api/logout', { base: urls[0]! })).status, 204);
      assert.deepEqual((await phone.req<Items>('GET', '/api/cart', { base: urls[0]! })).body.items, []);
      assert.deepEqual(lines(await laptop.req<Items>('GET', '/api/cart')), want, 'the account kept it');
    });

    it('checkout is idempotent from either device: one order per key, the cart emptied once', async () => {
      const phone = await device('user3', 0, 'phone');
      const laptop = await device('user3', 1, 'laptop');
      await phone.req('POST', '/api/cart/items', { body: { productId: 'mug', qty: 1 } });
      await laptop.req('POST', '/api/cart/items', { body: { productId: 'cap', qty: 2 } });

      const key = { 'idempotency-key': randomUUID() };
      const first = await phone.req<OrderBody>('POST', '/api/orders', { headers: key });
      assert.equal(first.status, 201, first.text);
      assert.deepEqual(
        first.body.order.items.map((l) => [l.productId, l.qty]).sort(),
        [
          ['cap', 2],
          ['mug', 1],
        ],
        'both devices’ lines in one order',
      );
      const replay = await laptop.req<OrderBody>('POST', '/api/orders', { headers: key });
      assert.equal(replay.status, 201, replay.text);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(replay.body.order, first.body.order);

      // Both devices send the same new checkout at once, then retry until answered.
      await laptop.req('POST', '/api/cart/items', { body: { productId: 'tee', qty: 3 } });
      const key2 = { 'idempotency-key': randomUUID() };
      const placed = await Promise.all(
        [phone, laptop, phone, laptop].map(async (d) => {
          for (let i = 0; i < 50; i++) {
            const r = await d.req<OrderBody>('POST', '/api/orders', { headers: key2 });
            if (r.status !== 409) return r;
            await sleep(100); // SL_ERR_IDEMPOTENCY_IN_FLIGHT: the other device's attempt is running
          }
          assert.fail('checkout never answered');
        }),
      );
      assert.deepEqual(
        placed.map((r) => r.status),
        [201, 201, 201, 201],
      );
      assert.equal(new Set(placed.map((r) => r.body.order.id)).size, 1, 'one order');
      assert.deepEqual(
        placed[0]!.body.order.items.map((l) => [l.productId, l.qty]),
        [['tee', 3]],
      );

      for (const d of [phone, laptop]) {
        assert.deepEqual((await d.req<Items>('GET', '/api/cart')).body.items, [], 'the cart is empty');
        const list = await d.req<{ orders: { id: string; idempotencyKey: string }[] }>('GET', '/api/orders');
        assert.deepEqual(
          list.body.orders.map((o) => o.idempotencyKey),
          [key2['idempotency-key'], key['idempotency-key']],
        );
      }
    });
  });
}
