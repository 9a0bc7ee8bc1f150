import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createBus } from '../../src/bus/index.js';
import { createLog, type Log } from '../../src/log/index.js';
import { eventually } from '../support/free-port.js';
import { clusterForFile } from '../support/redis-server.js';
import { uniquePrefix } from '../support/services.js';
import { runLogConformance } from './log.case.js';

const { skip, cluster } = await clusterForFile('redis-cluster log');

runLogConformance({
  backend: 'redis-cluster',
  skip,
  make: (prefix, retention) =>
    createLog({ type: 'redis-cluster', nodes: cluster!.urls, prefix, ...(retention ? { retention } : {}) }),
  // Sharded channels live in other slots than a stream's keys: append, then publish.
  bus: (prefix) => createBus({ type: 'redis-cluster', nodes: cluster!.urls, prefix }),
  publishes: false,
});

describe('redis-cluster log [redis-cluster]', { skip: skip || undefined }, () => {
  const opened: Log[] = [];
  const open = async (prefix: string) => {
    const l = await createLog(cluster!.spec(`?prefix=${encodeURIComponent(prefix)}`));
    opened.push(l);
    return l;
  };
  after(async () => {
    for (const l of opened) await l.close();
  });

  it('[redis-cluster] a stream, its meta and its keys share one slot; streams spread over the masters', async () => {
    const prefix = uniquePrefix('log-cluster-own');
    const log = await open(prefix);
    assert.equal(log.backend, 'redis-cluster');
    const holders = new Set<number>();
    for (let i = 0; i < 24; i++) {
      const stream = `room-${i}`;
      await log.append(stream, 'hello', { key: `k${i}` });
      const base = `${prefix}log:{${stream}}`;
      const owner = await cluster!.ownerOf(base);
      for (const key of [base, `${base}:meta`, `${base}:keys`])
        assert.equal(await cluster!.cli(owner, 'EXISTS', key), '1', `${key} on the stream's master`);
      holders.add(owner.port);
    }
    assert.equal(holders.size, 3, 'the streams spread over all three masters');
  });

  it('[redis-cluster] a stream name whose hash tag would be empty is refused, not split over slots', async () => {
    const log = await open(uniquePrefix('log-cluster-own'));
    for (const name of ['', '}room'])
      await assert.rejects(log.append(name, 'x'), (e) => isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'));
    assert.equal((await log.append('room}', 'x')).offset, 1, 'a "}" later in the name is fine');
  });

  it(
    '[redis-cluster] a master lost without persistence: its streams start a new epoch, the others keep theirs',
    { timeout: 60_000 },
    async () => {
      const prefix = uniquePrefix('log-cluster-own');
      const log = await open(prefix);
      const streams = Array.from({ length: 12 }, (_, i) => `s${i}`);
      const before = new Map<string, string>();
      for (const s of streams) {
        await log.append(s, 'a');
        before.set(s, (await log.append(s, 'b')).epoch);
      }
      const victim = await cluster!.ownerOf(`${prefix}log:{s0}`);
      const lost = new Set<string>();
      for (const s of streams) if ((await cluster!.ownerOf(`${prefix}log:{${s}}`)) === victim) lost.add(s);
      await victim.kill();
      await assert.rejects(log.append('s0', 'while down'), (e) =>
        isStatelineError(e, 'SL_ERR_LOG_UNAVAILABLE'),
      );
      await victim.startProcess();
      await cluster!.waitOk();
      for (const s of streams) {
        const read = await eventually(() => log.read(s, 2, { epoch: before.get(s)! }), 10_000, 100);
        if (lost.has(s)) {
          assert.notEqual(read.epoch, before.get(s), `${s}: new epoch`);
          assert.equal(read.complete, false, `${s}: the reader learns it has a gap`);
          assert.equal((await log.append(s, 'c')).offset, 1, `${s}: offsets start over`);
        } else {
          assert.deepEqual(
            [read.epoch, read.head, read.complete],
            [before.get(s), 2, true],
            `${s}: untouched`,
          );
        }
      }
      assert.ok(lost.size > 0 && lost.size < streams.length);
    },
  );
});
