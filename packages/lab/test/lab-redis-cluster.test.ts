/**
 * `redis-cluster` configs: the lab starts a 3-master Redis Cluster of its own (never the shared
 * 6379), hands its spec to the Store and the Bus, restarts one master for `store-restart`, and
 * removes every node afterwards.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createBus } from 'stateline/bus';
import { createLog } from 'stateline/log';
import { createStore } from 'stateline/store';
import { parseConfig } from '../src/run/config.js';
import { findOnPath, prepareStore } from '../src/run/store-server.js';

const IN_CI = process.env.CI === 'true' || process.env.CI === '1';
const missing = findOnPath('redis-server') === null || findOnPath('redis-cli') === null;
if (missing && !IN_CI)
  console.log('# SKIP no redis-server/redis-cli on PATH: the lab redis-cluster test is skipped');

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('lab on a Redis Cluster', () => {
  it('parses server/redis-cluster', () => {
    assert.equal(parseConfig('server/redis-cluster').store, 'redis-cluster');
  });

  it(
    'prepares a cluster whose spec is the Store, the Bus and the Log; restarts a master; removes it',
    { skip: missing && !IN_CI, timeout: 60_000 },
    async () => {
      const handle = await prepareStore('redis-cluster', { postgres: 'postgres://unused' });
      assert.ok(!('skipped' in handle), 'skipped' in handle ? handle.skipped : '');
      const ports = [...handle.spec.matchAll(/:(\d+)/g)].map((m) => Number(m[1]));
      try {
        assert.match(handle.spec, /^redis-cluster:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
        assert.equal(handle.bus, handle.spec);
        assert.ok(!ports.includes(6379), 'never the shared Redis');
        assert.equal(handle.target, `redis-cluster:${ports[0]}`);
        const store = await createStore(handle.spec);
        const bus = await createBus(handle.bus!);
        const log = await createLog(handle.spec);
        try {
          assert.equal(store.backend, 'redis-cluster');
          assert.equal(bus.backend, 'redis-cluster');
          assert.equal(log.backend, 'redis-cluster');
          for (let i = 0; i < 30; i++) await store.create(`k${i}`, 'v');
          await handle.restart!();
          // AOF: a restarted master keeps its records.
          for (let i = 0; i < 30; i++) assert.equal((await store.get(`k${i}`))?.value, 'v');
        } finally {
          await Promise.all([store.close(), bus.close(), log.close()]);
        }
      } finally {
        await handle.close();
      }
      for (const p of ports) assert.equal(await listening(p), false, `node ${p} is gone`);
    },
  );
});
