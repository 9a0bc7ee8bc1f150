import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { HashRing, hashKey } from '../src/hash-ring.js';
import { startBackends } from './support/backend.js';
import { Client, gatewayFor } from './support/client.js';

const member = (id: string) => ({ id });

describe('consistent hashing', () => {
  test('an instance leaving moves about 1/N of 10,000 keys, and only its own keys', () => {
    for (const n of [3, 4, 5, 8]) {
      const members = Array.from({ length: n }, (_, k) => member(`i${k + 1}`));
      const full = new HashRing(members, 160);
      const keys = Array.from({ length: 10_000 }, () => randomUUID());
      const before = keys.map((k) => full.owner(hashKey(k))!.id);
      for (const leaving of members) {
        const ring = new HashRing(
          members.filter((m) => m !== leaving),
          160,
        );
        let moved = 0;
        keys.forEach((k, idx) => {
          const now = ring.owner(hashKey(k))!.id;
          if (now !== before[idx]) {
            moved++;
            assert.equal(before[idx], leaving.id, 'only keys of the instance that left move');
          }
        });
        const share = moved / keys.length;
        assert.ok(
          Math.abs(share - 1 / n) <= 0.3 / n,
          `N=${n}, ${leaving.id} left: ${(share * 100).toFixed(1)}% of keys moved, expected ${(100 / n).toFixed(1)}% ± 30%`,
        );
      }
    }
  });

  test('the ring does not depend on the order members are given in', () => {
    const a = new HashRing([member('a'), member('b'), member('c')], 160);
    const b = new HashRing([member('c'), member('a'), member('b')], 160);
    for (let k = 0; k < 2000; k++) assert.equal(a.owner(hashKey(`k${k}`))!.id, b.owner(hashKey(`k${k}`))!.id);
  });

  test('sequential key names still spread evenly', () => {
    const ring = new HashRing([member('a'), member('b'), member('c'), member('d')], 160);
    const counts = new Map<string, number>();
    for (let k = 0; k < 10_000; k++) {
      const id = ring.owner(hashKey(`key-${k}`))!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const [id, count] of counts) assert.ok(Math.abs(count - 2500) < 2500 * 0.3, `${id}: ${count}`);
  });

  test('through the gateway: 10,000 session keys, one instance removed, about 1/N move', async () => {
    const backends = await startBackends(4);
    // A loose bound so that eight requests in flight never spill a key to its neighbour: this
    // measures the ring; bounded load has its own test.
    const { gw, base } = await gatewayFor(backends, { balance: 'hash', hash: { balanceFactor: 100 } });
    const c = new Client(base);
    try {
      const keys = Array.from({ length: 10_000 }, () => randomUUID());
      const route = async () => {
        const out: string[] = [];
        let next = 0;
        const worker = async () => {
          while (next < keys.length) {
            const k = next++;
            out[k] = (await c.send('/', { headers: { cookie: `sl.sid=${keys[k]}` } })).instance!;
          }
        };
        await Promise.all(Array.from({ length: 8 }, worker));
        return out;
      };
      const before = await route();
      gw.remove('b2');
      const after = await route();
      let moved = 0;
      for (let k = 0; k < keys.length; k++) {
        if (before[k] !== after[k]) {
          moved++;
          assert.equal(before[k], 'b2', 'only the keys of the removed instance move');
        }
      }
      const share = moved / keys.length;
      assert.ok(Math.abs(share - 0.25) <= 0.075, `${(share * 100).toFixed(1)}% moved, expected 25% ± 30%`);
    } finally {
      await c.close();
      await gw.close();
      await Promise.all(backends.map((b) => b.kill()));
    }
  });
});
