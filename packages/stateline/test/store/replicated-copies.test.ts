/**
 * `ReplicatedStore` never lets an old copy win: a backup that is replaced (a peer joined) drops
 * its copy, and a fetch after a failover takes the newest copy among the peers' answers. Both
 * matter when instances come and go one at a time (a rolling restart, a strategy switch).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replicatedFleet, settle } from '../support/replicated-fleet.js';

const { peer } = replicatedFleet({ timeout: 500 });

describe('ReplicatedStore copies', () => {
  it('a backup replaced by a peer that joined drops its copy', async () => {
    const hub = {};
    const a = await peer(hub, 'a');
    const b = await peer(hub, 'b');
    await settle();
    const keys = Array.from({ length: 40 }, (_, i) => `sess:k${i}`);
    for (const k of keys) await a.store.create(k, 'v1');
    assert.ok(
      keys.every((k) => b.local.peek(k)?.value === 'v1'),
      'b is the only backup of every key',
    );
    const c = await peer(hub, 'c');
    await settle();
    const moved = keys.filter((k) => c.local.peek(k) !== null);
    assert.ok(moved.length > 0 && moved.length < keys.length, `rendezvous moved some keys (${moved.length})`);
    for (const k of moved) assert.equal(b.local.peek(k), null, `${k}: the former backup dropped its copy`);
    for (const k of keys.filter((x) => !moved.includes(x))) assert.equal(b.local.peek(k)?.value, 'v1');
  });

  it('a fetch after a failover takes the newest copy among the answers', async () => {
    const hub = {};
    const stale = await peer(hub, 'stale');
    const fresh = await peer(hub, 'fresh');
    await settle();
    const rec = { value: 'v2', version: 2, expiresAt: null };
    fresh.local.restore('sess:x', rec);
    stale.local.restore('sess:x', { ...rec, value: 'v1', version: 1 });
    const asker = await peer(hub, 'asker');
    await settle();
    assert.equal((await asker.store.get('sess:x'))?.value, 'v2');
  });
});
