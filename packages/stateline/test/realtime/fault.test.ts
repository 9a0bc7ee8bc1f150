/**
 * Redis (Log and Bus) dies under two running hub instances and comes back empty (no
 * persistence: the history is gone, a new epoch starts). Nothing crashes; sends made during the
 * outage are refused with SL_ERR_LOG_UNAVAILABLE and retried by the client library; once Redis is
 * back every client gets `joined {recovered: false}` for the new epoch and every message sent
 * after the outage exactly once, in order.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MessageFrame } from '../../src/realtime/protocol.js';
import { eventually, sleep } from '../support/free-port.js';
import { TestRedis } from '../support/redis-server.js';
import { Harness } from './harness.js';

describe('realtime hub when Redis dies and comes back empty', () => {
  let redis: TestRedis | undefined;
  const h = new Harness();
  after(async () => {
    await h.close();
    await redis?.stop();
  });

  it(
    'refuses sends while it is down, then carries on in the new epoch without a crash',
    { timeout: 40_000 },
    async () => {
      redis = await TestRedis.start();
      const spec = { type: 'redis', url: redis.url, timeout: 500 } as const;
      const common = { log: spec, bus: spec, heartbeat: 300, rateLimit: false } as const;
      const one = await h.start(common);
      const two = await h.start(common);
      const reader = h.client(two.url, { maxDelay: 300 });
      const got: MessageFrame[] = [];
      const joins: boolean[] = [];
      reader.on('message', (m) => got.push(m));
      reader.on('joined', (j) => joins.push(j.recovered));
      await reader.join('f', { since: 0 });
      const writer = h.client(one.url, { maxDelay: 300 });
      const errors: string[] = [];
      writer.on('error', (e) => errors.push('code' in e ? String(e.code) : ''));
      await writer.join('f');
      for (let i = 0; i < 5; i++) await writer.send('f', `before ${i}`);
      await eventually(() => got.length === 5);

      await redis.kill();
      const during = [writer.send('f', 'during 0'), writer.send('f', 'during 1')];
      await eventually(() => errors.includes('SL_ERR_LOG_UNAVAILABLE'), 5000);
      await sleep(300);
      await redis.startProcess();
      const stored = await Promise.all(during);
      for (let i = 0; i < 5; i++) await writer.send('f', `after ${i}`);

      const expected = ['during 0', 'during 1', ...Array.from({ length: 5 }, (_, i) => `after ${i}`)];
      await eventually(() => got.length >= 5 + expected.length, 15_000);
      await sleep(200);
      const fresh = got.slice(5);
      assert.deepEqual(
        fresh.map((m) => m.text),
        expected,
      );
      assert.deepEqual(
        fresh.map((m) => m.offset),
        expected.map((_, i) => i + 1),
        'the new epoch starts at 1',
      );
      assert.deepEqual(
        stored.map((m) => m.offset),
        [1, 2],
      );
      assert.equal(joins[0], true);
      assert.ok(joins.slice(1).includes(false), 'the reader was told the history was lost');
      assert.equal(reader.stats.duplicates, 0);
    },
  );
});
