/**
 * PeerChannel (src/internal/peer-channel.ts): the heartbeat and ask/answer protocol the memory
 * strategy's replication and fleet share, here on an in-process hub.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../src/bus/memory-bus.js';
import { PeerChannel, type PeerChannelOptions } from '../src/internal/peer-channel.js';
import { sleep } from './support/free-port.js';

type Answer = (q: string, from: string) => string | Promise<string>;

async function channels(answers: Answer[], options: Partial<PeerChannelOptions<string, string>> = {}) {
  const hub = {};
  const out: PeerChannel<string, string>[] = [];
  for (const [i, answer] of answers.entries()) {
    const c = new PeerChannel<string, string>(new MemoryBus({ hub }), {
      name: 'test-peers',
      instanceId: `p${i + 1}`,
      heartbeat: 1000,
      answer,
      ...options,
    });
    await c.start();
    out.push(c);
  }
  await sleep(20); // hellos are answered at once
  return out;
}

const closeAll = (cs: PeerChannel<string, string>[]) => Promise.all(cs.map((c) => c.close()));

describe('PeerChannel', () => {
  it('a joining peer is known at once, and ask gathers every live peer’s answer', async () => {
    const cs = await channels([(q) => `p1:${q}`, (q) => `p2:${q}`, (q, from) => `p3:${q}:${from}`]);
    assert.deepEqual(cs[0]!.peers(), ['p2', 'p3']);
    assert.deepEqual(cs[2]!.peers(), ['p1', 'p2']);
    const { answers, complete } = await cs[0]!.ask('x', 1000);
    assert.equal(complete, true);
    assert.deepEqual(answers.sort(), ['p2:x', 'p3:x:p1']);
    await closeAll(cs);
  });

  it('ask to named peers goes to those only; enough ends it at the first answer that suffices', async () => {
    const cs = await channels([() => 'no', () => 'no', () => 'yes']);
    assert.deepEqual((await cs[0]!.ask('x', 1000, { to: ['p3'] })).answers, ['yes']);
    const t0 = performance.now();
    const { answers, complete } = await cs[0]!.ask('x', 5000, { enough: (a) => a === 'yes' });
    assert.equal(complete, true);
    assert.ok(answers.includes('yes'));
    assert.ok(performance.now() - t0 < 2000, 'did not wait for the timeout');
    await closeAll(cs);
  });

  it('a closing peer says goodbye: the others forget it and stop waiting for its answer', async () => {
    const never = () => new Promise<string>(() => {});
    const cs = await channels([() => 'a', () => 'b', never]);
    const asked = cs[0]!.ask('x', 10_000);
    await sleep(20);
    const t0 = performance.now();
    await cs[2]!.close();
    const { answers, complete } = await asked;
    assert.ok(performance.now() - t0 < 2000, 'stopped waiting at the goodbye, not at the timeout');
    assert.equal(complete, false, 'a peer asked never answered');
    assert.deepEqual(answers, ['b']);
    assert.deepEqual(cs[0]!.peers(), ['p2']);
    await closeAll(cs.slice(0, 2));
  });

  it('an answer that throws sends nothing: the ask ends incomplete at its timeout', async () => {
    const cs = await channels([
      () => 'a',
      () => {
        throw new Error('boom');
      },
    ]);
    const t0 = performance.now();
    const { answers, complete } = await cs[0]!.ask('x', 100);
    assert.ok(performance.now() - t0 >= 95, 'waited for the timeout');
    assert.equal(complete, false);
    assert.deepEqual(answers, []);
    await closeAll(cs);
  });

  it('a peer silent for three heartbeats is dropped, and onPeersChanged hears it come and go', async () => {
    const hub = {};
    let changes = 0;
    const c = new PeerChannel<string, string>(new MemoryBus({ hub }), {
      name: 'test-peers',
      instanceId: 'p1',
      heartbeat: 30,
      answer: (q) => q,
      onPeersChanged: () => changes++,
    });
    await c.start();
    // One heartbeat from a peer that then falls silent (no goodbye).
    await new MemoryBus({ hub }).publish('test-peers', JSON.stringify({ t: 'hb', from: 'ghost' }));
    await sleep(10);
    assert.deepEqual(c.peers(), ['ghost']);
    assert.equal(changes, 1);
    await sleep(200);
    assert.deepEqual(c.peers(), []);
    assert.equal(changes, 2);
    await c.close();
  });

  it('a hello from a peer still listed is reported as a restart', async () => {
    const hub = {};
    const calls: (readonly string[] | undefined)[] = [];
    const c = new PeerChannel<string, string>(new MemoryBus({ hub }), {
      name: 'test-peers',
      instanceId: 'p1',
      heartbeat: 1000,
      answer: (q) => q,
      onPeersChanged: (restarted) => calls.push(restarted),
    });
    await c.start();
    const other = new MemoryBus({ hub });
    await other.publish('test-peers', JSON.stringify({ t: 'hb', from: 'p2', hello: true }));
    await other.publish('test-peers', JSON.stringify({ t: 'hb', from: 'p2' }));
    await sleep(10);
    assert.deepEqual(calls, [undefined], 'first heard: a change, no restart; a plain heartbeat: nothing');
    // p2 restarted within its expiry: its new process says hello under the same id.
    await other.publish('test-peers', JSON.stringify({ t: 'hb', from: 'p2', hello: true }));
    await sleep(10);
    assert.deepEqual(calls, [undefined, ['p2']]);
    assert.deepEqual(c.peers(), ['p2']);
    await c.close();
  });
});
