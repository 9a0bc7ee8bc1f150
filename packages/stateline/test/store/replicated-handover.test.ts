/**
 * `ReplicatedStore` when instances leave and come back one at a time (a rolling restart, a
 * strategy switch): a copy whose owner left is the only one left, so its holder takes it over and
 * replicates it; a peer restarted under the same id (heard again before it was declared gone)
 * gets its copies again; a leaving instance hands over what no live peer holds. (Lab runs of the
 * switch `memory/sticky/backup>server` lost the sessions the first restarted instance had owned
 * when the last memory instance restarted: its copies had never reached the joining reader.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replicatedFleet, settle, type Peer } from '../support/replicated-fleet.js';

const HEARTBEAT = 200;
const keys = Array.from({ length: 20 }, (_, i) => `sess:k${i}`);
const { peer, closed } = replicatedFleet({ heartbeat: HEARTBEAT, timeout: 300 });

/** `a` and `b` on one hub, each knowing the other. */
async function pair() {
  const hub = {};
  const a = await peer(hub, 'a');
  const b = await peer(hub, 'b');
  await settle();
  return { hub, a, b };
}

/** `a` creates every key; `b`, its only peer, holds the only copy of each. */
async function written(a: Peer, b: Peer): Promise<void> {
  for (const k of keys) await a.store.create(k, `a:${k}`);
  assert.ok(
    keys.every((k) => b.local.peek(k) !== null),
    'b holds the only copy of each',
  );
}

describe('ReplicatedStore hand-over', () => {
  it("copies whose owner left reach the peer that joins, and outlive their last holder's restart", async () => {
    const { hub, a, b } = await pair();
    await written(a, b);
    await closed(a); // a restarts into another strategy: its records live on b only
    const reader = await peer(hub, 'a.migrate'); // the switched a reads the old sessions over the Bus
    await settle();
    await closed(b); // the last memory instance restarts
    for (const k of keys) assert.equal(reader.local.peek(k)?.value, `a:${k}`, `${k} survived`);
  });

  it('a leaving instance first hands over the records no peer acknowledged a copy of', async () => {
    const { a, b } = await pair();
    b.link.drop = '"op":"put"'; // b, busy, loses the copies (its heartbeats still go out)
    await a.store.create('sess:lone', 'v1');
    assert.equal(a.store.metrics.replicationDegraded, 1);
    b.link.drop = undefined;
    await closed(a); // no membership changed in between: only the drain can save the record
    assert.equal(b.local.peek('sess:lone')?.value, 'v1');
  });

  it('a peer restarted under the same id, before it was declared gone, gets its copies again', async () => {
    const { hub, a, b } = await pair();
    await written(a, b);
    b.link.kill(); // b dies and is back under its id well within three heartbeats
    const b2 = await peer(hub, 'b');
    await settle(HEARTBEAT / 2);
    assert.deepEqual(a.store.livePeers(), ['b'], 'b was never declared gone');
    const missing = keys.filter((k) => b2.local.peek(k) === null);
    assert.deepEqual(missing, [], 'the restarted backup holds a copy of every record again');
  });

  it("a restarted owner's records, held here as copies, are replicated back to it", async () => {
    const { hub, a, b } = await pair();
    await written(a, b);
    a.link.kill(); // the owner restarts empty under the same id: b's copies are the only ones
    const a2 = await peer(hub, 'a');
    await settle(HEARTBEAT / 2);
    assert.deepEqual(
      keys.filter((k) => a2.local.peek(k) === null),
      [],
      'every record is held on two instances again',
    );
  });
});
