/**
 * Adaptive fan-out flush: a quiet room writes at once (no batching delay at low rates), a busy
 * one coalesces up to `flushInterval`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { flushDelay, WRITE_BUDGET_PER_MS } from '../../src/realtime/flush-pacer.js';
import { eventually, sleep } from '../support/free-port.js';
import { Harness } from './harness.js';

describe('realtime flush policy', () => {
  const h = new Harness();
  after(() => h.close());

  it('a message to a quiet room is not held for the flush window', async () => {
    // A window far longer than any scheduling hiccup: a fixed timer would hold each message 2 s.
    const { hub, url } = await h.start({ flushInterval: 2000 });
    const c = h.client(url);
    const got: { text: string; at: number }[] = [];
    c.on('message', (m) => got.push({ text: m.text, at: performance.now() }));
    await c.join('quiet');
    for (const text of ['one', 'two']) {
      const sent = performance.now();
      await hub.publish('quiet', text);
      await eventually(() => got.some((m) => m.text === text), 5000, 5);
      const latency = got.find((m) => m.text === text)!.at - sent;
      assert.ok(latency < 1000, `${text} took ${latency.toFixed(0)} ms (window 2000 ms)`);
      await sleep(50);
    }
  });

  it('flushDelay: at once when quiet, batched to the window under load', () => {
    const members = 200;
    const quiet = members / WRITE_BUDGET_PER_MS; // 2 ms
    assert.equal(flushDelay(Infinity, members, 10), 0, 'first flush of a room');
    assert.equal(flushDelay(quiet, members, 10), 0);
    assert.equal(flushDelay(4, members, 10), 0, '250 msg/s to 200 sockets: every message at once');
    assert.equal(flushDelay(0.5, members, 10), 9.5, '2,000 msg/s: one flush per 10 ms');
    assert.equal(flushDelay(1.9, members, 10), 8.1);
    // A huge room never waits longer than the window since its last flush.
    assert.equal(flushDelay(10, 100_000, 10), 0);
    assert.equal(flushDelay(3, 100_000, 10), 7);
    // flushInterval 0: always at the end of the turn.
    assert.equal(flushDelay(0, members, 0), 0);
  });
});
