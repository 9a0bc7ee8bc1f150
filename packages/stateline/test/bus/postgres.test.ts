import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { isStatelineError } from '../../src/errors.js';
import { createBus, type Bus } from '../../src/bus/index.js';
import { POSTGRES_BUS_MAX_PAYLOAD } from '../../src/bus/postgres-bus.js';
import { eventually, freePort, sleep } from '../support/free-port.js';
import { POSTGRES_URL, needService, uniquePrefix } from '../support/services.js';
import { FlakyProxy } from '../store/flaky-proxy.js';
import { runBusConformance } from './bus.case.js';

const skip = await needService('postgres');

runBusConformance({
  backend: 'postgres',
  make: (prefix) => createBus({ type: 'postgres', url: POSTGRES_URL, prefix }),
  maxPayload: POSTGRES_BUS_MAX_PAYLOAD,
  skip,
});

/** The shared URL with an application_name nobody else uses, so a test can find its own backends. */
function taggedUrl(tag: string): string {
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('application_name', tag);
  return url.toString();
}

describe('postgres bus [postgres]', { skip }, () => {
  const opened: Bus[] = [];
  const open = async (url: string, prefix: string, timeout?: number) => {
    const b = await createBus({ type: 'postgres', url, prefix, ...(timeout ? { timeout } : {}) });
    opened.push(b);
    return b;
  };
  after(async () => {
    for (const b of opened) await b.close();
  });

  it(`[postgres] a message of ${POSTGRES_BUS_MAX_PAYLOAD} bytes passes; one byte more is refused with SL_ERR_BUS_PAYLOAD_TOO_LARGE`, async () => {
    const bus = await open(POSTGRES_URL, uniquePrefix('pg-bus-size'));
    const got: string[] = [];
    await bus.subscribe('big', (m) => got.push(m));
    const exact = 'é'.repeat((POSTGRES_BUS_MAX_PAYLOAD - 1) / 2) + 'x';
    assert.equal(Buffer.byteLength(exact), POSTGRES_BUS_MAX_PAYLOAD);
    await bus.publish('big', exact);
    await assert.rejects(bus.publish('big', `${exact}y`), (err) =>
      isStatelineError(err, 'SL_ERR_BUS_PAYLOAD_TOO_LARGE'),
    );
    await assert.rejects(bus.publish('big', 'é'.repeat(POSTGRES_BUS_MAX_PAYLOAD)), (err) =>
      isStatelineError(err, 'SL_ERR_BUS_PAYLOAD_TOO_LARGE'),
    );
    await eventually(() => got.length === 1, 3000);
    await sleep(100);
    assert.deepEqual(got, [exact], 'the refused messages were not split or sent');
  });

  it('[postgres] channel names longer than a PostgreSQL identifier, or odd ones, are carried and kept apart', async () => {
    const prefix = uniquePrefix('pg-bus-names');
    const a = await open(POSTGRES_URL, prefix);
    const b = await open(POSTGRES_URL, prefix);
    const long1 = `room:${'x'.repeat(100)}:1`;
    const long2 = `room:${'x'.repeat(100)}:2`;
    const names = [
      long1,
      long2,
      'Mixed Case "quoted"',
      'ключ:😀',
      'sl_0123456789abcdef0123456789abcdef01234567',
    ];
    const got: { message: string; channel: string }[] = [];
    for (const n of names) await b.subscribe(n, (message, channel) => got.push({ message, channel }));
    for (const n of names) await a.publish(n, `to ${n}`);
    await eventually(() => got.length === names.length, 3000);
    await sleep(100);
    assert.deepEqual(
      got.sort((x, y) => x.channel.localeCompare(y.channel)),
      names
        .map((n) => ({ message: `to ${n}`, channel: n }))
        .sort((x, y) => x.channel.localeCompare(y.channel)),
    );
  });

  it('[postgres] a NUL in a message is refused as an invalid argument', async () => {
    const bus = await open(POSTGRES_URL, uniquePrefix('pg-bus-nul'));
    await assert.rejects(bus.publish('x', 'a\0b'), (err) => isStatelineError(err, 'SL_ERR_INVALID_ARGUMENT'));
  });

  it('[postgres] a subscriber whose connection is terminated reports the loss, reconnects, re-LISTENs and receives again', async () => {
    const tag = `sltest_bus_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const prefix = uniquePrefix('pg-bus-kill');
    const sub = await open(taggedUrl(tag), prefix);
    const pub = await open(POSTGRES_URL, prefix);
    const changes: boolean[] = [];
    sub.onConnectionChange((up) => changes.push(up));
    const got: string[] = [];
    await sub.subscribe('a', (m) => got.push(`a:${m}`));
    await sub.subscribe('b', (m) => got.push(`b:${m}`));
    await pub.publish('a', 'before');
    await sub.publish('b', 'warm'); // gives the subscriber's publishing pool a connection to lose
    await eventually(() => got.includes('a:before') && got.includes('b:warm'), 3000);

    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      // Only backends carrying this test's own application_name are terminated.
      const killed = await admin.query(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [tag],
      );
      assert.equal(killed.rows.length, 2, 'the LISTEN connection and the publishing one were found');
    } finally {
      await admin.end();
    }
    await eventually(() => changes.length >= 2, 5000);
    assert.deepEqual(changes, [false, true]);

    // Back and listening on both channels again; messages sent now arrive.
    await pub.publish('a', 'after');
    await pub.publish('b', 'after');
    await eventually(() => got.includes('a:after') && got.includes('b:after'), 3000);
    // The subscriber's own publishing connection was terminated too: publish heals as well.
    await eventually(async () => {
      await sub.publish('a', 'self');
      return true;
    }, 3000);
    await eventually(() => got.includes('a:self'), 3000);
  });

  it('[postgres] while the server is away publish and subscribe fail fast; after it returns (several reconnect attempts later) delivery resumes', async () => {
    const proxy = await FlakyProxy.start(POSTGRES_URL);
    const prefix = uniquePrefix('pg-bus-outage');
    try {
      const sub = await open(proxy.url(POSTGRES_URL), prefix, 500);
      const pub = await open(POSTGRES_URL, prefix);
      const changes: boolean[] = [];
      sub.onConnectionChange((up) => changes.push(up));
      const got: string[] = [];
      await sub.subscribe('x', (m) => got.push(m));
      await proxy.cut();
      await eventually(() => changes.length === 1, 3000);
      const t0 = Date.now();
      const unavailable = (err: unknown) => isStatelineError(err, 'SL_ERR_BUS_UNAVAILABLE');
      await assert.rejects(sub.publish('x', 'lost'), unavailable);
      await assert.rejects(
        sub.subscribe('y', (m) => got.push(`y:${m}`)),
        unavailable,
      );
      assert.ok(Date.now() - t0 < 1500, 'bounded by the timeout');
      await sleep(600); // several failed reconnect attempts
      await proxy.restore();
      await eventually(() => changes.length === 2, 5000);
      assert.deepEqual(changes, [false, true]);
      await pub.publish('x', 'back');
      await pub.publish('y', 'not subscribed');
      await eventually(() => got.includes('back'), 3000);
      await sleep(100);
      assert.deepEqual(got, ['back'], 'the failed subscribe left nothing behind');
    } finally {
      await proxy.stop();
    }
  });

  it('[postgres] a bus pointed at a port where nothing listens rejects with SL_ERR_BUS_UNAVAILABLE within its timeout', async () => {
    const url = new URL(POSTGRES_URL);
    url.port = String(await freePort());
    const t0 = Date.now();
    await assert.rejects(createBus({ type: 'postgres', url: url.toString(), timeout: 500 }), (err) =>
      isStatelineError(err, 'SL_ERR_BUS_UNAVAILABLE'),
    );
    assert.ok(Date.now() - t0 < 1000);
  });

  it('[postgres] an unsubscribe after the last handler stops delivery, and subscribing again resumes it', async () => {
    const prefix = uniquePrefix('pg-bus-resub');
    const bus = await open(POSTGRES_URL, prefix);
    const got: string[] = [];
    const off = await bus.subscribe('c', (m) => got.push(m));
    await bus.publish('c', '1');
    await eventually(() => got.length === 1, 3000);
    await off();
    await off();
    await bus.publish('c', '2');
    await sleep(100);
    await bus.subscribe('c', (m) => got.push(m));
    await bus.publish('c', '3');
    await eventually(() => got.length === 2, 3000);
    assert.deepEqual(got, ['1', '3']);
  });
});
