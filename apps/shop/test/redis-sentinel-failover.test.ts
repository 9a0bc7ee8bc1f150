/**
 * The shop on a Redis primary watched by three sentinels (Store, Bus and chat Log on the same
 * `redis+sentinel://` spec), under load from logged-in users, with the server and the hybrid
 * strategy. The primary is SIGKILLed; the sentinels promote the replica. No instance is restarted:
 * each follows the promotion by itself within the sentinels' down-after time + 2 s, and the only
 * errors users see meanwhile are 503 + Retry-After. Redis replicates asynchronously, so a write
 * acknowledged just before the kill may not have reached the replica: the test measures and
 * prints how many acknowledged cart adds each failover lost instead of promising none.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startCluster, type Cluster } from '@stateline/lab';
import {
  DOWN_AFTER_MS,
  sentinelForFile,
  type TestSentinelSet,
} from '../../../packages/stateline/test/support/redis-sentinel.js';
import { uniquePrefix } from '../../../packages/stateline/test/support/services.js';
import { Client, instanceUrls, SHOP_APP, sleep, within } from './support.js';

const { skip, set } = await sentinelForFile('shop on redis-sentinel');

/**
 * The bound the issue sets: the Sentinel's own time (down-after, then the election and the
 * promotion, as observed by polling a sentinel) plus 2 s for the instances to follow. node-redis
 * pauses 1 s in its topology loop after a failed attempt, which is most of the follow time.
 */
const FOLLOW_LIMIT_MS = 2000;
/** Scheduling slack on a shared 2-core machine (load average 20–35 while the helpers run). */
const SLACK_MS = 1000;
const USERS = ['alice', 'bob', 'carol'];
const PRODUCTS = ['mug', 'tee', 'cap', 'sticker'];

interface UserLoad {
  client: Client;
  /** Adds answered 200, per product. */
  acked: Map<string, number>;
  /** Adds answered 503 (their outcome is unknown to the user). */
  refused: number;
  /** Answers that were neither 200 nor 503 + Retry-After. */
  wrong: string[];
  /** When the last 503 came, when the first 200 after it, and when the last 200. */
  lastError: number;
  firstOkAfter: number;
  lastOk: number;
}

async function drive(u: UserLoad, running: () => boolean, killedAt: () => number): Promise<void> {
  let i = 0;
  while (running()) {
    const productId = PRODUCTS[i++ % PRODUCTS.length]!;
    const r = await u.client.req('POST', '/api/cart/items', { body: { productId, qty: 1 } });
    if (r.status === 200) {
      u.acked.set(productId, (u.acked.get(productId) ?? 0) + 1);
      u.lastOk = Date.now();
      if (u.lastError > u.firstOkAfter) u.firstOkAfter = u.lastOk;
    } else if (r.status === 503 && Number(r.headers.get('retry-after')) >= 1) {
      u.refused++;
      u.lastError = Date.now();
      await sleep(50);
    } else {
      u.wrong.push(`${r.status} ${r.text.slice(0, 120)}`);
    }
    if (killedAt() === 0) await sleep(10);
  }
}

describe('shop on Redis Sentinel: the primary is SIGKILLed under load', { skip: skip || undefined }, () => {
  for (const strategy of ['server', 'hybrid'] as const) {
    it(
      `[${strategy}] instances follow the promotion by themselves; only 503 + Retry-After meanwhile`,
      {
        timeout: 120_000,
      },
      async () => {
        const prefix = uniquePrefix(`shop-sentinel-${strategy}`);
        const spec = set!.spec(`?prefix=${encodeURIComponent(prefix)}&timeout=500`);
        const cluster = await startCluster({
          app: SHOP_APP,
          port: 0,
          instances: 2,
          stdio: 'ignore',
          strategy,
          store: spec,
          bus: spec,
          env: { LOG_LEVEL: 'silent' },
        });
        let killed: Awaited<ReturnType<TestSentinelSet['killPrimary']>> | undefined;
        try {
          await failover(strategy, cluster, (k) => (killed = k));
        } finally {
          await cluster.close();
          if (killed) await set!.rejoin(killed);
        }
      },
    );
  }
});

async function failover(
  strategy: string,
  cluster: Cluster,
  onKill: (node: Awaited<ReturnType<TestSentinelSet['killPrimary']>>) => void,
): Promise<void> {
  const before = await instanceUrls(cluster);
  assert.equal(before.length, 2);
  const users: UserLoad[] = [];
  for (const name of USERS) {
    const client = new Client(cluster.url);
    await client.login(name);
    users.push({ client, acked: new Map(), refused: 0, wrong: [], lastError: 0, firstOkAfter: 0, lastOk: 0 });
  }
  let running = true;
  let killedAt = 0;
  let promotedAt = 0;
  const load = users.map((u) =>
    drive(
      u,
      () => running,
      () => killedAt,
    ),
  );
  try {
    await sleep(1500);
    await set!.waitReplicated();
    const oldPrimary = await set!.primaryPort();
    onKill(await set!.killPrimary());
    killedAt = Date.now();
    // Load goes on until the sentinels promoted the replica and every user was answered 200
    // after that (and after their last 503), then a little longer.
    await within(30_000, async () => (await set!.primaryPort()) !== oldPrimary, 50);
    promotedAt = Date.now();
    await within(30_000, async () => users.every((u) => u.lastOk > Math.max(u.lastError, promotedAt)), 50);
    await sleep(1000);
  } finally {
    running = false;
    await Promise.all(load);
  }

  const refused = users.reduce((n, u) => n + u.refused, 0);
  const recovered = Math.max(...users.map((u) => (u.lastError >= killedAt ? u.firstOkAfter - killedAt : 0)));
  let acked = 0;
  let lost = 0;
  let unknownApplied = 0;
  const sessionsLost: string[] = [];
  for (const u of users) {
    const cart = await u.client.req<{ items: { productId: string; qty: number }[] }>('GET', '/api/cart');
    if (cart.status !== 200) {
      sessionsLost.push(`${cart.status} ${cart.text.slice(0, 120)}`);
      continue;
    }
    for (const p of PRODUCTS) {
      const want = u.acked.get(p) ?? 0;
      const have = cart.body.items.find((l) => l.productId === p)?.qty ?? 0;
      acked += want;
      lost += Math.max(0, want - have);
      unknownApplied += Math.max(0, have - want);
    }
  }
  process.stdout.write(
    `# [${strategy}] sentinel failover: replica promoted ${promotedAt - killedAt} ms and users served again ${recovered} ms after the SIGKILL (down-after ${DOWN_AFTER_MS} ms, follow limit ${FOLLOW_LIMIT_MS} ms), ` +
      `${refused} answers 503 + Retry-After, ${acked} acknowledged cart adds, ${lost} of them lost, ` +
      `${unknownApplied} refused adds applied anyway\n`,
  );
  assert.deepEqual(
    users.flatMap((u) => u.wrong),
    [],
    'no answer but 200 or 503 + Retry-After',
  );
  assert.deepEqual(sessionsLost, [], 'every session survived the failover');
  assert.ok(
    recovered <= promotedAt - killedAt + FOLLOW_LIMIT_MS + SLACK_MS,
    `served again ${recovered - (promotedAt - killedAt)} ms after the promotion`,
  );
  assert.ok(acked > 0);
  // Async replication: the window is the writes acknowledged after the last sync, a few at most.
  assert.ok(lost <= users.length, `${lost} acknowledged adds lost`);
  assert.deepEqual(await instanceUrls(cluster), before, 'the same instances, none restarted');
}
