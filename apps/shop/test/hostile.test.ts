/**
 * One shop instance on its own (no gateway) under hostile or careless traffic: what it logs for an
 * expected refusal, cross-site requests, and forged forwarding headers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
});
