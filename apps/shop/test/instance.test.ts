/**
 * One shop instance on its own (no gateway): its request log lines, and what clients get while
 * its Store is down.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TestRedis } from '../../../packages/stateline/test/support/redis-server.js';
import { runShop } from './solo-shop.js';
import { Client, expectProblem, within } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'shop-instance-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** POSTs `bytes` of JSON-ish body in 1 KiB chunks, without Content-Length. */
function chunked(url: string, cookie: string, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'idempotency-key': 'big-1' },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    // The server may close the connection before every chunk is written.
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += 1024;
        if (!req.write('x'.repeat(1024))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('one shop instance', () => {
  it('logs one JSON line per request: reqId, instance, method, route pattern, status, ms; never a secret', async () => {
    const shop = await runShop({ STATELINE_STORE: `sqlite:${join(dir, 'logs.db')}`, LOG_LEVEL: 'info' });
    try {
      const c = new Client(shop.url);
      await c.login('alice', 'stateline');
      await c.req('POST', '/api/cart/items', { body: { productId: 'mug', qty: 1 } });
      await c.req('GET', '/api/products/mug', { headers: { 'x-request-id': 'trace-42' } });
      await c.req('POST', '/api/login', { body: { username: 'bob', password: 'not-his-password' } });
      // Bodies without a length are counted as they arrive: 413 on the route that reads them and
      // on checkout, whose body the idempotency middleware reads.
      for (const path of ['/api/cart/items', '/api/orders']) {
        const r = await chunked(`${shop.url}${path}`, c.cookie, 20 * 1024);
        assert.equal(r.status, 413, path);
        assert.match(r.body, /SL_ERR_PAYLOAD_TOO_LARGE/);
      }
      const cookieValue = c.cookie.split('=')[1]!;
      const lines = await within(3000, async () => {
        const json = shop.out
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        const requests = json.filter((l) => l.msg === 'request');
        return requests.length >= 6 ? { json, requests } : undefined;
      });
      assert.deepEqual(
        lines!.requests.map((l) => [l.method, l.route, l.status]),
        [
          ['POST', '/api/login', 200],
          ['POST', '/api/cart/items', 200],
          ['GET', '/api/products/:id', 200],
          ['POST', '/api/login', 401],
          ['POST', '/api/cart/items', 413],
          ['POST', '/api/orders', 413],
        ],
      );
      for (const l of lines!.requests) {
        assert.equal(l.instance, 'solo');
        assert.equal(typeof l.reqId, 'string');
        assert.equal(typeof l.ms, 'number');
      }
      assert.equal(lines!.requests[2]!.reqId, 'trace-42', 'the X-Request-Id given is kept');
      assert.equal(lines!.requests[3]!.code, 'SL_ERR_BAD_CREDENTIALS');
      const all = shop.out.join('\n');
      for (const secret of ['stateline"', 'not-his-password', cookieValue])
        assert.ok(!all.includes(secret), `the log never shows ${secret}`);
    } finally {
      await shop.stop();
    }
  });

  it('Store down: session routes answer 503 problem+json, the catalogue still 200, /readyz 503; back when it is', async (t) => {
    let redis: TestRedis;
    try {
      redis = await TestRedis.start();
    } catch {
      return t.skip('redis-server cannot be started here');
    }
    const shop = await runShop({ STATELINE_STORE: `${redis.url}?timeout=500`, LOG_LEVEL: 'silent' });
    try {
      assert.ok(!shop.out.some((l) => l.startsWith('{')), 'LOG_LEVEL=silent: no log lines');
      const c = new Client(shop.url);
      await c.login('carol', 'stateline');
      assert.equal(
        (await c.req('POST', '/api/cart/items', { body: { productId: 'cap', qty: 1 } })).status,
        200,
      );
      await redis.kill();
      const cart = await c.req('GET', '/api/cart');
      expectProblem(cart, 503, 'SL_ERR_STORE_UNAVAILABLE');
      assert.ok(cart.headers.get('retry-after'));
      expectProblem(
        await c.req('POST', '/api/login', { body: { username: 'alice', password: 'stateline' } }),
        503,
        'SL_ERR_STORE_UNAVAILABLE',
      );
      assert.equal((await c.req('GET', '/api/products')).status, 200, 'stateless routes need no Store');
      assert.equal((await fetch(`${shop.url}/readyz`)).status, 503);
      assert.equal(shop.child.exitCode, null, 'the instance did not crash');
      await redis.startProcess();
      // Redis came back empty: the session is gone, the instance serves again.
      await within(10_000, async () => (await fetch(`${shop.url}/readyz`)).status === 200, 100);
      assert.equal((await c.req('GET', '/api/cart')).status, 200);
    } finally {
      await shop.stop();
      await redis.stop();
    }
  });
});
