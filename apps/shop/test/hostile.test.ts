/**
 * One shop instance on its own (no gateway) under hostile or careless traffic: what it logs for an
 * expected refusal, cross-site requests, and forged forwarding headers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runShop } from './solo-shop.js';
import { Client, expectProblem, within } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'shop-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The instance's JSON log lines so far. */
const jsonLines = (out: string[]) =>
  out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('shop instance under hostile traffic', () => {
  it('an expected 4xx (checkout of an empty cart) is logged as a request, never as an error with a stack', async () => {
    const shop = await runShop({ STATELINE_STORE: `sqlite:${join(dir, 'logs.db')}`, LOG_LEVEL: 'info' });
    try {
      const c = new Client(shop.url);
      await c.login('alice');
      const r = await c.req('POST', '/api/orders', { body: {}, headers: { 'idempotency-key': 'empty-1' } });
      expectProblem(r, 409, 'SL_ERR_CART_EMPTY');
      const lines = await within(3000, async () => {
        const json = jsonLines(shop.out);
        return json.some((l) => l.msg === 'request' && l.route === '/api/orders') ? json : undefined;
      });
      const errors = lines!.filter((l) => Number(l.level) >= 50);
      assert.deepEqual(errors, [], 'no error-level line');
      assert.ok(!shop.out.some((l) => /"stack"|\n\s+at /.test(l)), 'no stack trace');
      const line = lines!.find((l) => l.route === '/api/orders')!;
      assert.equal(line.level, 30);
      assert.equal(line.status, 409);
      assert.equal(line.code, 'SL_ERR_CART_EMPTY');
    } finally {
      await shop.stop();
    }
  });

  it("CSRF: the issue's text/plain logout-all from another origin is refused 403 SL_ERR_CSRF; the user stays logged in", async () => {
    const shop = await runShop({ STATELINE_STORE: `sqlite:${join(dir, 'csrf.db')}`, LOG_LEVEL: 'silent' });
    try {
      const c = new Client(shop.url);
      await c.login('bob');
      for (const headers of <Record<string, string>[]>[
        { 'content-type': 'text/plain', origin: 'http://evil.example' },
        { 'content-type': 'text/plain' },
        { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
        { 'content-type': 'application/json', origin: 'http://evil.example' },
        { 'content-type': 'application/json', 'sec-fetch-site': 'same-site' },
      ]) {
        const r = await c.req('POST', '/api/logout-all', { raw: 'x', headers });
        expectProblem(r, 403, 'SL_ERR_CSRF');
      }
      const me = await c.req<{ user: { id: string } | null }>('GET', '/api/whoami');
      assert.equal(me.body.user?.id, 'bob', 'still logged in');
      // What the web UI sends (same-origin fetch with JSON) and what curl sends both pass.
      const own = new URL(shop.url).origin;
      const add = await c.req('POST', '/api/cart/items', {
        body: { productId: 'mug', qty: 1 },
        headers: { origin: own, 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(add.status, 200);
      assert.equal((await c.req('POST', '/api/logout-all')).status, 204);
    } finally {
      await shop.stop();
    }
  });

  it('login limit: rotating X-Forwarded-For sent straight to an instance (not from the gateway) gets 429 after 10', async () => {
    const shop = await runShop({ STATELINE_STORE: `sqlite:${join(dir, 'xff.db')}`, LOG_LEVEL: 'silent' });
    try {
      const { hostname, port } = new URL(shop.url);
      // 127.0.0.2: on this host, but not the gateway's address (Linux routes all of 127/8 to lo).
      const login = (i: number) =>
        new Promise<number>((resolve, reject) => {
          const body = JSON.stringify({ username: 'carol', password: `guess-${i}` });
          const req = http.request({
            host: hostname,
            port,
            path: '/api/login',
            method: 'POST',
            localAddress: '127.0.0.2',
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              'x-forwarded-for': `198.51.100.${i}`,
            },
          });
          req.on('response', (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          });
          req.on('error', reject);
          req.end(body);
        });
      const statuses: number[] = [];
      for (let i = 0; i < 14; i++) statuses.push(await login(i));
      assert.deepEqual(statuses, [...Array<number>(10).fill(401), 429, 429, 429, 429]);
    } finally {
      await shop.stop();
    }
  });
});
