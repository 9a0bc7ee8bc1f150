/**
 * A Store outage behind the gateway (issue 12, defect 7): the instances stay in rotation (the
 * gateway routes by liveness), the catalogue keeps answering 200, session routes answer 503 with
 * Retry-After, and everything recovers when the Store returns.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startCluster } from '@stateline/lab';
import { TestRedis } from '../../../packages/stateline/test/support/redis-server.js';
import { Client, expectProblem, SHOP_APP, sleep, within } from './support.js';

/** `stateline_gateway_health_transitions_total{to="down"}` summed over instances. */
async function downTransitions(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    const m = /^stateline_gateway_health_transitions_total\{[^}]*to="down"[^}]*\} (\d+)/.exec(line);
    if (m) n += Number(m[1]);
  }
  return n;
}

describe('Store outage behind the gateway', () => {
  it('the catalogue keeps answering 200, session routes 503 + Retry-After, no instance leaves; all recovers', async (t) => {
    let redis: TestRedis;
    try {
      // Every write on disk before it is acknowledged: a SIGKILL loses nothing, as a real outage would not.
      redis = await TestRedis.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    } catch {
      return t.skip('redis-server cannot be started here');
    }
    const cluster = await startCluster({
      app: SHOP_APP,
      port: 0,
      instances: 3,
      stdio: 'ignore',
      strategy: 'server',
      store: `${redis.url}?timeout=500`,
      env: { LOG_LEVEL: 'silent' },
    });
    let storeDown = false;
    try {
      const c = new Client(cluster.url);
      await c.login('carol', 'stateline');
      const add = await c.req('POST', '/api/cart/items', { body: { productId: 'cap', qty: 1 } });
      assert.equal(add.status, 200);
      const instance = cluster.gateway.instances()[0]!.url;

      await redis.kill();
      storeDown = true;
      // Longer than the gateway's health interval (500 ms) times fall (2): any down would show.
      const until = Date.now() + 3000;
      const products: number[] = [];
      let sessionAnswers = 0;
      while (Date.now() < until) {
        products.push((await c.req('GET', '/api/products')).status);
        const cart = await c.req('GET', '/api/cart');
        expectProblem(cart, 503, 'SL_ERR_STORE_UNAVAILABLE');
        assert.ok(Number(cart.headers.get('retry-after')) >= 1, 'Retry-After on the 503');
        sessionAnswers++;
        await sleep(50);
      }
      assert.ok(products.length >= 5, `several catalogue requests (${products.length})`);
      assert.deepEqual(
        products.filter((s) => s !== 200),
        [],
        'every catalogue request answered 200',
      );
      assert.ok(sessionAnswers >= 5);
      assert.deepEqual(
        cluster.gateway.instances().map((i) => i.state),
        ['up', 'up', 'up'],
        'no instance left the rotation',
      );
      assert.equal(await downTransitions(cluster.url), 0, 'no down transition');
      // Operators still see the outage: readiness reports the Store, liveness the process.
      assert.equal((await fetch(`${instance}/readyz`)).status, 503);
      assert.equal((await fetch(`${instance}/healthz`)).status, 200);

      await redis.startProcess();
      storeDown = false;
      // Each instance reconnects on its own; readiness says when.
      for (const i of cluster.gateway.instances())
        await within(15_000, async () => (await fetch(`${i.url}/readyz`)).status === 200, 100);
      const cart = await c.req<{ items: { productId: string }[] }>('GET', '/api/cart');
      assert.equal(cart.status, 200);
      assert.deepEqual(
        cart.body.items.map((i) => i.productId),
        ['cap'],
        'the same session and cart, back',
      );
      for (let k = 0; k < 6; k++) {
        const r = await c.req('POST', '/api/cart/items', { body: { productId: 'mug', qty: 1 } });
        assert.equal(r.status, 200, `every instance serves sessions again: ${r.text}`);
      }
      assert.equal(await downTransitions(cluster.url), 0, 'still no down transition');
    } finally {
      // The instances close their Store connections on the way out: give them one.
      if (storeDown) await redis.startProcess().catch(() => {});
      await cluster.close();
      await redis.stop();
    }
  });
});
