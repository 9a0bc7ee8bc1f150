import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBackends, type Backend } from './support/backend.js';
import { Client, gatewayFor, tally, waitFor, type Reply } from './support/client.js';
import type { Gateway } from '../src/index.js';

describe('policies', () => {
  let backends: Backend[];
  before(async () => {
    backends = await startBackends(3);
  });
  after(async () => {
    await Promise.all(backends.map((b) => b.kill()));
  });

  test('round-robin takes the instances in turn', async () => {
    const { gw, base } = await gatewayFor(backends, { balance: 'round-robin' });
    const c = new Client(base);
    try {
      const order: string[] = [];
      for (let k = 0; k < 30; k++) order.push((await c.send('/')).instance!);
      assert.deepEqual(tally(order.map((instance) => ({ instance }) as Reply)), { b1: 10, b2: 10, b3: 10 });
      // A strict rotation: every window of three holds each instance once.
      for (let k = 0; k + 3 <= order.length; k++) assert.equal(new Set(order.slice(k, k + 3)).size, 3);
    } finally {
      await c.close();
      await gw.close();
    }
  });

  test('least-conn sends new requests to the instance with the fewest in flight', async () => {
    const { gw, base } = await gatewayFor(backends, { balance: 'least-conn' });
    const c = new Client(base);
    try {
      // Two slow requests occupy two instances; every quick one then goes to the third.
      const slow = [c.send('/slow?ms=600'), c.send('/slow?ms=600')];
      await waitFor(() => gw.instances().filter((i) => i.inflight === 1).length === 2, 2000, 'two in flight');
      const busy = new Set(
        gw
          .instances()
          .filter((i) => i.inflight === 1)
          .map((i) => i.id),
      );
      const free = backends.map((b) => b.id).find((id) => !busy.has(id));
      const quick: Reply[] = [];
      for (let k = 0; k < 10; k++) quick.push(await c.send('/'));
      assert.deepEqual(tally(quick), { [free!]: 10 });
      const slowReplies = await Promise.all(slow);
      assert.deepEqual(new Set(slowReplies.map((r) => r.instance)), busy);
    } finally {
      await c.close();
      await gw.close();
    }
  });

  describe('sticky', () => {
    let gw: Gateway;
    let base: string;
    before(async () => {
      ({ gw, base } = await gatewayFor(backends, { balance: 'sticky' }));
    });
    after(async () => {
      await gw.close();
    });

    test('a client keeps its instance for 1,000 requests; new clients are spread', async () => {
      const clients = [new Client(base, true), new Client(base, true), new Client(base, true)];
      try {
        const first = await Promise.all(clients.map((c) => c.send('/')));
        for (const r of first) {
          assert.equal(r.setCookie.length, 1);
          assert.match(
            r.setCookie[0]!,
            new RegExp(`^sl\\.route=${r.instance}; Path=/; HttpOnly; SameSite=Lax$`),
          );
        }
        assert.equal(
          new Set(first.map((r) => r.instance)).size,
          3,
          'three new clients land on three instances',
        );
        const c = clients[0]!;
        const pinned = first[0]!.instance;
        const replies: Reply[] = [];
        for (let k = 0; k < 1000; k++) replies.push(await c.send('/'));
        assert.deepEqual(tally(replies), { [pinned!]: 1000 });
        // "indirect": no Set-Cookie while the cookie already names the instance that answered.
        assert.equal(replies.filter((r) => r.setCookie.length > 0).length, 0);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    });

    test('when its instance is marked down, the client moves and sticks to the new one', async () => {
      const c = new Client(base, true);
      try {
        const pinned = (await c.send('/')).instance!;
        gw.markDown(pinned);
        const moved = await c.send('/');
        assert.notEqual(moved.instance, pinned);
        assert.match(moved.setCookie[0] ?? '', new RegExp(`^sl\\.route=${moved.instance};`));
        const after = [];
        for (let k = 0; k < 50; k++) after.push(await c.send('/'));
        assert.deepEqual(tally(after), { [moved.instance!]: 50 });
        await waitFor(
          () => gw.instances().every((i) => i.state === 'up'),
          3000,
          'health checks bring it back',
        );
      } finally {
        await c.close();
      }
    });

    test('a cookie naming an unknown instance is replaced', async () => {
      const c = new Client(base, true);
      try {
        c.cookies.set('sl.route', 'nope');
        const r = await c.send('/');
        assert.equal(r.status, 200);
        assert.match(r.setCookie[0] ?? '', new RegExp(`^sl\\.route=${r.instance};`));
      } finally {
        await c.close();
      }
    });
  });

  describe('hash', () => {
    test('the same session cookie always reaches the same instance; keys spread', async () => {
      const { gw, base } = await gatewayFor(backends, { balance: 'hash' });
      const c = new Client(base);
      try {
        const owner = new Map<string, string>();
        for (let k = 0; k < 60; k++) {
          const key = `session-${k}`;
          const cookie = k % 2 === 0 ? `sl.sid=${key}` : `other=1; __Host-sl.sid=${key}`;
          owner.set(key, (await c.send('/', { headers: { cookie } })).instance!);
        }
        for (let k = 0; k < 60; k++) {
          const key = `session-${k}`;
          const again = await c.send('/', { headers: { cookie: `sl.sid=${key}` } });
          assert.equal(again.instance, owner.get(key), key);
        }
        assert.equal(new Set(owner.values()).size, 3, 'keys spread over all instances');
        // No key: least-conn, which spreads sequential requests over everyone.
        const keyless: Reply[] = [];
        for (let k = 0; k < 9; k++) keyless.push(await c.send('/'));
        assert.equal(Object.keys(tally(keyless)).length, 3);
      } finally {
        await c.close();
        await gw.close();
      }
    });

    test('hashing on a named header', async () => {
      const { gw, base } = await gatewayFor(backends, { balance: 'hash', hash: { header: 'X-Tenant' } });
      const c = new Client(base);
      try {
        for (let k = 0; k < 20; k++) {
          const a = await c.send('/', { headers: { 'x-tenant': `t${k}`, cookie: 'sl.sid=same' } });
          const b = await c.send('/', { headers: { 'x-tenant': `t${k}`, cookie: `sl.sid=other${k}` } });
          assert.equal(a.instance, b.instance);
        }
      } finally {
        await c.close();
        await gw.close();
      }
    });

    test('bounded load: one hot key cannot give an instance more than 1.25x its share', async () => {
      const { gw, base } = await gatewayFor(backends, { balance: 'hash' });
      const c = new Client(base);
      try {
        let peak = 0;
        const watch = setInterval(() => {
          for (const i of gw.instances()) peak = Math.max(peak, i.inflight);
        }, 2);
        const replies = await Promise.all(
          Array.from({ length: 24 }, () => c.send('/slow?ms=300', { headers: { cookie: 'sl.sid=hot' } })),
        );
        clearInterval(watch);
        // 24 in flight over 3 instances: the bound is ceil(1.25 * 24 / 3) = 10.
        assert.ok(peak <= 10, `peak in flight on one instance ${peak} > 10`);
        const counts = Object.values(tally(replies));
        assert.ok(Math.max(...counts) <= 10, JSON.stringify(tally(replies)));
        assert.equal(counts.length, 3, 'the overflow went to the other instances');
      } finally {
        await c.close();
        await gw.close();
      }
    });
  });
});
