/**
 * The Bus conformance suite: every backend runs exactly these tests.
 * `make(prefix)` must open a new Bus; two buses from `make` stand for two instances.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import type { Bus } from '../../src/bus/index.js';
import { eventually, sleep } from '../support/free-port.js';
import { uniquePrefix } from '../support/services.js';

export interface BusCase {
  backend: string;
  make: (prefix: string) => Promise<Bus>;
  skip?: string | false;
  /** Largest payload the backend carries (default 64 KiB is tested). */
  maxPayload?: number;
}

type Got = { message: string; channel: string };

export function runBusConformance(c: BusCase): void {
  describe(`Bus conformance [${c.backend}]`, { skip: c.skip || undefined }, () => {
    const opened: Bus[] = [];
    const open = async (p: string) => {
      const b = await c.make(p);
      opened.push(b);
      return b;
    };
    after(async () => {
      for (const b of opened) await b.close();
    });
    const collect = () => {
      const got: Got[] = [];
      return { got, handler: (message: string, channel: string) => got.push({ message, channel }) };
    };

    it(`[${c.backend}] a message reaches every subscriber, on another bus and on the publisher's own`, async () => {
      const prefix = uniquePrefix(`bus-${c.backend}`);
      const a = await open(prefix);
      const b = await open(prefix);
      const onA = collect();
      const onB = collect();
      await a.subscribe('news', onA.handler);
      await b.subscribe('news', onB.handler);
      await a.publish('news', 'hello');
      await eventually(() => onA.got.length === 1 && onB.got.length === 1, 3000);
      assert.deepEqual(onB.got, [{ message: 'hello', channel: 'news' }]);
      assert.deepEqual(onA.got, [{ message: 'hello', channel: 'news' }]);
    });

    it(`[${c.backend}] channels and prefixes are isolated`, async () => {
      const prefix = uniquePrefix(`bus-${c.backend}`);
      const a = await open(prefix);
      const other = await open(uniquePrefix(`bus-${c.backend}-other`));
      const x = collect();
      const y = collect();
      const z = collect();
      await a.subscribe('x', x.handler);
      await a.subscribe('y', y.handler);
      await other.subscribe('x', z.handler);
      await a.publish('x', '1');
      await a.publish('y', '2');
      await eventually(() => x.got.length === 1 && y.got.length === 1, 3000);
      await sleep(100);
      assert.deepEqual(x.got.map((g) => g.message), ['1']);
      assert.deepEqual(y.got.map((g) => g.message), ['2']);
      assert.deepEqual(z.got, []);
    });

    it(`[${c.backend}] messages from one publisher arrive in order`, async () => {
      const prefix = uniquePrefix(`bus-${c.backend}`);
      const a = await open(prefix);
      const b = await open(prefix);
      const got = collect();
      await b.subscribe('seq', got.handler);
      for (let i = 0; i < 200; i++) await a.publish('seq', String(i));
      await eventually(() => got.got.length === 200, 5000);
      assert.deepEqual(got.got.map((g) => Number(g.message)), Array.from({ length: 200 }, (_, i) => i));
    });

    it(`[${c.backend}] unsubscribe removes only that handler`, async () => {
      const prefix = uniquePrefix(`bus-${c.backend}`);
      const a = await open(prefix);
      const b = await open(prefix);
      const kept = collect();
      const dropped = collect();
      await b.subscribe('ch', kept.handler);
      const off = await b.subscribe('ch', dropped.handler);
      await a.publish('ch', 'one');
      await eventually(() => kept.got.length === 1 && dropped.got.length === 1, 3000);
      await off();
      await a.publish('ch', 'two');
      await eventually(() => kept.got.length === 2, 3000);
      await sleep(100);
      assert.equal(dropped.got.length, 1);
    });

    it(`[${c.backend}] a throwing handler does not stop delivery to the others`, async () => {
      const prefix = uniquePrefix(`bus-${c.backend}`);
      const a = await open(prefix);
      const good = collect();
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on('warning', onWarning);
      try {
        await a.subscribe('boom', () => {
          throw new Error('handler bug');
        });
        await a.subscribe('boom', good.handler);
        await a.publish('boom', '1');
        await a.publish('boom', '2');
        await eventually(() => good.got.length === 2, 3000);
      } finally {
        await sleep(20);
        process.off('warning', onWarning);
      }
    });

    it(`[${c.backend}] unicode and large payloads round-trip`, async () => {
      const prefix = uniquePrefix(`bus-${c.backend}`);
      const a = await open(prefix);
      const got = collect();
      await a.subscribe('big', got.handler);
      const size = Math.min(c.maxPayload ?? 65_536, 65_536);
      const unit = 'é😀"\\\n{';
      const big = unit.repeat(Math.floor(size / Buffer.byteLength(unit)));
      await a.publish('big', big);
      await a.publish('big', '');
      await eventually(() => got.got.length === 2, 3000);
      assert.equal(got.got[0]!.message, big);
      assert.equal(got.got[1]!.message, '');
    });

    it(`[${c.backend}] a closed bus refuses publish with SL_ERR_CLOSED`, async () => {
      const b = await c.make(uniquePrefix(`bus-${c.backend}`));
      await b.close();
      await assert.rejects(b.publish('x', 'y'), (err) => isStatelineError(err, 'SL_ERR_CLOSED'));
      await b.close();
    });
  });
}
