import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createStore, storeOptionsFromSpec, type Store } from '../../src/store/index.js';
import { exptime, itemKey, RELATIVE_LIMIT_S } from '../../src/store/memcached-layout.js';
import { freePort } from '../support/free-port.js';
import { TestMemcached, memcachedMissing } from '../support/memcached-server.js';
import { uniquePrefix } from '../support/services.js';
import { runStoreConformance } from './store.case.js';

const skip = memcachedMissing();
const one = skip ? undefined : await TestMemcached.start();
const pair = skip ? [] : [await TestMemcached.start(), await TestMemcached.start()];
after(async () => {
  await one?.stop();
  for (const m of pair) await m.stop();
});

/** What memcached does that the contract does not allow, and why (memcached is a cache). */
const differences = [
  'a live record may be evicted before it expires when memory runs short (LRU): it then reads as absent; sessions see a logged-out user, counted in metrics.missing (test/session/memcached.test.ts)',
  'a per-owner index is one item and may be evicted too: indexMembers then misses members whose records still live',
  'a lost server loses its records; with several servers, its keys fail as SL_ERR_STORE_UNAVAILABLE until it is back, empty (memcached keeps nothing on disk)',
  "expiry instants come from this process's clock, not the server's (memcached has no clock to ask): instances need synchronised clocks",
];

runStoreConformance({
  backend: 'memcached',
  skip,
  differences,
  make: (prefix) => createStore({ type: 'memcached', servers: [one!.server], prefix }),
});

runStoreConformance({
  backend: 'memcached-2',
  skip,
  differences,
  make: (prefix) => createStore({ type: 'memcached', servers: pair.map((m) => m.server), prefix }),
});

