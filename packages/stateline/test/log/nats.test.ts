import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createBus } from '../../src/bus/index.js';
import { createLog, type Log } from '../../src/log/index.js';
import { freePort } from '../support/free-port.js';
import { NATS_URL, needService, uniquePrefix } from '../support/services.js';
import { cleanUpNatsAfter, natsStreamsUnder } from '../support/nats-cleanup.js';
import { runLogConformance } from './log.case.js';

const skip = await needService('nats');

cleanUpNatsAfter(skip);

runLogConformance({
  backend: 'nats',
  skip,
  make: (prefix, retention) =>
    createLog({ type: 'nats', url: NATS_URL, prefix, ...(retention ? { retention } : {}) }),
  bus: (prefix) => createBus({ type: 'nats', url: NATS_URL, prefix }),
  publishes: false,
});

describe('nats log [nats]', { skip: skip || undefined }, () => {
  const opened: Log[] = [];
  const open = async (prefix: string, retention?: { maxCount?: number; maxAge?: number }) => {
    const l = await createLog({ type: 'nats', url: NATS_URL, prefix, ...(retention ? { retention } : {}) });
    opened.push(l);
    return l;
  };
  after(async () => {
    for (const l of opened) await l.close();
  });

  const admin = async () => {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') });
    return { nc, jsm: await jetstreamManager(nc) };
  };

  it('[nats] one JetStream stream per log stream, named after its epoch, offsets = sequences', async () => {
    const prefix = uniquePrefix('log-nats-own');
    const log = await open(prefix);
    const { epoch } = await log.append('room', 'one');
    await log.append('room', 'two', { key: 'k1' });
    const names = await natsStreamsUnder(`${prefix}log.room.`);
    assert.equal(names.length, 1);
    assert.ok(names[0]!.endsWith(`_${epoch}`), names[0]);
    const { nc, jsm } = await admin();
    try {
      const info = await jsm.streams.info(names[0]!);
      assert.deepEqual([info.state.first_seq, info.state.last_seq], [1, 2]);
      const second = await jsm.streams.getMessage(names[0]!, { seq: 2 });
      assert.ok(second?.subject.startsWith(`${prefix}log.room.k.`));
    } finally {
      await nc.close();
    }
  });

  it('[nats] a deleted stream comes back under a new epoch at offset 1, and stale readers learn it', async () => {
    const prefix = uniquePrefix('log-nats-own');
    const log = await open(prefix);
    const first = await log.append('lost', 'a');
    await log.append('lost', 'b');
    const { nc, jsm } = await admin();
    try {
      for (const name of await natsStreamsUnder(`${prefix}log.lost.`)) await jsm.streams.delete(name);
    } finally {
      await nc.close();
    }
    const next = await log.append('lost', 'c');
    assert.notEqual(next.epoch, first.epoch);
    assert.equal(next.offset, 1);
    const read = await log.read('lost', 2, { epoch: first.epoch });
    assert.equal(read.complete, false);
    assert.deepEqual(
      read.entries.map((e) => [e.offset, e.data]),
      [[1, 'c']],
    );
  });

  it('[nats] another instance that recreated the stream is noticed on the next append (no stale epoch)', async () => {
    const prefix = uniquePrefix('log-nats-own');
    const a = await open(prefix);
    const b = await open(prefix);
    const old = await a.append('swap', 'a1');
    assert.equal((await b.append('swap', 'b1')).epoch, old.epoch);
    const { nc, jsm } = await admin();
    try {
      for (const name of await natsStreamsUnder(`${prefix}log.swap.`)) await jsm.streams.delete(name);
    } finally {
      await nc.close();
    }
    const fresh = await b.append('swap', 'b2');
    const seen = await a.append('swap', 'a2');
    assert.notEqual(fresh.epoch, old.epoch);
    assert.deepEqual([seen.epoch, seen.offset], [fresh.epoch, 2]);
  });

  it('[nats] a key older than the deduplication window is still not appended twice', async () => {
    // The stream's deduplication window is shrunk to 200 ms; the keyed entry outlives it.
    const prefix = uniquePrefix('log-nats-own');
    const log = await open(prefix, { maxAge: 60_000 });
    const { nc, jsm } = await admin();
    try {
      await log.append('edge', 'warm-up');
      const [name] = await natsStreamsUnder(`${prefix}log.edge.`);
      const info = await jsm.streams.info(name!);
      await jsm.streams.update(name!, { ...info.config, duplicate_window: 200 * 1e6 });
      const first = await log.append('edge', 'once', { key: 'order-7' });
      await new Promise((r) => setTimeout(r, 600));
      const again = await log.append('edge', 'once (retried late)', { key: 'order-7' });
      assert.deepEqual(again, { ...first, duplicate: true });
      const read = await log.read('edge', 0);
      assert.deepEqual(
        read.entries.map((e) => e.data),
        ['warm-up', 'once'],
      );
    } finally {
      await nc.close();
    }
  });

  it('[nats] a reader far ahead of the head gets nothing, and limits are honoured', async () => {
    const prefix = uniquePrefix('log-nats-own');
    const log = await open(prefix);
    for (let i = 0; i < 30; i++) await log.append('lim', String(i));
    assert.deepEqual((await log.read('lim', Number.MAX_SAFE_INTEGER)).entries, []);
    const page = await log.read('lim', 10, { limit: 5 });
    assert.deepEqual(
      page.entries.map((e) => e.offset),
      [11, 12, 13, 14, 15],
    );
    assert.equal(page.head, 30);
  });

  it('[nats] options are checked and a dead port rejects with SL_ERR_LOG_UNAVAILABLE within the timeout', async () => {
    await assert.rejects(createLog({ type: 'nats', url: NATS_URL, replicas: 0 }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
    );
    await assert.rejects(createLog({ type: 'nats', url: NATS_URL, retention: { maxAge: 50 } }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
    );
    await assert.rejects(createLog({ type: 'nats', url: 'http://x' }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
    );
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(createLog({ type: 'nats', url: `nats://127.0.0.1:${port}`, timeout: 300 }), (e) =>
      isStatelineError(e, 'SL_ERR_LOG_UNAVAILABLE'),
    );
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  });
});
