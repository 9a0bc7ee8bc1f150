import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createBus, type Bus } from '../../src/bus/index.js';
import { eventually, freePort } from '../support/free-port.js';
import { NATS_URL, needService, uniquePrefix } from '../support/services.js';
import { runBusConformance } from './bus.case.js';

const skip = await needService('nats');

runBusConformance({
  backend: 'nats',
  skip,
  make: (prefix) => createBus({ type: 'nats', url: NATS_URL, prefix }),
});

describe('nats bus [nats]', { skip: skip || undefined }, () => {
  const opened: Bus[] = [];
  const open = async (spec: string) => {
    const b = await createBus(spec);
    opened.push(b);
    return b;
  };
  after(async () => {
    for (const b of opened) await b.close();
  });

  it('[nats] a channel is one subject token: dots and wildcards in names never cross channels', async () => {
    const prefix = uniquePrefix('bus-nats-own');
    const bus = await open(`${NATS_URL}?prefix=${encodeURIComponent(prefix)}`);
    const got: string[] = [];
    await bus.subscribe('a.*', (m, c) => got.push(`${c}=${m}`));
    await bus.subscribe('a.>', (m, c) => got.push(`${c}=${m}`));
    await bus.subscribe('a b', (m, c) => got.push(`${c}=${m}`));
    await bus.publish('a.x', 'no one');
    await bus.publish('a.*', 'star');
    await bus.publish('a b', 'space');
    await eventually(() => got.length === 2, 3000);
    await bus.publish('a.>', 'tail');
    await eventually(() => got.length === 3, 3000);
    assert.deepEqual(got, ['a.*=star', 'a b=space', 'a.>=tail']);
  });

  it('[nats] opening against a dead port rejects with SL_ERR_BUS_UNAVAILABLE within the timeout', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(createBus({ type: 'nats', url: `nats://127.0.0.1:${port}`, timeout: 300 }), (e) =>
      isStatelineError(e, 'SL_ERR_BUS_UNAVAILABLE'),
    );
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  });

  it('[nats] a nats spec with a driver query key is refused', async () => {
    await assert.rejects(createBus(`${NATS_URL}?noEcho=true`), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_SPEC'),
    );
  });
});
