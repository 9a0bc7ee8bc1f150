import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createBus } from '../../src/bus/index.js';
import { createLog, type Log } from '../../src/log/index.js';
import net from 'node:net';
import { fillAppendMessage, type AppendMessage } from '../../src/log/index.js';
import { eventually, freePort } from '../support/free-port.js';
import { TestRedis } from '../support/redis-server.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { runLogConformance } from './log.case.js';

const skip = await needService('redis');

/** What a server runs from now on (MONITOR), one line per command: `[db client-or-lua] "CMD" …`. */
async function monitor(port: number): Promise<{ lines: string[]; close: () => void }> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  const lines: string[] = [];
  let rest = '';
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.on('data', (d) => {
      const all = (rest + d.toString()).split('\r\n');
      rest = all.pop()!;
      for (const l of all)
        if (l === '+OK') resolve();
        else lines.push(l);
    });
    sock.write('MONITOR\r\n');
  });
  return { lines, close: () => sock.destroy() };
}

cleanUpAfter('redis', skip);

runLogConformance({
  backend: 'redis',
  skip,
  make: (prefix, retention) =>
    createLog({ type: 'redis', url: REDIS_URL, prefix, ...(retention ? { retention } : {}) }),
  bus: (prefix) => createBus({ type: 'redis', url: REDIS_URL, prefix }),
  publishes: true,
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

  it('[redis] publisherFor: ONE command per append, the PUBLISH run by the append script (MONITOR)', async () => {
    const redis = await TestRedis.start();
    try {
      const prefix = uniquePrefix('log-redis-monitor');
      const log = await createLog({ type: 'redis', url: redis.url, prefix });
      const bus = await createBus({ type: 'redis', url: redis.url, prefix });
      try {
        const publish = log.publisherFor?.(bus);
        assert.ok(publish);
        const m: AppendMessage = { channel: 'room', text: ['x', ''], fields: ['offset'] };
        await publish('s', 'warm', m); // loads the script
        const mon = await monitor(redis.port);
        try {
          await publish('s', 'one', m);
          // The path without a publisher, for contrast: two commands.
          const r = await log.append('s', 'two');
          await bus.publish('room', fillAppendMessage(m, r));
          await eventually(() => mon.lines.some((l) => l.includes('"x3"')));
          const seen = mon.lines
            .map((l) => /\[\d+ (\S+)\] "(\w+)"(?:.* "(x\d+)")?/.exec(l))
            .filter((x) => x !== null)
            .map(([, who, cmd, msg]) => `${who === 'lua' ? 'lua' : 'client'} ${cmd}${msg ? ` ${msg}` : ''}`);
          // Every command a client sent, and the script's writes: XADD stores, then PUBLISH.
          assert.deepEqual(
            seen.filter((x) => /^client |^lua (XADD|PUBLISH)/.test(x)),
            [
              'client EVALSHA',
              'lua XADD',
              'lua PUBLISH x2',
              'client EVALSHA',
              'lua XADD',
              'client PUBLISH x3',
            ],
          );
        } finally {
          mon.close();
        }
      } finally {
        await log.close();
        await bus.close();
      }
    } finally {
      await redis.stop();
    }
  });

  it('[redis] publisherFor: none for a Redis Bus on another url spelling, cluster or closed', async () => {
    const prefix = uniquePrefix('log-redis-route');
    const log = await open(prefix);
    const other = await createBus({ type: 'redis', url: `${REDIS_URL}/0`, prefix });
    try {
      assert.equal(log.publisherFor?.(other), undefined, 'a url spelled otherwise: append, then publish');
    } finally {
      await other.close();
    }
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
