/**
 * A master of a Redis Cluster (3 masters, one replica each) is SIGKILLed and its replica takes
 * over. The Store, the Bus and the Log, all with keys in the lost master's slot, work again on
 * the promoted replica without being reopened: the data replicated before the kill is there, the
 * Log keeps its epoch, and the Bus delivers again after reporting the outage.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createBus } from '../../src/bus/index.js';
import { createLog } from '../../src/log/index.js';
import { createStore } from '../../src/store/index.js';
import { eventually } from '../support/free-port.js';
import { clusterForFile } from '../support/redis-server.js';
import { uniquePrefix } from '../support/services.js';

const { skip, cluster } = await clusterForFile('redis-cluster failover', 1);

describe('redis-cluster failover [redis-cluster]', { skip: skip || undefined }, () => {
  it('Store, Bus and Log follow the promoted replica', { timeout: 90_000 }, async () => {
    const prefix = uniquePrefix('failover');
    const o = { type: 'redis-cluster', nodes: cluster!.urls, prefix } as const;
    const store = await createStore(o);
    const log = await createLog(o);
    const sub = await createBus(o);
    const pub = await createBus(o);
    after(() => Promise.all([store.close(), log.close(), sub.close(), pub.close()]));
    // One hash tag, so all three live on the master that will be lost.
    const states: boolean[] = [];
    sub.onConnectionChange((up) => states.push(up));
    const got: string[] = [];
    await sub.subscribe('{fo}chat', (m) => got.push(m));
    await store.create('cart{fo}', 'v1');
    const first = await log.append('fo', 'a', { key: 'm1' });
    await cluster!.waitReplicated();
    const owner = await cluster!.ownerOf(`${prefix}log:{fo}`);
    assert.equal((await cluster!.ownerOf(`${prefix}cart{fo}`)).port, owner.port);
    await owner.kill();

    const record = await eventually(() => store.get('cart{fo}').catch(() => null), 30_000, 200);
    assert.equal(record?.value, 'v1', 'the replicated record is on the promoted replica');
    const read = await log.read('fo', 0);
    assert.equal(read.epoch, first.epoch, 'the Log kept its epoch');
    assert.deepEqual(
      read.entries.map((e) => e.data),
      ['a'],
    );
    assert.deepEqual(
      await log.append('fo', 'a again', { key: 'm1' }),
      { ...first, duplicate: true },
      'the key index came along',
    );
    assert.equal((await log.append('fo', 'b')).offset, 2);
    await eventually(
      async () => {
        await pub.publish('{fo}chat', 'after').catch(() => {});
        return got.includes('after');
      },
      30_000,
      200,
    );
    assert.ok(states.includes(false), 'the Bus reported the outage');
    await eventually(() => states.at(-1) === true, 10_000);
  });
});