describe('memcached layout', () => {
  it('parses memcached:// specs: servers, default port, Stateline query options', () => {
    assert.deepEqual(storeOptionsFromSpec('memcached://10.0.0.1:11311,cache-2?prefix=app:&timeout=500'), {
      type: 'memcached',
      servers: ['10.0.0.1:11311', 'cache-2:11211'],
      prefix: 'app:',
      timeout: 500,
    });
    for (const bad of [
      'memcached://',
      'memcached:host',
      'memcached://u@h:1',
      'memcached://h:1/db',
      'memcached://h:1?ttl=5',
    ])
      assert.throws(
        () => storeOptionsFromSpec(bad),
        (e) => isStatelineError(e, 'SL_ERR_INVALID_SPEC'),
        bad,
      );
  });

  it('keeps plain keys and hashes long, spaced, control, non-ASCII and #-leading ones', () => {
    assert.equal(itemKey('sl:cart:1'), 'sl:cart:1');
    assert.equal(itemKey('x'.repeat(250)), 'x'.repeat(250));
    for (const bad of ['x'.repeat(251), 'a b', 'a\nb', 'a\u0001', 'ключ', '#plain']) {
      const k = itemKey(bad);
      assert.match(k, /^#[A-Za-z0-9_-]{43}$/, JSON.stringify(bad));
    }
    assert.notEqual(itemKey('a b'), itemKey('a  b'));
  });

  it('uses relative seconds up to 30 days and an absolute unix time beyond', () => {
    const now = 1_700_000_000_000;
    assert.equal(exptime(null, now), 0);
    assert.equal(exptime(now - 1, now), -1);
    assert.equal(exptime(now + 1, now), 2);
    assert.equal(exptime(now + 1500, now), 3);
    assert.equal(exptime(now + (RELATIVE_LIMIT_S - 1) * 1000, now), RELATIVE_LIMIT_S);
    const far = now + 40 * 86_400_000;
    assert.equal(exptime(far, now), Math.ceil(far / 1000) + 1);
    assert.ok(exptime(far, now) > RELATIVE_LIMIT_S);
  });
});

describe('memcached store [memcached]', { skip: skip || undefined }, () => {
  let store: Store;
  const prefix = uniquePrefix('mc-own');
  before(async () => {
    store = await createStore(`memcached://${one!.server}?prefix=${encodeURIComponent(prefix)}`);
  });
  after(async () => {
    await store.close();
  });

  it('[memcached] a spec string opens a memcached store with its prefix; plain keys are stored as they are', async () => {
    assert.equal(store.backend, 'memcached');
    await store.create('spec', 'v', { ttl: 60_000 });
    const rec = (await store.get('spec'))!;
    const raw = await one!.command(`get ${prefix}spec`);
    assert.match(
      raw,
      new RegExp(
        `^VALUE ${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}spec 0 \\d+\\r\\n1:${rec.expiresAt}:v\\r\\nEND`,
      ),
    );
  });

  it('[memcached] a ttl beyond 30 days is sent as an absolute unix time that memcached honours', async () => {
    const days40 = 40 * 86_400_000;
    await store.create('far', 'x', { ttl: days40 });
    const rec = (await store.get('far'))!;
    assert.ok(rec.expiresAt! >= Date.now() + days40 - 5000);
    // Read as relative seconds, 3.4e6 would be a date in 1970: memcached would have dropped it at once.
    assert.match(await one!.command(`get ${prefix}far`), /^VALUE /);
    assert.equal(await store.touch('far', days40 * 2), true);
    assert.match(await one!.command(`get ${prefix}far`), /^VALUE /);
  });

  it('[memcached] a value over the item size is refused with SL_ERR_STORE_VALUE_TOO_LARGE and nothing is stored', async () => {
    const big = 'x'.repeat(1024 * 1024);
    await assert.rejects(
      store.create('big', big),
      (e) => isStatelineError(e, 'SL_ERR_STORE_VALUE_TOO_LARGE') && /1048576-byte item size/.test(e.message),
    );
    assert.equal(await store.get('big'), null);
    await store.create('grow', 'small');
    await assert.rejects(store.update('grow', big), (e) =>
      isStatelineError(e, 'SL_ERR_STORE_VALUE_TOO_LARGE'),
    );
    assert.equal((await store.get('grow'))?.value, 'small');
    const small = await createStore({ type: 'memcached', servers: [one!.server], prefix, itemSize: 4096 });
    try {
      await assert.rejects(small.create('four-k', 'y'.repeat(4000)), (e) =>
        isStatelineError(e, 'SL_ERR_STORE_VALUE_TOO_LARGE'),
      );
      assert.equal((await small.create('under', 'y'.repeat(3000))).ok, true);
    } finally {
      await small.close();
    }
  });

  it('[memcached] an item written by someone else is reported, not misread', async () => {
    await one!.command(`set ${prefix}foreign 0 0 5\r\nhello`);
    await assert.rejects(
      store.get('foreign'),
      (e) => isStatelineError(e, 'SL_ERR_STORE_UNAVAILABLE') && /not a Stateline record/.test(e.message),
    );
  });

  it('[memcached] bad specs, options and arguments are refused', async () => {
    await assert.rejects(createStore('memcached://'), (e) => isStatelineError(e, 'SL_ERR_INVALID_SPEC'));
    await assert.rejects(createStore(`memcached://${one!.server}?itemsize=1`), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_SPEC'),
    );
    await assert.rejects(createStore({ type: 'memcached', servers: ['no-port'] }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_OPTION'),
    );
    await assert.rejects(store.update('x', 'y', { ifVersion: 1.5 }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
    );
    await assert.rejects(store.create('x', 'y', { ttl: Number.NaN }), (e) =>
      isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
    );
  });

  it('[memcached] opening against a dead port rejects with SL_ERR_STORE_UNAVAILABLE within the timeout', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(
      createStore({ type: 'memcached', servers: [`127.0.0.1:${port}`], timeout: 300 }),
      (e) => isStatelineError(e, 'SL_ERR_STORE_UNAVAILABLE'),
    );
    assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
  });
});

describe('memcached store, two servers [memcached]', { skip: skip || undefined }, () => {
  it('[memcached] keys spread over both servers; a lost server loses only its records', async () => {
    const a = await TestMemcached.start();
    const b = await TestMemcached.start();
    const store = await createStore({
      type: 'memcached',
      servers: [a.server, b.server],
      prefix: uniquePrefix('mc-spread'),
      timeout: 500,
    });
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `spread-${i}`);
      for (const k of keys) assert.equal((await store.create(k, k)).ok, true);
      const onA = (await a.stats()).curr_items!;
      const onB = (await b.stats()).curr_items!;
      assert.equal(onA + onB, 60);
      assert.ok(onA > 5 && onB > 5, `spread ${onA}/${onB}`);
      await b.kill();
      let kept = 0;
      let failed = 0;
      for (const k of keys) {
        try {
          if ((await store.get(k))?.value === k) kept++;
        } catch (err) {
          assert.ok(isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE'), String(err));
          failed++;
        }
      }
      assert.equal(kept, onA, 'every record on the live server still reads');
      assert.equal(failed, onB, "the lost server's records fail as unavailable, never as another value");
    } finally {
      await store.close();
      await a.stop();
      await b.stop();
    }
  });
});
