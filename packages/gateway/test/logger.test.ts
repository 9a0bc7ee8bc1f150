/** The gateway's `logger` option: a failing front handler is reported to it (pino), not to the console. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { createGateway } from '../src/index.js';

const gateways: { close(): Promise<void> }[] = [];
after(async () => {
  for (const g of gateways) await g.close();
});

test('a front handler that throws is logger.error with the request, and the client gets a bare 500 problem', async () => {
  const lines: { level: number; msg: string; err?: { message: string }; method?: string; url?: string }[] =
    [];
  const logger = pino({}, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void errors.push(args);
  try {
    const gw = createGateway({ health: false, logger });
    gateways.push(gw);
    gw.use(() => {
      throw new Error('front bug with a secret');
    });
    const { port } = await gw.listen(0);
    const res = await fetch(`http://127.0.0.1:${port}/boom?x=1`);
    const body = await res.text();
    assert.equal(res.status, 500);
    assert.doesNotMatch(body, /secret/);
  } finally {
    console.error = original;
  }
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 50);
  assert.equal(lines[0]!.err?.message, 'front bug with a secret');
  assert.equal(lines[0]!.method, 'GET');
  assert.equal(lines[0]!.url, '/boom?x=1');
  assert.match(lines[0]!.msg, /a front handler failed on GET \/boom\?x=1/);
  assert.deepEqual(errors, [], 'nothing went to the console');
});
