import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createBus, type Bus } from '../../src/bus/index.js';
import { eventually, freePort, sleep } from '../support/free-port.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { runBusConformance } from './bus.case.js';

const skip = await needService('redis');

runBusConformance({
  backend: 'redis',
  skip,
  make: (prefix) => createBus({ type: 'redis', url: REDIS_URL, prefix }),
});

describe('redis bus [redis]', { skip: skip || undefined }, () => {
  const opened: Bus[] = [];
  const open = async (prefix: string) => {
    const b = await createBus(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`);
    opened.push(b);
    return b;
  };
  after(async () => {
    for (const b of opened) await b.close();
  });

  it('[redis] handlers of one channel share a single Redis subscription', async () => {
    const prefix = uniquePrefix('bus-redis-own');
    const bus = await open(prefix);
    const got: string[] = [];
    const offs = await Promise.all(
      [1, 2, 3].map((i) => bus.subscribe('shared', (m) => got.push(`${i}:${m}`))),
    );
    const { createClient } = await import('redis');
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    try {
      const counts = await c.pubSubNumSub(`${prefix}shared`);
      assert.equal(counts[`${prefix}shared`], 1);
      await c.publish(`${prefix}shared`, 'hi');
      await eventually(() => got.length === 3, 3000);
      assert.deepEqual(got.sort(), ['1:hi', '2:hi', '3:hi']);
      for (const off of offs) await off();
      await eventually(async () => (await c.pubSubNumSub(`${prefix}shared`))[`${prefix}shared`] === 0, 3000);
      await offs[0]!();
    } finally {
      await c.close();
    }
  });

  it('[redis] the same function subscribed twice is delivered twice and removed one at a time', async () => {
    const prefix = uniquePrefix('bus-redis-own');
    const bus = await open(prefix);
    const got: string[] = [];
    const h = (m: string) => got.push(m);
    const off1 = await bus.subscribe('twice', h);
    await bus.subscribe('twice', h);
    await bus.publish('twice', 'a');
    await eventually(() => got.length === 2, 3000);
    await off1();
    await bus.publish('twice', 'b');
    await eventually(() => got.length === 3, 3000);
    await sleep(50);
    assert.deepEqual(got, ['a', 'a', 'b']);
  });

  it('[redis] resubscribing right after the last unsubscribe keeps receiving', async () => {
    const prefix = uniquePrefix('bus-redis-own');
    const bus = await open(prefix);
    const got: string[] = [];
    const off = await bus.subscribe('flip', () => {});
    const offP = off();
    await bus.subscribe('flip', (m) => got.push(m));
    await offP;
    await bus.publish('flip', 'still here');
    await eventually(() => got.length === 1, 3000);
  });

  it('[redis] opening against a dead port rejects with SL_ERR_BUS_UNAVAILABLE within the timeout', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(createBus({ type: 'redis', url: `redis://127.0.0.1:${port}`, timeout: 300 }), (e) =>
      isStatelineError(e, 'SL_ERR_BUS_UNAVAILABLE'),
    );
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  });
});
