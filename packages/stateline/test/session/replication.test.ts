/**
 * `memory` replication between instances sharing a Bus (here an in-process memory hub; the lab's
 * chaos test runs the same over the ipc bus with real processes and SIGKILL).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { createSessions } from '../../src/session/index.js';
import type { SessionManager } from '../../src/session/types.js';
import { Jar, KEY_A, request } from './client.js';

async function cluster(replication: 'off' | 'backup' | 'all', n = 3) {
  const hub = {};
  const managers: SessionManager[] = [];
  for (let i = 1; i <= n; i++) {
    managers.push(
      await createSessions({
        strategy: 'memory',
        keys: [KEY_A],
        replication,
        instanceId: `i${i}`,
        bus: new MemoryBus({ hub }),
      }),
    );
  }
  return managers;
}

async function sessionsOn(m: SessionManager, count: number): Promise<Jar[]> {
  const jars: Jar[] = [];
  for (let i = 0; i < count; i++) {
    const jar = new Jar();
    await request(m, jar, (s) => s.set('cart', [`item-${i}`]));
    jars.push(jar);
  }
  return jars;
}

describe('memory replication', () => {
  it('[memory] without replication, the sessions of a dead instance are lost', async () => {
    const [i1, i2, i3] = await cluster('off');
    const jars = await sessionsOn(i1!, 50);
    await i1!.close(); // the owner dies
    let lost = 0;
    for (const [k, jar] of jars.entries()) {
      const cart = (await request(k % 2 ? i2! : i3!, jar, (s) => s.get('cart'))).value;
      if (cart === undefined) lost++;
    }
    assert.equal(lost, 50);
    await Promise.all([i2!.close(), i3!.close()]);
  });

  for (const mode of ['backup', 'all'] as const) {
    it(`[memory] with replication '${mode}', no session of a dead instance is lost`, async () => {
      const [i1, i2, i3] = await cluster(mode);
      // Peers discover each other by heartbeat (a joining instance says hello and is answered at once).
      await new Promise((r) => setTimeout(r, 50));
      const jars = await sessionsOn(i1!, 50);
      assert.equal(i1!.metrics.replicationDegraded, 0, 'every write was acknowledged');
      await i1!.close();
      let lost = 0;
      for (const [k, jar] of jars.entries()) {
        const target = k % 2 ? i2! : i3!;
        const r = await request(target, jar, async (s) => {
          const cart = s.get<string[]>('cart');
          if (cart) await s.update<string[]>('cart', (c = []) => [...c, 'after-failover']);
          return cart;
        });
        if (r.value === undefined) lost++;
      }
      assert.equal(lost, 0);
      // The surviving copy keeps taking writes, and the other survivor gets them too.
      const jar = jars[0]!;
      const cart = (await request(i3!, jar, (s) => s.get<string[]>('cart'))).value;
      assert.deepEqual(cart, ['item-0', 'after-failover']);
      await Promise.all([i2!.close(), i3!.close()]);
    });
  }

  it('[memory] a restarted instance receives the sessions it must back up', async () => {
    const hub = {};
    const make = (id: string) =>
      createSessions({
        strategy: 'memory',
        keys: [KEY_A],
        replication: 'backup',
        instanceId: id,
        bus: new MemoryBus({ hub }),
      });
    const i1 = await make('i1');
    const i2 = await make('i2');
    await new Promise((r) => setTimeout(r, 50));
    const jars = await sessionsOn(i1, 20);
    await i2.close(); // the only backup goes away...
    const i3 = await make('i3'); // ...and a new instance joins: it must receive the copies
    // i2 counts as gone after three silent heartbeats (1 s each); then i1 re-homes i2's copies.
    await new Promise((r) => setTimeout(r, 4_200));
    await i1.close();
    let lost = 0;
    for (const jar of jars) if ((await request(i3, jar, (s) => s.get('cart'))).value === undefined) lost++;
    assert.equal(lost, 0);
    await i3.close();
  });

  it('refuses replication for other strategies', async () => {
    await assert.rejects(
      createSessions({ strategy: 'server', keys: [KEY_A], replication: 'backup' }),
      /memory strategy only/,
    );
  });
});
