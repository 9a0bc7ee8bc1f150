import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createBus, type Bus } from '../../src/bus/index.js';
import { eventually } from '../support/free-port.js';
import { clusterForFile } from '../support/redis-server.js';
import { uniquePrefix } from '../support/services.js';
import { runBusConformance } from './bus.case.js';

const { skip, cluster } = await clusterForFile('redis-cluster bus');

runBusConformance({
  backend: 'redis-cluster',
  skip,
  make: (prefix) => createBus({ type: 'redis-cluster', nodes: cluster!.urls, prefix }),
});

describe('redis-cluster bus [redis-cluster]', { skip: skip || undefined }, () => {
  const opened: Bus[] = [];
  const open = async (prefix: string) => {
    const b = await createBus(cluster!.spec(`?prefix=${encodeURIComponent(prefix)}`));
    opened.push(b);
    return b;
  };
  after(async () => {
    for (const b of opened) await b.close();
  });

  it('[redis-cluster] channels are sharded: each is held by the master that owns its slot', async () => {
    const prefix = uniquePrefix('bus-cluster-own');
    const bus = await open(prefix);
    assert.equal(bus.backend, 'redis-cluster');
    const names = Array.from({ length: 24 }, (_, i) => `spread-${i}`);
    const got: string[] = [];
    for (const n of names) await bus.subscribe(n, (m) => got.push(m));
    const holders = new Set<number>();
    for (const n of names) {
      const owner = await cluster!.ownerOf(prefix + n);
      const reply = await cluster!.cli(owner, 'PUBSUB', 'SHARDNUMSUB', prefix + n);
      assert.equal(reply.split('\n')[1], '1', `${n}: one sharded subscription on its owner`);
      holders.add(owner.port);
    }
    assert.equal(holders.size, 3, 'the channels spread over all three masters');
    for (const n of names) await bus.publish(n, n);
    await eventually(() => got.length === names.length, 3000);
    assert.deepEqual(got.sort(), [...names].sort());
  });

  it('[redis-cluster] a subscription follows its slot to another master', async () => {
    const prefix = uniquePrefix('bus-cluster-own');
    const a = await open(prefix);
    const b = await open(prefix);
    const got: string[] = [];
    await b.subscribe('moving', (m) => got.push(m));
    await a.publish('moving', 'before');
    await eventually(() => got.includes('before'), 3000);
    const from = await cluster!.ownerOf(`${prefix}moving`);
    const to = cluster!.nodes.find((n) => n !== from)!;
    await cluster!.moveSlotOf(`${prefix}moving`, to);
    assert.equal((await cluster!.ownerOf(`${prefix}moving`)).port, to.port);
    await eventually(
      async () => {
        await a.publish('moving', 'after').catch(() => {});
        return got.includes('after');
      },
      10_000,
      200,
    );
    const reply = await cluster!.cli(to, 'PUBSUB', 'SHARDNUMSUB', `${prefix}moving`);
    assert.equal(reply.split('\n')[1], '1', 'the subscription now lives on the new owner');
  });

  it(
    '[redis-cluster] a master killed and restarted: the bus reports down, then up, and delivers again',
    { timeout: 60_000 },
    async () => {
      const prefix = uniquePrefix('bus-cluster-own');
      const a = await open(prefix);
      const b = await open(prefix);
      const got: string[] = [];
      const states: boolean[] = [];
      b.onConnectionChange((up) => states.push(up));
      await b.subscribe('crash', (m) => got.push(m));
      await a.publish('crash', 'before');
      await eventually(() => got.includes('before'), 3000);
      const owner = await cluster!.ownerOf(`${prefix}crash`);
      await owner.kill();
      await eventually(() => states.includes(false), 10_000);
      await owner.startProcess();
      await cluster!.waitOk();
      await eventually(() => states.at(-1) === true, 15_000, 50);
      await eventually(
        async () => {
          await a.publish('crash', 'after').catch(() => {});
          return got.includes('after');
        },
        10_000,
        200,
      );
      assert.equal(got.filter((m) => m === 'before').length, 1, 'nothing replayed twice');
    },
  );
});
