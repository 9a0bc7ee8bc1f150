import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createLog, type Log } from '../../src/log/index.js';
import { freePort } from '../support/free-port.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { runLogConformance } from './log.case.js';

const skip = await needService('redis');

cleanUpAfter('redis', skip);

runLogConformance({
  backend: 'redis',
  skip,
  make: (prefix, retention) =>
    createLog({ type: 'redis', url: REDIS_URL, prefix, ...(retention ? { retention } : {}) }),
});

describe('redis log [redis]', { skip: skip || undefined }, () => {
  const opened: Log[] = [];
  const open = async (prefix: string, spec = '') => {
    const l = await createLog(`${REDIS_URL}?prefix=${encodeURIComponent(prefix)}${spec}`);
    opened.push(l);
    return l;
  };
  after(async () => {
    for (const l of opened) await l.close();
  });

  it('[redis] entries live in a Redis Stream with ids <offset>-0 and a meta hash in the same slot', async () => {
    const prefix = uniquePrefix('log-redis-own');
    const log = await open(prefix);
    const { epoch } = await log.append('room', 'one');
    await log.append('room', 'two');
    const { createClient } = await import('redis');
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    try {
      const entries = await c.xRange(`${prefix}log:{room}`, '-', '+');
      assert.deepEqual(
        entries.map((e) => [e.id, e.message.data]),
        [
          ['1-0', 'one'],
          ['2-0', 'two'],
        ],
      );
      const meta = { ...(await c.hGetAll(`${prefix}log:{room}:meta`)) };
      assert.equal(meta.epoch, epoch);
      assert.equal(meta.head, '2');
    } finally {
      await c.close();
    }
  });

  it('[redis] losing the meta hash starts a new epoch at offset 1', async () => {
    const prefix = uniquePrefix('log-redis-own');
    const log = await open(prefix);
    const first = await log.append('lost', 'a');
    await log.append('lost', 'b');
    const { createClient } = await import('redis');
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    await c.del(`${prefix}log:{lost}:meta`);
    await c.close();
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

  it('[redis] a reader far ahead of the head gets nothing, and limits are honoured', async () => {
    const prefix = uniquePrefix('log-redis-own');
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

  it('[redis] age retention trims many old entries in one call', async () => {
    const prefix = uniquePrefix('log-redis-own');
    const log = await createLog({ type: 'redis', url: REDIS_URL, prefix, retention: { maxAge: 200 } });
    opened.push(log);
    for (let i = 0; i < 300; i++) await log.append('many', String(i));
    await new Promise((r) => setTimeout(r, 300));
    await log.append('many', 'fresh');
    const read = await log.read('many', 0);
    assert.deepEqual(
      read.entries.map((e) => e.offset),
      [301],
    );
    assert.equal((await log.read('many', 300)).complete, true);
    assert.equal((await log.read('many', 299)).complete, false);
  });

  it('[redis] opening against a dead port rejects with SL_ERR_LOG_UNAVAILABLE within the timeout', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(createLog({ type: 'redis', url: `redis://127.0.0.1:${port}`, timeout: 300 }), (e) =>
      isStatelineError(e, 'SL_ERR_LOG_UNAVAILABLE'),
    );
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  });
});
