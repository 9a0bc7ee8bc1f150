/**
 * The shop with every contract on a Redis Cluster: sessions, users and orders in the Store, the
 * Bus on sharded pub/sub, the chat history in the Log. Before, a cluster Store spec sent the chat
 * history to per-instance memory; here a user who joins on another instance, later, reads it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { parseConfigs, runLab, startCluster, validateReport } from '@stateline/lab';
import { connect, type MessageFrame } from 'stateline/realtime/client';
import { clusterForFile } from '../../../packages/stateline/test/support/redis-server.js';
import { uniquePrefix } from '../../../packages/stateline/test/support/services.js';
import { Client, instanceUrls, SHOP_APP, within } from './support.js';

const { skip, cluster: redis } = await clusterForFile('shop on redis-cluster');

describe('shop with store, bus and chat log on a Redis Cluster', { skip }, () => {
  it('chat history written through one instance is read by a user who joins later on another', async () => {
    const spec = redis!.spec(`?prefix=${encodeURIComponent(uniquePrefix('shop-cluster'))}`);
    const shop = await startCluster({
      app: SHOP_APP,
      port: 0,
      instances: 3,
      stdio: 'ignore',
      strategy: 'server',
      store: spec,
      bus: spec,
      env: { LOG_LEVEL: 'silent', STATELINE_SHOP_USERS: '3' },
    });
    after(() => shop.close());
    const instances = await instanceUrls(shop);
    assert.equal(instances.length, 3);
    const ws = (u: string) => u.replace(/^http/, 'ws') + '/ws';
    const alice = new Client(shop.url);
    const bob = new Client(shop.url);
    await alice.login('alice');
    await bob.login('bob');
    const texts = [`first ${randomUUID()}`, `second ${randomUUID()}`];
    const a = connect(ws(instances[0]!.url), { headers: { cookie: alice.cookie } });
    try {
      await a.join('lobby');
      for (const t of texts) await a.send('lobby', t);
    } finally {
      a.close();
    }
    const b = connect(ws(instances[2]!.url), { headers: { cookie: bob.cookie } });
    try {
      const got: MessageFrame[] = [];
      b.on('message', (m) => got.push(m));
      await b.join('lobby', { since: 0 });
      await within(5000, async () => texts.every((t) => got.some((m) => m.text === t)));
      const mine = got.filter((m) => texts.includes(m.text));
      assert.deepEqual(
        mine.map((m) => [m.text, m.from]),
        texts.map((t) => [t, 'alice']),
      );
      assert.equal(mine[1]!.offset, mine[0]!.offset + 1, 'one stream, consecutive offsets');
    } finally {
      b.close();
    }
  });

  it('stateline lab runs the shop as hybrid/redis-cluster: nothing lost, stale or twice', async () => {
    // The lab starts a cluster of its own: Store, Bus (near-cache invalidation) and chat Log on it.
    const report = await runLab({
      configs: parseConfigs('hybrid/redis-cluster'),
      durationMs: 6000,
      users: 4,
      instances: 2,
      faults: [],
      seed: 18,
      app: SHOP_APP,
      write: false,
    });
    assert.deepEqual(validateReport(JSON.parse(JSON.stringify(report))), []);
    const run = report.runs[0]!;
    assert.equal(run.skipped, null, `ran: ${run.skipped}`);
    const seen = JSON.stringify({ lost: run.sessionsLostBy, errors: run.errorsByType, orders: run.orders });
    assert.ok(run.cart!.addsAcknowledged >= 3, JSON.stringify(run.cart));
    assert.equal(run.sessionsLost, 0, seen);
    assert.equal(run.lostUpdates, 0, seen);
    assert.equal(run.staleReads, 0, seen);
    assert.equal(run.duplicateOrders, 0, seen);
  });
});
