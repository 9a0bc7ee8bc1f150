/**
 * `fromStateline`: every pair of configurations (token, server, hybrid, memory with and without
 * replication), two managers sharing one Store and one Bus under the same cookie name `sl.sid`:
 * the new one takes the old one's sessions over on the first request.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { fromStateline } from '../../src/migrate/index.js';
import { createSessions } from '../../src/session/index.js';
import type { SessionManager, SessionOptions } from '../../src/session/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { Jar, KEY_A, request } from '../session/client.js';

type Config = Pick<SessionOptions, 'strategy' | 'replication'>;

const CONFIGS: Record<string, Config> = {
  token: { strategy: 'token' },
  server: { strategy: 'server' },
  hybrid: { strategy: 'hybrid' },
  memory: { strategy: 'memory' },
  'memory/backup': { strategy: 'memory', replication: 'backup' },
};

const open: SessionManager[] = [];
after(async () => {
  for (const m of open.splice(0).reverse()) await m.close();
});

/** Lets bus messages (peer hellos, revocations) land. */
const settle = () => new Promise((r) => setTimeout(r, 30));

/** `server` and `hybrid` keep the same records: on one Store they share sessions without migrating. */
const RECORDS = new Set(['server', 'hybrid']);

/**
 * Old and new managers on one Bus; on one Store too, except `server`↔`hybrid` unless `sameStore`
 * (their records are the same, so only a move to another Store migrates anything).
 */
async function pair(from: string, to: string, sameStore = !(RECORDS.has(from) && RECORDS.has(to))) {
  const store = new MemoryStore();
  const hub = {};
  const shared = { store, keys: [KEY_A] };
  const old = await createSessions({
    ...shared,
    ...CONFIGS[from],
    bus: new MemoryBus({ hub }),
    instanceId: 'old-1',
  });
  open.push(old);
  const reader = fromStateline({ ...shared, ...CONFIGS[from], bus: new MemoryBus({ hub }) });
  const next = await createSessions({
    ...shared,
    ...(sameStore ? {} : { store: new MemoryStore() }),
    ...CONFIGS[to],
    bus: new MemoryBus({ hub }),
    instanceId: 'new-1',
    migrate: [reader],
  });
  open.push(next);
  await settle();
  return { old, next };
}

/** A logged-in session with a cart on the old configuration; the jar holds its cookie. */
async function loggedIn(old: SessionManager): Promise<Jar> {
  const jar = new Jar();
  await request(old, jar, async (s) => {
    s.set('cart', [{ sku: 'sku-1', qty: 2 }]);
    await s.login('alice');
  });
  assert.ok(jar.get('sl.sid'));
  return jar;
}

const whoami = async (m: SessionManager, jar: Jar) =>
  (await request(m, jar, (s) => ({ user: s.userId, cart: s.get('cart') }))).value;

for (const from of Object.keys(CONFIGS)) {
  for (const to of Object.keys(CONFIGS)) {
    if (from === to) continue;
    describe(`fromStateline ${from} → ${to}`, () => {
      it(`[${from}>${to}] the first request on the new configuration keeps user and data, rotates the cookie, and the old cookie then gives an anonymous session`, async () => {
        const { old, next } = await pair(from, to);
        const jar = await loggedIn(old);
        const oldCookie = jar.clone();
        const before = jar.get('sl.sid');

        assert.deepEqual(await whoami(next, jar), { user: 'alice', cart: [{ sku: 'sku-1', qty: 2 }] });
        assert.notEqual(jar.get('sl.sid'), before, 'the cookie was rotated');
        assert.equal(next.metrics.migrated, 1);
        // An ordinary session from now on: read again natively, listed under its user.
        assert.deepEqual(await whoami(next, jar), { user: 'alice', cart: [{ sku: 'sku-1', qty: 2 }] });
        assert.equal(next.metrics.migrated, 1);
        assert.equal((await next.list('alice')).length, 1);

        await settle();
        assert.deepEqual(await whoami(next, oldCookie.clone()), { user: null, cart: undefined });
        assert.deepEqual(await whoami(old, oldCookie.clone()), { user: null, cart: undefined });
        assert.equal(next.metrics.migrated, 1);
      });

      it(`[${from}>${to}] a tampered old cookie gives an anonymous session`, async () => {
        const { old, next } = await pair(from, to);
        const jar = await loggedIn(old);
        const value = jar.get('sl.sid')!;
        const flip = value.at(-3) === 'A' ? 'B' : 'A';
        jar.set('sl.sid', value.slice(0, -3) + flip + value.slice(-2));
        assert.deepEqual(await whoami(next, jar), { user: null, cart: undefined });
        assert.equal(next.metrics.migrated, 0);
      });
    });
  }
}

describe('fromStateline server ↔ hybrid on one Store', () => {
  for (const [from, to] of [
    ['server', 'hybrid'],
    ['hybrid', 'server'],
  ] as const) {
    it(`[${from}>${to}] the new configuration reads the old one's records as its own: nothing to migrate`, async () => {
      const { old, next } = await pair(from, to, true);
      const jar = await loggedIn(old);
      const before = jar.get('sl.sid');
      assert.deepEqual(await whoami(next, jar), { user: 'alice', cart: [{ sku: 'sku-1', qty: 2 }] });
      assert.equal(jar.get('sl.sid'), before);
      assert.equal(next.metrics.migrated, 0);
    });
  }
});

describe('fromStateline options', () => {
  it('refuses an unknown option and a bad strategy with SL_ERR_INVALID_OPTION', () => {
    assert.throws(
      () => fromStateline({ keys: [KEY_A], colour: 'red' } as unknown as SessionOptions),
      /SL_ERR_INVALID_OPTION|fromStateline has no option "colour"/,
    );
    assert.throws(
      () => fromStateline({ keys: [KEY_A], strategy: 'disk' as 'server' }),
      (err: Error & { code?: string }) => err.code === 'SL_ERR_INVALID_OPTION',
    );
  });
});
