/**
 * A NATS server lost and back: a private nats-server (JetStream, its own store directory) on a
 * free port is SIGKILLed under an open Bus and Log, then restarted on the same port and store.
 * While it is gone calls reject with the backends' codes within their timeout (nothing hangs,
 * nothing is queued); once it is back the same objects work again, the subscription delivers, and
 * the Log goes on in the same epoch (file storage kept the stream).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { createBus } from '../../src/bus/index.js';
import { isStatelineError } from '../../src/errors.js';
import { createLog } from '../../src/log/index.js';
import { eventually } from '../support/free-port.js';
import { NATS_SERVER_BIN, TestNats } from '../support/nats-server.js';
import { IN_CI } from '../support/services.js';

const missing = NATS_SERVER_BIN.startsWith('/') ? !existsSync(NATS_SERVER_BIN) : false;
if (missing && IN_CI) throw new Error('CI=true but nats-server is not installed');
const skip = missing ? 'no nats-server binary: skipping the NATS fault test' : false;
if (skip) console.log(`# SKIP ${skip}`);

describe('nats lost and back', { skip: skip || undefined }, () => {
  let server: TestNats | undefined;
  after(async () => {
    await server?.stop();
  });

  it('[nats] bus and log reject while the server is gone and work again, same epoch, when it is back', async () => {
    server = await TestNats.start();
    const bus = await createBus({ type: 'nats', url: server.url, timeout: 500 });
    const log = await createLog({ type: 'nats', url: server.url, timeout: 500 });
    try {
      const states: boolean[] = [];
      bus.onConnectionChange((up) => states.push(up));
      const got: string[] = [];
      await bus.subscribe('c', (m) => got.push(m));
      const first = await log.append('room', 'before', { key: 'k1' });
      await bus.publish('c', 'one');
      await eventually(() => got.length === 1, 3000);

      await server.kill();
      await eventually(() => states.includes(false), 5000);
      const t0 = Date.now();
      await assert.rejects(bus.publish('c', 'lost'), (e) => isStatelineError(e, 'SL_ERR_BUS_UNAVAILABLE'));
      await assert.rejects(log.append('room', 'lost'), (e) => isStatelineError(e, 'SL_ERR_LOG_UNAVAILABLE'));
      await assert.rejects(log.read('room', 0), (e) => isStatelineError(e, 'SL_ERR_LOG_UNAVAILABLE'));
      assert.ok(Date.now() - t0 < 2500, `failed fast: ${Date.now() - t0} ms`);

      await server.startProcess();
      await eventually(() => states.at(-1) === true, 10_000, 50);
      await eventually(
        async () => {
          await bus.publish('c', 'two');
          return got.includes('two');
        },
        5000,
        100,
      );
      const next = await eventually(() => log.append('room', 'after'), 5000, 100);
      assert.deepEqual([next.epoch, next.offset], [first.epoch, 2], 'the stream survived the restart');
      const again = await log.append('room', 'before (resent)', { key: 'k1' });
      assert.deepEqual([again.offset, again.duplicate], [1, true]);
      assert.deepEqual(
        (await log.read('room', 0)).entries.map((e) => e.data),
        ['before', 'after'],
      );
    } finally {
      await bus.close();
      await log.close();
    }
  });
});
