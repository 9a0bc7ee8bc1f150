/**
 * The primary behind three sentinels is SIGKILLed and the replica promoted. The Store, the Bus and
 * the Log work again on the new primary without being reopened: what was replicated before the
 * kill is there, the Log keeps its epoch and its key index, and the Bus reports the outage, then
 * delivers again once it has re-subscribed on the new primary.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createBus } from '../../src/bus/index.js';
import { isStatelineError } from '../../src/errors.js';
import { createLog } from '../../src/log/index.js';
import { createStore } from '../../src/store/index.js';
import { eventually } from '../support/free-port.js';
import { sentinelForFile } from '../support/redis-sentinel.js';
import { uniquePrefix } from '../support/services.js';

const { skip, set } = await sentinelForFile('redis-sentinel failover');

describe('redis-sentinel failover [redis-sentinel]', { skip: skip || undefined }, () => {
  it('Store, Bus and Log follow the promoted replica', { timeout: 90_000 }, async () => {
    const prefix = uniquePrefix('sentinel-failover');
    const o = {
      type: 'redis-sentinel',
      sentinels: set!.sentinels,
      name: set!.name,
      prefix,
      timeout: 500,
    } as const;
    const store = await createStore(o);
    const log = await createLog(o);
    const sub = await createBus(o);
    const pub = await createBus(o);
    after(() => Promise.all([store.close(), log.close(), sub.close(), pub.close()]));
    const states: boolean[] = [];
    sub.onConnectionChange((up) => states.push(up));
    const got: string[] = [];
    await sub.subscribe('chat', (m) => got.push(m));
    await store.create('cart', 'v1');
    const first = await log.append('room', 'a', { key: 'm1' });
    await set!.waitReplicated();
    const before = await set!.primaryPort();
    const killed = await set!.killPrimary();
    after(() => set!.rejoin(killed));

    // While no primary answers, calls fail with the backend's code, never with a driver error.
    await assert.rejects(store.get('cart'), (e) => isStatelineError(e, 'SL_ERR_STORE_UNAVAILABLE'));
    const record = await eventually(() => store.get('cart').catch(() => null), 30_000, 100);
    assert.equal(record?.value, 'v1', 'the replicated record is on the promoted replica');
    assert.notEqual(await set!.primaryPort(), before, 'the sentinels promoted the replica');
    // Each object follows on its own: the Log may come back a moment after the Store.
    const read = await eventually(() => log.read('room', 0).catch(() => null), 30_000, 100);
    assert.equal(read!.epoch, first.epoch, 'the Log kept its epoch');
    assert.deepEqual(
      read!.entries.map((e) => e.data),
      ['a'],
    );
    assert.deepEqual(await log.append('room', 'a again', { key: 'm1' }), { ...first, duplicate: true });
    assert.equal((await log.append('room', 'b')).offset, 2);
    await eventually(
      async () => {
        await pub.publish('chat', 'after').catch(() => {});
        return got.includes('after');
      },
      30_000,
      200,
    );
    assert.ok(states.includes(false), 'the Bus reported the outage');
    await eventually(() => states.at(-1) === true, 10_000);
  });
});
