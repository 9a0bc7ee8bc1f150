/**
 * Oversized request bodies through the gateway (issue 12, defect 1): one client posting 10 MB
 * bodies in a loop while 20 users browse. Every oversized request gets 413, no legitimate request
 * fails, and no instance is ever taken out of rotation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '@stateline/lab';
import { cleanUpAfter } from '../../../packages/stateline/test/support/cleanup.js';
import { needService, REDIS_URL, uniquePrefix } from '../../../packages/stateline/test/support/services.js';
import { Client, SHOP_APP } from './support.js';

const skip = await needService('redis');
const prefix = uniquePrefix('shop-bodies');
const LOAD_MS = 10_000;
const USERS = 20;

/** `stateline_gateway_health_transitions_total{to="down"}` summed over instances. */
async function downTransitions(cluster: Cluster): Promise<number> {
  const text = await (await fetch(`${cluster.url}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    const m = /^stateline_gateway_health_transitions_total\{[^}]*to="down"[^}]*\} (\d+)/.exec(line);
    if (m) n += Number(m[1]);
  }
  return n;
}

describe('oversized bodies through the gateway', () => {
  let cluster: Cluster | undefined;
  before(async () => {
    if (skip) return;
    cluster = await startCluster({
      app: SHOP_APP,
      port: 0,
      instances: 3,
      stdio: 'ignore',
      strategy: 'server',
      store: `${REDIS_URL}?prefix=${prefix}`,
      env: { LOG_LEVEL: 'silent', STATELINE_SHOP_USERS: String(USERS) },
    });
  });
  after(() => cluster?.close());

  it('straight to an instance: a 10 MB body gets its 413, never a reset before the answer', async (t) => {
    if (skip || !cluster) return t.skip(skip || 'no cluster');
    const instance = cluster.gateway.instances()[0]!.url;
    const body = Buffer.alloc(10_000_000, 0x20);
    const outcomes: Record<string, number> = {};
    for (let k = 0; k < 20; k++) {
      let key: string;
      try {
        const r = await fetch(`${instance}/api/cart/items`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        key = `${r.status} ${(JSON.parse(await r.text()) as { code?: string }).code}`;
      } catch (err) {
        key = `error ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`;
      }
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    assert.deepEqual(outcomes, { '413 SL_ERR_PAYLOAD_TOO_LARGE': 20 });
  });

  it('10 MB posts in a loop for 10 s while 20 users browse: all 413, 0 legitimate errors, 0 instances down', async (t) => {
    if (skip || !cluster) return t.skip(skip || 'no cluster');
    const base = cluster.url;
    const downBefore = await downTransitions(cluster);
    const until = Date.now() + LOAD_MS;
    const oversized: Record<string, number> = {};
    const failures: string[] = [];
    let legitimate = 0;

    // The attacker: 10 MB bodies (over the gateway's 1 MiB limit) and 200 kB ones (under it, over
    // the shop's 16 KiB, so an instance refuses them early), on a session route and on checkout.
    const attacker = (async () => {
      const body = Buffer.alloc(10_000_000, 0x20);
      for (let k = 0; Date.now() < until; k++) {
        const path = k % 2 === 0 ? '/api/cart/items' : '/api/orders';
        let key: string;
        try {
          // fetch: the gateway answers its own 413s, which name no instance (Client insists on one).
          const r = await fetch(`${base}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `big-${k}` },
            body: k % 3 === 2 ? body.subarray(0, 200_000) : body,
          });
          const text = await r.text();
          key = `${r.status} ${r.headers.get('content-type')} ${(JSON.parse(text) as { code?: string }).code}`;
        } catch (err) {
          key = `error ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`;
        }
        oversized[key] = (oversized[key] ?? 0) + 1;
      }
    })();

    const user = async (n: number) => {
      const c = new Client(base, `user${n}`);
      const expect = async (method: string, path: string, body?: unknown) => {
        try {
          const r = await c.req(method, path, body === undefined ? {} : { body });
          legitimate++;
          if (r.status !== 200) failures.push(`${method} ${path}: ${r.status} ${r.text.slice(0, 160)}`);
        } catch (err) {
          failures.push(`${method} ${path}: ${(err as Error).message}`);
        }
      };
      await expect('POST', '/api/login', { username: `user${n}`, password: 'stateline' });
      while (Date.now() < until) {
        await expect('GET', '/api/products');
        await expect('POST', '/api/cart/items', { productId: 'mug', qty: 1 });
        await expect('GET', '/api/cart');
      }
    };
    await Promise.all([attacker, ...Array.from({ length: USERS }, (_, i) => user(i + 1))]);

    const attempts = Object.values(oversized).reduce((a, b) => a + b, 0);
    t.diagnostic(`oversized: ${JSON.stringify(oversized)}; legitimate requests: ${legitimate}`);
    assert.ok(attempts >= 5, `the attacker got through several bodies (${attempts})`);
    assert.deepEqual(
      Object.keys(oversized),
      ['413 application/problem+json SL_ERR_PAYLOAD_TOO_LARGE'],
      'every oversized request: 413 problem+json',
    );
    assert.ok(legitimate >= USERS * 3, `the users kept browsing (${legitimate} requests)`);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} legitimate requests failed`);
    assert.equal((await downTransitions(cluster)) - downBefore, 0, 'no instance went down');
    assert.deepEqual(
      cluster.gateway.instances().map((i) => i.state),
      ['up', 'up', 'up'],
    );
  });
});
cleanUpAfter('redis', skip);
