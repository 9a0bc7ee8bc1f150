/**
 * The read-only rooms the shop's entities feed (`list:<id>`, `drop:<sku>`): a join is allowed only
 * once this instance receives the entity's events, so nothing emitted after `joined` can miss the
 * room on this instance (a live-only room never sends it again).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBus, type Bus } from 'stateline/bus';
import type { Hub } from 'stateline/realtime';
import { createStore } from 'stateline/store';
import { readConfig } from '../src/config.js';
import { openShopEntities } from '../src/shop-entities.js';

describe('shop entity rooms', () => {
  it('a list room is allowed only once its events reach this instance', async () => {
    const config = readConfig({
      STATELINE_INSTANCE_ID: 'feed-test',
      STATELINE_STORE: 'memory:',
      STATELINE_BUS: 'memory:',
    });
    const store = await createStore('memory:');
    const real: Bus = await createBus('memory:');
    // Subscriptions to entity channels take a while, as under load.
    let subscribing = 0;
    const bus = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== 'subscribe') return Reflect.get(target, prop, receiver) as unknown;
        return async (channel: string, handler: (m: string, c: string) => void) => {
          subscribing++;
          await new Promise((r) => setTimeout(r, 200));
          return target.subscribe(channel, handler);
        };
      },
    });
    const published: string[] = [];
    const hub = {
      publish: (_room: string, text: string) => {
        published.push(text);
        return Promise.resolve({ offset: published.length, epoch: 'e' });
      },
    } as unknown as Hub;
    const entities = await openShopEntities({ config, store, bus, hub: () => hub, onError: () => {} });
    try {
      await entities.listening('http://127.0.0.1:9');
      const policy = await entities.room('list:shared');
      assert.ok(policy, 'the room exists');
      assert.ok(subscribing > 0, 'the room subscribed to the entity');
      await (await entities.get()).call('list', 'shared', 'add', { text: 'tea', by: 'alice' });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(published.length, 1, 'the event emitted after the join reached the room');
      assert.match(published[0]!, /"tea"/);
      assert.equal(await entities.room('list:nope!'), null);
    } finally {
      await entities.close();
      await bus.close();
      await store.close();
    }
  });
});
