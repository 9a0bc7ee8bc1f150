import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { StatelineError, isStatelineError } from '../../src/errors.js';
import type { LegacySession, MigrationReader } from '../../src/migrate/types.js';
import { createSessions } from '../../src/session/index.js';
import type { SessionManager, SessionOptions, SessionStrategyName } from '../../src/session/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { Jar, KEY_A, request } from '../session/client.js';

/** A reader of `legacy=<id>` cookies over an in-memory table, recording what the manager asked. */
class FakeReader implements MigrationReader {
  readonly records = new Map<string, LegacySession>();
  readonly retired: string[] = [];
  reads = 0;
  closed = 0;
  failWith: unknown = null;
  retireFails = false;
  /** What the manager's cookie jar held when retire ran. */
  onRetire: (() => void) | null = null;

  constructor(
    readonly cookieNames: readonly string[] = ['legacy'],
    readonly name = 'fake',
  ) {}

  async read(_request: unknown, cookies: ReadonlyMap<string, string>): Promise<LegacySession | null> {
    this.reads++;
    if (this.failWith) throw this.failWith;
    const id = this.cookieNames.map((n) => cookies.get(n)).find((v) => v !== undefined);
    const rec = id === undefined ? undefined : this.records.get(id);
    if (!rec) return null;
    return {
      ...rec,
      retire: async () => {
        this.onRetire?.();
        if (this.retireFails) throw new Error('legacy store said no');
        this.records.delete(id!);
        this.retired.push(id!);
      },
    };
  }

  async close(): Promise<void> {
    this.closed++;
  }
}

const opened: SessionManager[] = [];
after(async () => {
  for (const m of opened) await m.close();
});

async function manager(
  strategy: SessionStrategyName,
  migrate: MigrationReader[],
  extra: Partial<SessionOptions> = {},
): Promise<SessionManager> {
  const m = await createSessions({ strategy, keys: [KEY_A], store: new MemoryStore(), migrate, ...extra });
  opened.push(m);
  return m;
}

