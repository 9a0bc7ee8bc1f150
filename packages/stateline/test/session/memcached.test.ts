import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isStatelineError } from '../../src/errors.js';
import { createSessions } from '../../src/session/index.js';
import { createStore } from '../../src/store/index.js';
import { TestMemcached, memcachedMissing } from '../support/memcached-server.js';
import { uniquePrefix } from '../support/services.js';
import { Jar, KEY_A, request } from './client.js';
import { runSessionConformance } from './session.case.js';

const skip = memcachedMissing();
const shared = skip ? undefined : await TestMemcached.start();
after(async () => {
  await shared?.stop();
});

const prefix = uniquePrefix('sess-mc');
runSessionConformance({
  name: 'server/memcached',
  skip,
  make: (o) =>
    createSessions({
      ...o,
      keys: o.keys ?? [],
      strategy: 'server',
      store: `memcached://${shared!.server}?prefix=${encodeURIComponent(prefix)}`,
    }),
});

describe('sessions on memcached [memcached]', { skip: skip || undefined }, () => {
  it('[memcached] under memory pressure (-m 1) evicted sessions come back anonymous, never an error, and are counted', async () => {
    // 1 MiB of memory; memcached wants its item size at most half of that.
    const small = await TestMemcached.start(['-m', '1', '-I', '512k']);
    const sessions = await createSessions({
      strategy: 'server',
      store: { type: 'memcached', servers: [small.server], itemSize: 512 * 1024 },
      keys: [KEY_A],
    });
    try {
      const payload = 'x'.repeat(2000);
      const jars: Jar[] = [];
      for (let i = 0; i < 3000; i++) {
        const jar = new Jar();
        await request(sessions, jar, async (s) => {
          await s.login(`user-${i}`);
          s.set('payload', payload);
        });
        jars.push(jar);
      }
      const evictions = (await small.stats()).evictions!;
      assert.ok(evictions > 0, 'memcached evicted items');
      let kept = 0;
      let anonymous = 0;
      for (const [i, jar] of jars.entries()) {
        const s = await sessions.load(jar.context());
        if (s.userId === null) {
          anonymous++;
          assert.equal(s.get('payload'), undefined);
        } else {
          assert.equal(s.userId, `user-${i}`);
          kept++;
        }
      }
      assert.ok(anonymous > 0 && kept > 0, `anonymous ${anonymous}, kept ${kept}`);
      assert.equal(sessions.metrics.missing, anonymous, 'every session that came back anonymous is counted');
      assert.equal(sessions.metrics.storeErrors, 0);
    } finally {
      await sessions.close();
      await small.stop();
    }
  });

  for (const [strategy, extra] of [
    ['hybrid', {}],
    ['token', {}],
    ['memory', { replication: 'backup', instanceId: 'i1' }],
  ] as const) {
    it(`[memcached] ${strategy} sessions on memcached without a bus fail at start-up naming the bus`, async () => {
      await assert.rejects(
        createSessions({ strategy, store: `memcached://${shared!.server}`, keys: [KEY_A], ...extra }),
        (e) =>
          isStatelineError(e, 'SL_ERR_INVALID_OPTION') &&
          /needs a bus and memcached has none/.test(e.message) &&
          !e.message.includes('\n'),
      );
    });
  }

  it('[memcached] hybrid sessions on memcached with another bus start', async () => {
    const store = await createStore(
      `memcached://${shared!.server}?prefix=${encodeURIComponent(uniquePrefix('hyb'))}`,
    );
    const sessions = await createSessions({ strategy: 'hybrid', store, bus: 'memory:', keys: [KEY_A] });
    try {
      const jar = new Jar();
      await request(sessions, jar, (s) => s.set('n', 1));
      assert.equal((await sessions.load(jar.context())).get('n'), 1);
    } finally {
      await sessions.close();
      await store.close();
    }
  });
});
