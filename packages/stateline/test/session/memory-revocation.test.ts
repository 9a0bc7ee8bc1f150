/**
 * `memory` sessions live in each instance's process: listing and revoking a user's sessions must
 * still reach every instance. Three managers on one in-process Bus hub stand for three instances.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { createSessions } from '../../src/session/index.js';
import type { MemoryStore } from '../../src/store/memory-store.js';
import type { SessionManager } from '../../src/session/types.js';
import { Jar, KEY_A, request } from './client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function cluster(replication: 'off' | 'backup', n = 3): Promise<SessionManager[]> {
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
  // Peers find each other by heartbeat (a joining instance says hello and is answered at once).
  await sleep(50);
  return managers;
}

async function loginOn(m: SessionManager, user: string): Promise<{ jar: Jar; handle: string }> {
  const jar = new Jar();
  const { session } = await request(m, jar, (s) => s.login(user));
  return { jar, handle: session.handle! };
}

const userOn = async (m: SessionManager, jar: Jar) => (await request(m, jar.clone(), (s) => s.userId)).value;

/** Polls until no manager accepts `jar` as `user`; returns how long that took. */
async function refusedEverywhere(ms: SessionManager[], jar: Jar, user: string, within = 1000) {
  const t0 = Date.now();
  for (;;) {
    const accepted: number[] = [];
    for (const [k, m] of ms.entries()) if ((await userOn(m, jar)) === user) accepted.push(k + 1);
    if (accepted.length === 0) return Date.now() - t0;
    if (Date.now() - t0 > within)
      assert.fail(`still accepted by i${accepted.join(', i')} after ${within} ms`);
    await sleep(10);
  }
}

const closeAll = (ms: SessionManager[]) => Promise.all(ms.map((m) => m.close()));

for (const replication of ['off', 'backup'] as const) {
  describe(`memory sessions across instances (replication ${replication})`, () => {
    it(`[memory/${replication}] list shows every instance's sessions; revoke and logout-all reach every instance`, async () => {
      const ms = await cluster(replication);
      const [i1, i2, i3] = ms as [SessionManager, SessionManager, SessionManager];
      try {
        const a1 = await loginOn(i1, 'alice');
        const a2 = await loginOn(i2, 'alice');
        const a3 = await loginOn(i3, 'alice');
        await loginOn(i2, 'bob');
        for (const m of ms) {
          const handles = (await m.list('alice')).map((s) => s.handle).sort();
          assert.deepEqual(
            handles,
            [a1.handle, a2.handle, a3.handle].sort(),
            'every instance lists all three',
          );
        }

        // i1 revokes the session i2 holds.
        assert.equal(await i1.revoke(a2.handle, { userId: 'alice' }), true, 'held elsewhere, still revoked');
        await refusedEverywhere(ms, a2.jar, 'alice');
        assert.equal(await i1.revoke(a2.handle, { userId: 'alice' }), false, 'gone now');
        assert.equal(await i1.revoke('A'.repeat(22), { userId: 'alice' }), false, 'nobody holds it');
        const bobs = await i3.list('bob');
        assert.equal(bobs.length, 1);
        assert.equal(await i3.revoke(bobs[0]!.handle, { userId: 'alice' }), false, "not alice's to revoke");
        assert.equal((await i1.list('bob')).length, 1, "bob's session was not touched");
        assert.equal((await i3.list('alice')).length, 2);

        // Logout-all on i3 ends alice's sessions held by i1 and i3.
        assert.equal(await i3.revokeAll('alice'), 2);
        await refusedEverywhere(ms, a1.jar, 'alice');
        await refusedEverywhere(ms, a3.jar, 'alice');
        for (const m of ms) assert.deepEqual(await m.list('alice'), []);

        // A later login is a new session and is not caught by the earlier logout-all.
        await sleep(5);
        const again = await loginOn(i1, 'alice');
        assert.equal(await userOn(i1, again.jar), 'alice');
        assert.deepEqual(
          (await i2.list('alice')).map((s) => s.handle),
          [again.handle],
        );
        assert.equal((await i2.list('bob')).length, 1);
      } finally {
        await closeAll(ms);
      }
    });
  });
}

describe('memory sessions across instances after a failover (replication backup)', () => {
  it('[memory/backup] the list still shows a dead instance’s sessions, and a revoked copy is never brought back', async () => {
    const ms = await cluster('backup');
    const [i1, i2, i3] = ms as [SessionManager, SessionManager, SessionManager];
    try {
      const kept = await loginOn(i1, 'carol');
      const revoked = await loginOn(i1, 'dave');
      assert.equal(i1.metrics.replicationDegraded, 0);
      // Dave logs out everywhere from another instance; then the owner of his session dies.
      assert.equal(await i2.revokeAll('dave'), 1);
      await i1.close();
      // Carol is still logged in: the survivors list her session (the backup's copy)...
      for (const m of [i2, i3])
        assert.deepEqual(
          (await m.list('carol')).map((s) => s.handle),
          [kept.handle],
        );
      // ...and serve it (fetched from the backup), and still list it afterwards.
      assert.equal(await userOn(i3, kept.jar), 'carol');
      assert.equal(await userOn(i2, kept.jar), 'carol');
      for (const m of [i2, i3])
        assert.deepEqual(
          (await m.list('carol')).map((s) => s.handle),
          [kept.handle],
        );
      // Dave's copy does not come back on any survivor.
      for (const m of [i2, i3]) assert.equal(await userOn(m, revoked.jar), null);
      assert.deepEqual(await i3.list('dave'), []);
      // Revoking carol's session from the instance that does not hold it works after the failover too.
      assert.equal(await i3.revoke(kept.handle, { userId: 'carol' }), true);
      await refusedEverywhere([i2, i3], kept.jar, 'carol');
    } finally {
      await closeAll(ms);
    }
  });
});

describe('revocations kept in each process (memory strategy without a shared Store)', () => {
  it('[memory] a revocation heard over the Bus outlives the periodic re-read: a copy put back later is refused', async () => {
    const hub = {};
    const make = (id: string) =>
      createSessions({
        strategy: 'memory',
        keys: [KEY_A],
        instanceId: id,
        bus: new MemoryBus({ hub }),
        revocationSync: '50ms',
      });
    const i1 = await make('i1');
    const i2 = await make('i2');
    try {
      await sleep(50);
      const a = await loginOn(i1, 'erin');
      const key = `sess:${a.handle}`;
      const copy = (i1.store as MemoryStore).peek(key)!;
      assert.ok(copy);
      assert.equal(await i2.revokeAll('erin'), 1);
      await refusedEverywhere([i1, i2], a.jar, 'erin');
      assert.equal((i1.store as MemoryStore).peek(key), null, 'the holder dropped it');
      // Several re-reads of i1's own Store later, a stale copy turns up (a late replica, say).
      await sleep(300);
      assert.ok((i1.store as MemoryStore).restore(key, copy));
      assert.equal(await userOn(i1, a.jar), null);
      assert.equal(i1.metrics.revokedRefused, 1);
      assert.deepEqual(await i1.list('erin'), []);
    } finally {
      await closeAll([i1, i2]);
    }
  });
});
