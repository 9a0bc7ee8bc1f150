/**
 * The Store conformance suite: every backend runs exactly these tests.
 * `make(prefix)` must open a new Store (a new connection where the backend has connections).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import type { Store } from '../../src/store/index.js';
import { sleep } from '../support/free-port.js';
import { uniquePrefix } from '../support/services.js';

export interface StoreCase {
  /** Shown in every test name, e.g. `redis` or `sqlite`. */
  backend: string;
  make: (prefix: string) => Promise<Store>;
  /** The backend keeps state per object (memory): concurrency runs on one object, not four. */
  perObjectState?: string;
  /** Skip the whole suite, with the reason printed (a missing service). */
  skip?: string | false;
  /**
   * Where the backend departs from the contract, each with its reason: printed with the suite. The
   * tests here still run unchanged; a difference is what they cannot provoke (a cache evicting).
   */
  differences?: string[];
}

export function runStoreConformance(c: StoreCase): void {
  describe(`Store conformance [${c.backend}]`, { skip: c.skip || undefined }, () => {
    let store: Store;
    const prefix = uniquePrefix(`store-${c.backend}`);
    const opened: Store[] = [];
    const open = async (p = prefix) => {
      const s = await c.make(p);
      opened.push(s);
      return s;
    };

    before(async () => {
      for (const d of c.differences ?? [])
        process.stdout.write(`# [${c.backend}] differs from the Store contract: ${d}\n`);
      store = await open();
    });
    after(async () => {
      for (const s of opened) await s.close();
    });

    it(`[${c.backend}] get of an absent key is null`, async () => {
      assert.equal(await store.get('absent'), null);
    });

    it(`[${c.backend}] create then get returns value, version 1 and no expiry`, async () => {
      assert.deepEqual(await store.create('a', 'hello'), { ok: true, version: 1 });
      assert.deepEqual(await store.get('a'), { value: 'hello', version: 1, expiresAt: null });
    });

    it(`[${c.backend}] create on a live key fails with "exists" and never overwrites`, async () => {
      await store.create('b', 'first');
      assert.deepEqual(await store.create('b', 'second'), { ok: false, reason: 'exists' });
      assert.equal((await store.get('b'))?.value, 'first');
    });

    it(`[${c.backend}] create with ttl sets expiresAt`, async () => {
      const before = Date.now();
      await store.create('ttl', 'x', { ttl: 60_000 });
      const rec = await store.get('ttl');
      assert.ok(rec?.expiresAt, 'has an expiry');
      assert.ok(
        rec.expiresAt >= before + 59_000 && rec.expiresAt <= Date.now() + 61_000,
        `expiresAt ${rec.expiresAt}`,
      );
    });

    it(`[${c.backend}] update bumps the version; ifVersion is compare-and-set`, async () => {
      await store.create('c', 'v1');
      assert.deepEqual(await store.update('c', 'v2'), { ok: true, version: 2 });
      assert.deepEqual(await store.update('c', 'v3', { ifVersion: 2 }), { ok: true, version: 3 });
      assert.deepEqual(await store.update('c', 'stale', { ifVersion: 2 }), {
        ok: false,
        reason: 'conflict',
        version: 3,
      });
      assert.deepEqual(await store.get('c'), { value: 'v3', version: 3, expiresAt: null });
    });

    it(`[${c.backend}] update never creates: absent and deleted keys are "missing"`, async () => {
      assert.deepEqual(await store.update('never', 'x'), { ok: false, reason: 'missing' });
      assert.deepEqual(await store.update('never', 'x', { ifVersion: 1 }), { ok: false, reason: 'missing' });
      assert.equal(await store.get('never'), null);
      await store.create('d', 'x');
      assert.equal(await store.delete('d'), true);
      assert.deepEqual(await store.update('d', 'resurrected', { ifVersion: 1 }), {
        ok: false,
        reason: 'missing',
      });
      assert.equal(await store.get('d'), null);
      assert.equal(await store.delete('d'), false);
    });

    it(`[${c.backend}] update ttl: omitted keeps, null clears, a number replaces`, async () => {
      await store.create('e', 'x', { ttl: 60_000 });
      const first = (await store.get('e'))!.expiresAt!;
      await store.update('e', 'y');
      assert.equal((await store.get('e'))!.expiresAt, first);
      await store.update('e', 'z', { ttl: null });
      assert.equal((await store.get('e'))!.expiresAt, null);
      await store.update('e', 'w', { ttl: 120_000 });
      assert.ok((await store.get('e'))!.expiresAt! > first + 50_000);
    });

    it(`[${c.backend}] update with \`previous\` writes exactly the value, whatever changed`, async () => {
      // Large enough for Redis to send only the difference; every other backend ignores `previous`.
      const base = JSON.stringify({ a: 'x'.repeat(700), n: 'ü😀\u00e9', hits: 1, z: 'y'.repeat(300) });
      await store.create('p', base, { ttl: 60_000 });
      const first = (await store.get('p'))!.expiresAt!;
      const steps: [string, string, number | null | undefined][] = [
        ['"hits":1', '"hits":2', undefined], // same length, expiry kept
        ['"hits":2', '"hits":3', 120_000], // same length, new expiry
        ['"hits":3', '"hits":30', undefined], // longer
        ['"hits":30', '"hits":4', null], // shorter, expiry removed
        ['ü😀', 'ü😁', 60_000], // inside a surrogate pair
        ['"a":"xxx', '"a":"', undefined], // near the start
        ['yyy"}', '"}', undefined], // at the end
      ];
      let prev = base;
      let version = 1;
      for (const [from, to, ttl] of steps) {
        const next = prev.replace(from, to);
        const res = await store.update('p', next, {
          ifVersion: version,
          previous: prev,
          ...(ttl !== undefined ? { ttl } : {}),
        });
        assert.deepEqual(res, { ok: true, version: version + 1 }, `${from} → ${to}`);
        const got = (await store.get('p'))!;
        assert.equal(got.value, next, `${from} → ${to}`);
        assert.equal(got.version, version + 1);
        if (ttl === undefined && version === 1) assert.equal(got.expiresAt, first);
        if (ttl === null) assert.equal(got.expiresAt, null);
        if (typeof ttl === 'number') assert.ok(Math.abs(got.expiresAt! - (Date.now() + ttl)) < 5_000);
        prev = next;
        version++;
      }
      // A stale compare-and-set with `previous` still conflicts and writes nothing.
      assert.deepEqual(
        await store.update('p', prev.replace('"hits":4', '"hits":5'), {
          ifVersion: version - 1,
          previous: prev,
        }),
        { ok: false, reason: 'conflict', version },
      );
      assert.equal((await store.get('p'))!.value, prev);
      // A `previous` that is not the stored value's length: the value is still written whole.
      const whole = prev.replace('"hits":4', '"hits":6');
      assert.deepEqual(await store.update('p', whole, { ifVersion: version, previous: `${prev}??` }), {
        ok: true,
        version: version + 1,
      });
      assert.equal((await store.get('p'))!.value, whole);
      await store.delete('p');
      assert.deepEqual(await store.update('p', whole, { ifVersion: version + 1, previous: whole }), {
        ok: false,
        reason: 'missing',
      });
    });

    it(`[${c.backend}] records expire; an expired key can be created again and not updated`, async () => {
      await store.create('short', 'x', { ttl: 150 });
      assert.equal((await store.get('short'))?.value, 'x');
      await sleep(400);
      assert.equal(await store.get('short'), null);
      assert.deepEqual(await store.update('short', 'y'), { ok: false, reason: 'missing' });
      assert.deepEqual(await store.create('short', 'again'), { ok: true, version: 1 });
    });

    it(`[${c.backend}] touch moves the expiry and keeps value and version`, async () => {
      await store.create('t', 'x', { ttl: 200 });
      await store.update('t', 'y');
      assert.equal(await store.touch('t', 60_000), true);
      await sleep(400);
      const rec = await store.get('t');
      assert.equal(rec?.value, 'y');
      assert.equal(rec?.version, 2);
      assert.equal(await store.touch('t', null), true);
      assert.equal((await store.get('t'))?.expiresAt, null);
      assert.equal(await store.touch('nope', 1000), false);
      assert.equal(await store.get('nope'), null);
    });

    it(`[${c.backend}] odd keys and large unicode values round-trip`, async () => {
      const big = 'ü€😀{}:"\\\n'.repeat(10_000);
      for (const key of ['with space', 'a:b:c', '{tag}x', 'ключ', 'x'.repeat(300)]) {
        assert.equal((await store.create(key, big)).ok, true, key);
        assert.equal((await store.get(key))?.value, big, key);
      }
      assert.equal((await store.create('empty', '')).ok, true);
      assert.equal((await store.get('empty'))?.value, '');
    });

    it(`[${c.backend}] the key prefix isolates stores`, async () => {
      const other = await open(uniquePrefix(`store-${c.backend}-other`));
      await store.create('shared-name', 'mine');
      assert.equal(await other.get('shared-name'), null);
      assert.equal((await other.create('shared-name', 'theirs')).ok, true);
      assert.equal((await store.get('shared-name'))?.value, 'mine');
      await other.indexAdd('owner', 'm', null);
      assert.deepEqual(await store.indexMembers('owner'), []);
    });

    it(`[${c.backend}] the per-owner index adds, lists, refreshes, removes and prunes expired members`, async () => {
      const now = Date.now();
      await store.indexAdd('u1', 's1', now + 60_000);
      await store.indexAdd('u1', 's2', null);
      await store.indexAdd('u1', 'gone', now - 1);
      await store.indexAdd('u1', 'soon', now + 150);
      await store.indexAdd('u2', 'other', null);
      const sort = (xs: { member: string }[]) => [...xs].sort((a, b) => a.member.localeCompare(b.member));
      assert.deepEqual(sort(await store.indexMembers('u1')), [
        { member: 's1', expiresAt: now + 60_000 },
        { member: 's2', expiresAt: null },
        { member: 'soon', expiresAt: now + 150 },
      ]);
      await sleep(300);
      assert.deepEqual(
        sort(await store.indexMembers('u1')).map((e) => e.member),
        ['s1', 's2'],
      );
      await store.indexAdd('u1', 's1', now + 120_000);
      assert.equal((await store.indexMembers('u1')).find((e) => e.member === 's1')?.expiresAt, now + 120_000);
      await store.indexRemove('u1', 's1');
      await store.indexRemove('u1', 'not-there');
      assert.deepEqual(
        (await store.indexMembers('u1')).map((e) => e.member),
        ['s2'],
      );
      assert.deepEqual(await store.indexMembers('nobody'), []);
      assert.deepEqual(
        (await store.indexMembers('u2')).map((e) => e.member),
        ['other'],
      );
    });

    it(`[${c.backend}] 200 concurrent CAS loops through 4 connections end at exactly 200`, async () => {
      const clients = c.perObjectState
        ? [store, store, store, store]
        : [store, await open(), await open(), await open()];
      await store.create('counter', '0');
      let conflicts = 0;
      const loop = async (s: Store) => {
        for (;;) {
          const rec = (await s.get('counter'))!;
          const res = await s.update('counter', String(Number(rec.value) + 1), { ifVersion: rec.version });
          if (res.ok) return;
          assert.equal(res.reason, 'conflict');
          conflicts++;
        }
      };
      await Promise.all(Array.from({ length: 200 }, (_, i) => loop(clients[i % 4]!)));
      const rec = await store.get('counter');
      assert.equal(rec?.value, '200');
      assert.equal(rec?.version, 201);
      if (!c.perObjectState) assert.ok(conflicts > 0, 'the loops really raced');
    });

    it(`[${c.backend}] 200 concurrent CAS loops on a 4 KB value, sending \`previous\`, end at exactly 200`, async () => {
      const clients = c.perObjectState
        ? [store, store, store, store]
        : [store, await open(), await open(), await open()];
      const pad = 'c'.repeat(4000);
      await store.create('big-counter', JSON.stringify({ pad, n: 0 }));
      const loop = async (s: Store) => {
        for (;;) {
          const rec = (await s.get('big-counter'))!;
          const { n } = JSON.parse(rec.value) as { n: number };
          const value = JSON.stringify({ pad, n: n + 1 });
          const res = await s.update('big-counter', value, { ifVersion: rec.version, previous: rec.value });
          if (res.ok) return;
          assert.equal(res.reason, 'conflict');
        }
      };
      await Promise.all(Array.from({ length: 200 }, (_, i) => loop(clients[i % 4]!)));
      const rec = (await store.get('big-counter'))!;
      assert.deepEqual(JSON.parse(rec.value), { pad, n: 200 });
      assert.equal(rec.version, 201);
    });

    it(`[${c.backend}] a closed store refuses calls with SL_ERR_CLOSED`, async () => {
      const s = await c.make(prefix);
      await s.close();
      await assert.rejects(s.get('a'), (err) => isStatelineError(err, 'SL_ERR_CLOSED'));
      await s.close();
    });
  });
}
