/**
 * Property test: whatever arrives in the cookie, a request gets a fresh anonymous session,
 * never an error, never someone's data. 10,000 random and mutated cookies per strategy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { createSessions } from '../../src/session/index.js';
import type { SessionStrategy } from '../../src/session/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { readCookies } from '../../src/session/cookie.js';
import { Jar, KEY_A, request } from './client.js';

const N = 10_000;
const ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=%"; ,\\\u00e9\u0000\u{1F600}';

/** A small seeded PRNG so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

function sameBytes(a: string, b: string): boolean {
  const parts = (x: string) => x.split('.').map((p) => Buffer.from(p, 'base64url').toString('hex'));
  return /^[A-Za-z0-9_.-]*$/.test(a) && parts(a).join('.') === parts(b).join('.');
}

function mutate(valid: string, rnd: () => number): string {
  const pick = (s: string) => s[Math.floor(rnd() * s.length)] ?? '';
  const at = Math.floor(rnd() * valid.length);
  switch (Math.floor(rnd() * 9)) {
    case 0: // flip one character
      return valid.slice(0, at) + pick(ALPHABET.slice(0, 64)) + valid.slice(at + 1);
    case 1: // truncate
      return valid.slice(0, at);
    case 2: // extend
      return valid + Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => pick(ALPHABET)).join('');
    case 3: // swap two segments
      return valid.split('.').reverse().join('.');
    case 4: // random garbage
      return Array.from({ length: Math.floor(rnd() * 200) }, () => pick(ALPHABET)).join('');
    case 5: // huge
      return valid.repeat(2 + Math.floor(rnd() * 50));
    case 6: // alg none / foreign JOSE header
      return `${Buffer.from(JSON.stringify({ alg: rnd() < 0.5 ? 'none' : 'HS256', enc: 'A256GCM', kid: 'x' })).toString('base64url')}.${valid.split('.').slice(1).join('.')}`;
    case 7: // delete a segment
      return valid
        .split('.')
        .filter((_, i) => i !== at % 5)
        .join('.');
    default: // non-base64 inside
      return valid.slice(0, at) + '!!' + valid.slice(at);
  }
}

for (const strategy of ['server', 'token', 'memory', 'hybrid'] satisfies SessionStrategy[]) {
  describe(`cookie fuzz [${strategy}]`, () => {
    it(`[${strategy}] ${N} random and mutated cookies all yield a fresh anonymous session`, async () => {
      const m = await createSessions({
        strategy,
        keys: [KEY_A],
        store: new MemoryStore(),
        bus: new MemoryBus({ hub: {} }),
      });
      try {
        const owner = new Jar();
        await request(m, owner, async (s) => {
          s.set('secret', 'owner-data');
          await s.login('owner');
        });
        const valid = owner.get('sl.sid')!;
        const rnd = prng(strategy.length * 7919);
        const before = m.metrics.invalidCookies;
        let accepted = 0;
        for (let i = 0; i < N; i++) {
          const cookie = mutate(valid, rnd);
          const s = await m.load({ cookie: `sl.sid=${cookie}`, encrypted: false });
          if (cookie === valid) continue;
          if (!s.isNew) {
            // Only a mutation that decodes to the very same bytes may pass (base64url's unused low bits).
            accepted++;
            const parsed = readCookies(`sl.sid=${cookie}`, 'sl.sid');
            assert.ok(
              parsed.some((v) => sameBytes(v, valid)),
              `accepted a different cookie: ${cookie}`,
            );
            assert.equal(s.get('secret'), 'owner-data');
          } else {
            assert.equal(s.get('secret'), undefined);
            assert.equal(s.userId, null);
          }
          const { setCookie } = await s.commit();
          for (const line of setCookie) assert.match(line, /Max-Age=0|^sl\.sid(?:\.v)?=/);
        }
        assert.ok(accepted < N / 100, `only encoding-equivalent cookies pass (${accepted})`);
        assert.ok(
          m.metrics.invalidCookies - before >= N - accepted - N / 10,
          `counted: ${m.metrics.invalidCookies - before}`,
        );
        // The real owner is unaffected.
        assert.equal((await request(m, owner, (s) => s.get('secret'))).value, 'owner-data');
      } finally {
        await m.close();
      }
    });
  });
}
