/**
 * Must show 2: presence. Two hub instances in separate processes on a shared Redis, heartbeat
 * 500 ms. Joins and leaves are pushed to the room's members on every instance; when an instance
 * is SIGKILLed, its members disappear from the survivors' presence within 3 heartbeats. A
 * graceful close announces the departure at once.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { eventually, sleep } from '../support/free-port.js';
import { Harness, WS } from './harness.js';
import { killAll, startInstances } from './instances.js';
import { connect, type RealtimeClient } from '../../src/realtime/client.js';

const HEARTBEAT = 500;
const skip = await needService('redis');
const prefix = uniquePrefix('rt-presence');
const clients: RealtimeClient[] = [];

const client = (url: string, name: string) => {
  // One URL only: a client of the killed instance must not come back through another one.
  const c = connect(url, { WebSocket: WS, anonymousId: `${name}-0000000`, minDelay: 50, maxDelay: 200 });
  clients.push(c);
  return c;
};
const names = (...n: string[]) => n.map((x) => `anon:${x}-0000000`).sort();

describe('realtime presence', () => {
  after(async () => {
    for (const c of clients) c.close();
    await killAll();
  });

  it(
    'across processes: joins and leaves are pushed, a killed instance’s members go within 3 heartbeats',
    { skip, timeout: 30_000 },
    async () => {
      const config = {
        log: { type: 'redis', url: REDIS_URL, prefix },
        bus: { type: 'redis', url: REDIS_URL, prefix },
        hub: { heartbeat: HEARTBEAT },
      } as const;
      const [one, two] = await startInstances(2, config);
      const a = client(one!.url, 'a');
      const b = client(two!.url, 'b');
      const pushes: Array<{ at: number; members: string[] }> = [];
      a.on('presence', (p) => pushes.push({ at: Date.now(), members: p.members }));
      await a.join('room');
      await b.join('room');
      await eventually(() => a.members('room').join() === names('a', 'b').join());
      await eventually(() => b.members('room').join() === names('a', 'b').join());

      const c = client(one!.url, 'c'); // same instance as a
      const d = client(two!.url, 'd'); // the other one
      await Promise.all([c.join('room'), d.join('room')]);
      await eventually(() => a.members('room').join() === names('a', 'b', 'c', 'd').join());
      await eventually(() => d.members('room').join() === names('a', 'b', 'c', 'd').join());
      c.leave('room');
      d.leave('room');
      await eventually(() => a.members('room').join() === names('a', 'b').join());
      await eventually(() => b.members('room').join() === names('a', 'b').join());

      await sleep(HEARTBEAT * 1.5); // let heartbeats run: a steady room pushes nothing new
      const steady = pushes.length;
      await sleep(HEARTBEAT * 2);
      assert.equal(pushes.length, steady, 'no presence frames while nothing changes');

      const killedAt = Date.now();
      await two!.kill();
      await eventually(() => a.members('room').join() === names('a').join(), HEARTBEAT * 6, 10);
      const gone = pushes.find((p) => p.at >= killedAt && !p.members.includes(names('b')[0]!))!;
      const elapsed = gone.at - killedAt;
      assert.ok(
        elapsed <= 3 * HEARTBEAT,
        `b disappeared ${elapsed} ms after the kill (limit ${3 * HEARTBEAT} ms)`,
      );
      assert.ok(
        elapsed >= HEARTBEAT,
        `b was not dropped before its instance could have missed a heartbeat (${elapsed} ms)`,
      );
    },
  );

  after(async () => {
    if (skip) return;
    const redis = createClient({ url: REDIS_URL });
    redis.on('error', () => {});
    await redis.connect();
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 }))
      if (keys.length) await redis.del(keys);
    await redis.close();
  });

  it('a hub that closes gracefully announces its members’ departure at once', async () => {
    const h = new Harness();
    try {
      const one = await h.start({ heartbeat: 10_000 });
      const two = await h.start({ heartbeat: 10_000 });
      const a = h.client(one.url, { anonymousId: 'a-0000000' });
      const b = h.client(two.url, { anonymousId: 'b-0000000' });
      await a.join('room');
      await b.join('room');
      await eventually(() => a.members('room').length === 2);
      const t = Date.now();
      await two.hub.close();
      await eventually(() => a.members('room').length === 1, 2000, 10);
      assert.ok(Date.now() - t < 1000, 'well before any heartbeat expiry (10 s)');
      assert.deepEqual(one.hub.members('room'), names('a'));
    } finally {
      await h.close();
    }
  });
});