for (const strategy of ['server', 'token', 'memory', 'hybrid'] as const) {
  describe(`migrate option [${strategy}]`, () => {
    it(`[${strategy}] a legacy cookie becomes a logged-in session with its data, the legacy cookie is cleared and retired after the commit`, async () => {
      const reader = new FakeReader();
      reader.records.set('old-1', { data: { cart: ['sku-1', 'sku-2'], theme: 'dark' }, userId: 'alice' });
      const m = await manager(strategy, [reader]);
      const jar = new Jar();
      jar.set('legacy', 'old-1');
      let committed = false;
      reader.onRetire = () => assert.ok(committed, 'retire runs only after the commit');
      const first = await request(m, jar, (s) => {
        assert.equal(s.userId, 'alice');
        assert.deepEqual(s.get('cart'), ['sku-1', 'sku-2']);
        assert.equal(s.get('theme'), 'dark');
        committed = true;
      });
      assert.ok(first.setCookie.some((c) => c.startsWith('sl.sid=') && !c.includes('Max-Age=0')));
      const clear = first.setCookie.find((c) => c.startsWith('legacy='));
      assert.ok(clear, 'the legacy cookie is cleared in the same response');
      assert.match(
        clear,
        /^legacy=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      assert.deepEqual(reader.retired, ['old-1']);
      assert.equal(jar.get('legacy'), undefined);
      assert.deepEqual([m.metrics.migrated, m.metrics.migrationRefused], [1, 0]);

      const again = await request(m, jar, (s) => {
        assert.equal(s.isNew, false);
        assert.equal(s.userId, 'alice');
        assert.deepEqual(s.get('cart'), ['sku-1', 'sku-2']);
        return s.handle;
      });
      assert.equal(reader.reads, 1, 'a native cookie never reaches the readers');
      const listed = await m.list('alice');
      assert.deepEqual(
        listed.map((x) => x.handle),
        [again.value],
        'a migrated session is listed like any other',
      );
      assert.equal(await m.revoke(again.value!), true);
    });

    it(`[${strategy}] replaying the retired legacy cookie gives an anonymous session and counts a refusal`, async () => {
      const reader = new FakeReader();
      reader.records.set('old-2', { data: { cart: ['a'] }, userId: 'bob' });
      const m = await manager(strategy, [reader]);
      const jar = new Jar();
      jar.set('legacy', 'old-2');
      await request(m, jar, () => {});
      const replay = new Jar();
      replay.set('legacy', 'old-2');
      const r = await request(m, replay, (s) => [s.isNew, s.userId, s.get('cart')]);
      assert.deepEqual(r.value, [true, null, undefined]);
      assert.deepEqual(r.setCookie, [], 'an unreadable legacy cookie is left alone');
      assert.deepEqual([m.metrics.migrated, m.metrics.migrationRefused], [1, 1]);
    });

    it(`[${strategy}] a valid native cookie sent with a legacy one: the native session wins and no reader runs`, async () => {
      const reader = new FakeReader();
      reader.records.set('old-3', { data: { cart: ['legacy'] }, userId: 'carol' });
      const m = await manager(strategy, [reader]);
      const jar = new Jar();
      await request(m, jar, (s) => s.set('cart', ['native']));
      jar.set('legacy', 'old-3');
      const r = await request(m, jar, (s) => s.get('cart'));
      assert.deepEqual(r.value, ['native']);
      assert.equal(reader.reads, 0);
      assert.equal(m.metrics.migrated, 0);
    });
  });
}

describe('migrate option: readers, failures and policy', () => {
  it('a reader whose cookie is absent is never asked', async () => {
    const reader = new FakeReader();
    const m = await manager('server', [reader]);
    const jar = new Jar();
    jar.set('other', 'x');
    await request(m, jar, () => {});
    await request(m, new Jar(), () => {});
    assert.equal(reader.reads, 0);
    assert.equal(m.metrics.migrationRefused, 0);
  });

  it('readers are tried in order; the first that opens the cookie wins and every presented legacy cookie is cleared', async () => {
    const a = new FakeReader(['old-a'], 'a');
    const b = new FakeReader(['old-b'], 'b');
    const c = new FakeReader(['old-c'], 'c');
    b.records.set('1', { data: { from: 'b' }, userId: null });
    c.records.set('1', { data: { from: 'c' }, userId: null });
    const m = await manager('server', [a, b, c]);
    const jar = new Jar();
    for (const n of ['old-a', 'old-b', 'old-c']) jar.set(n, '1');
    const r = await request(m, jar, (s) => s.get('from'));
    assert.equal(r.value, 'b');
    assert.deepEqual([a.reads, b.reads, c.reads], [1, 1, 0]);
    assert.deepEqual(
      r.setCookie.filter((x) => x.includes('Max-Age=0')).map((x) => x.split('=')[0]),
      ['old-a', 'old-b', 'old-c'],
    );
    assert.deepEqual([m.metrics.migrated, m.metrics.migrationRefused], [1, 1]);
  });

  it('a reader that throws (not a store outage) gives an anonymous session, never an error', async () => {
    const reader = new FakeReader();
    reader.failWith = new TypeError('corrupt record');
    const m = await manager('server', [reader]);
    const jar = new Jar();
    jar.set('legacy', 'x');
    const r = await request(m, jar, (s) => [s.isNew, s.userId]);
    assert.deepEqual(r.value, [true, null]);
    assert.equal(m.metrics.migrationRefused, 1);
  });

  it('a reader whose optional package is missing fails the request with that error instead of logging everyone out', async () => {
    const reader = new FakeReader();
    reader.failWith = new StatelineError('SL_ERR_PEER_DEPENDENCY_MISSING', 'run `npm install iron-session`');
    const m = await manager('server', [reader]);
    const jar = new Jar();
    jar.set('legacy', 'x');
    await assert.rejects(m.load(jar.context()), (err) =>
      isStatelineError(err, 'SL_ERR_PEER_DEPENDENCY_MISSING'),
    );
  });

  it("a legacy store outage follows onStoreError: 'fail' rejects with SL_ERR_STORE_UNAVAILABLE", async () => {
    const reader = new FakeReader();
    reader.failWith = new StatelineError('SL_ERR_STORE_UNAVAILABLE', 'legacy redis');
    const m = await manager('server', [reader]);
    const jar = new Jar();
    jar.set('legacy', 'x');
    await assert.rejects(m.load(jar.context()), (err) => isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE'));
    assert.equal(m.metrics.storeErrors, 1);
    assert.equal(m.metrics.migrationRefused, 0);
  });

  for (const strategy of ['server', 'token'] as const) {
    it(`[${strategy}] a legacy store outage under onStoreError 'anonymous' gives an empty session that keeps the legacy cookie`, async () => {
      const reader = new FakeReader();
      reader.records.set('k', { data: { cart: [1] }, userId: 'dan' });
      reader.failWith = new StatelineError('SL_ERR_STORE_UNAVAILABLE', 'legacy redis');
      const m = await manager(strategy, [reader], { onStoreError: 'anonymous' });
      const jar = new Jar();
      jar.set('legacy', 'k');
      const r = await request(m, jar, (s) => [s.userId, s.get('cart')]);
      assert.deepEqual(r.value, [null, undefined]);
      assert.ok(!r.setCookie.some((c) => c.startsWith('legacy=')));
      assert.equal(m.metrics.storeErrors, 1);
      reader.failWith = null;
      const back = await request(m, jar, (s) => s.userId);
      assert.equal(back.value, 'dan', 'once the legacy store is back the cookie is taken over');
    });
  }

  it('a failed retire is counted; the request still succeeds with its new cookie', async () => {
    const reader = new FakeReader();
    reader.records.set('r', { data: {}, userId: 'erin' });
    reader.retireFails = true;
    const m = await manager('server', [reader]);
    const jar = new Jar();
    jar.set('legacy', 'r');
    const r = await request(m, jar, (s) => s.userId);
    assert.equal(r.value, 'erin');
    assert.ok(r.setCookie.some((c) => c.startsWith('sl.sid=')));
    assert.equal(m.metrics.migrationRetireFailures, 1);
  });

  it('a legacy session with an unusable user id or key is refused, not half taken over', async () => {
    const reader = new FakeReader();
    reader.records.set('bad-user', { data: { a: 1 }, userId: '' });
    reader.records.set('bad-key', { data: { ['k'.repeat(300)]: 1 }, userId: 'x' });
    const m = await manager('server', [reader]);
    for (const id of ['bad-user', 'bad-key']) {
      const jar = new Jar();
      jar.set('legacy', id);
      const r = await request(m, jar, (s) => [s.userId, s.get('a')]);
      assert.deepEqual(r.value, [null, undefined]);
      assert.deepEqual(r.setCookie, []);
    }
    assert.equal(m.metrics.migrationRefused, 2);
  });

  it('a legacy cookie with the native name is not cleared: the new Set-Cookie replaces it', async () => {
    const reader = new FakeReader(['sl.sid']);
    reader.records.set('s:abc.def', { data: { n: 1 }, userId: null });
    const m = await manager('server', [reader]);
    const jar = new Jar();
    jar.set('sl.sid', encodeURIComponent('s:abc.def'));
    const r = await request(m, jar, (s) => s.get('n'));
    assert.equal(r.value, 1, 'values are decoded as the cookie package decodes them');
    assert.equal(r.setCookie.length, 1);
    assert.match(r.setCookie[0]!, /^sl\.sid=[^;]+; Max-Age=\d+/);
    assert.equal(m.metrics.invalidCookies, 1, 'the native strategy still refused it as its own');
  });

  it('the cleared cookie carries the reader’s scope and Secure over TLS', async () => {
    const reader: FakeReader & { cookieScope?: MigrationReader['cookieScope'] } = new FakeReader();
    reader.cookieScope = { path: '/app', domain: 'example.com' };
    reader.records.set('t', { data: { x: 1 }, userId: null });
    const m = await manager('server', [reader]);
    const jar = new Jar(true);
    jar.set('legacy', 't');
    const r = await request(m, jar, () => {});
    assert.ok(
      r.setCookie.includes(
        'legacy=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; Domain=example.com; HttpOnly; SameSite=Lax; Secure',
      ),
    );
  });

  it('commit called twice answers the clearing once per cycle, with the same result', async () => {
    const reader = new FakeReader();
    reader.records.set('c', { data: { x: 1 }, userId: null });
    const m = await manager('server', [reader]);
    const jar = new Jar();
    jar.set('legacy', 'c');
    const s = await m.load(jar.context());
    const [one, two] = await Promise.all([s.commit(), s.commit()]);
    assert.equal(one, two);
    assert.equal(one.setCookie.filter((c) => c.startsWith('legacy=')).length, 1);
    assert.deepEqual(reader.retired, ['c']);
    await s.update('y', () => 2);
    const three = await s.commit();
    assert.ok(!three.setCookie.some((c) => c.startsWith('legacy=')));
  });

  it('close() closes every reader', async () => {
    const a = new FakeReader(['a']);
    const b = new FakeReader(['b']);
    const m = await createSessions({ keys: [KEY_A], store: new MemoryStore(), migrate: [a, b] });
    await m.close();
    assert.deepEqual([a.closed, b.closed], [1, 1]);
  });

  it('refuses a migrate option that is not a list of readers', async () => {
    const bad: unknown[] = [
      {},
      [null],
      [{ name: 'x', cookieNames: ['a'] }],
      [{ name: '', cookieNames: ['a'], read: async () => null }],
      [{ name: 'x', cookieNames: [], read: async () => null }],
      [{ name: 'x', cookieNames: ['bad name'], read: async () => null }],
    ];
    for (const migrate of bad) {
      await assert.rejects(
        createSessions({ keys: [KEY_A], store: new MemoryStore(), migrate: migrate as MigrationReader[] }),
        (err) => isStatelineError(err, 'SL_ERR_INVALID_OPTION'),
        JSON.stringify(migrate),
      );
    }
  });
});
