/**
 * Chaos: the `stateline up` cluster (gateway + supervisor, 3 instances of fixtures/cluster-app.ts,
 * `server` strategy on a temporary SQLite file, `ipc:` bus). 20 clients do GETs and
 * Idempotency-Key POSTs for 15 s (and at least 4 s after the restart) while i2 is SIGKILLed
 * through the control API and started again.
 *
 * The client is what a careful real client does: a GET is sent once (the gateway's retry on
 * another instance must hide the kill); a POST that fails (network error, 5xx, or 409 "in flight"
 * with Retry-After) is sent again with the SAME key and body until it gets its answer.
 * Asserted: no GET failed, every order got its 201, and the Store holds exactly one order per key.
 * A second test kills the instance of one slow order after the order was written, so the retry
 * must find that order instead of making another.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { startCluster, type Cluster } from '../src/cluster.js';
import type { ClusterStatus } from '../src/control.js';
import { CLUSTER_APP, getJson, sleep } from './support.js';

const CLIENTS = 20;
const DURATION = 15_000;
/** Load after the restarted i2 is back, however long its start took on a busy machine. */
const AFTER_RESTART = 4_000;
const KILL_AT = 4_000;
const RESTART_AT = 6_000;
/** Longest a client keeps retrying one order: longer than the app's 5 s idempotency lock. */
const ORDER_DEADLINE = 20_000;

const dir = mkdtempSync(join(tmpdir(), 'lab-chaos-'));
let cluster: Cluster;
before(async () => {
  cluster = await startCluster({
    app: CLUSTER_APP,
    port: 0,
    instances: 3,
    strategy: 'server',
    store: `sqlite:${join(dir, 'state.db')}`,
    bus: 'ipc:',
    stdio: 'inherit',
  });
});
after(async () => {
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Tally {
  gets: number;
  getErrors: string[];
  orders: number;
  orderFailures: string[];
  postRetries: number;
  missingInstanceHeader: number;
  keys: Set<string>;
  byInstance: Map<string, number>;
}

async function runClient(n: number, url: string, until: () => number, t: Tally): Promise<void> {
  let cookie = '';
  const headers = (extra: Record<string, string> = {}) => ({ ...extra, ...(cookie ? { cookie } : {}) });
  const note = (res: Response) => {
    const who = res.headers.get('x-stateline-instance');
    if (!who) t.missingInstanceHeader++;
    else t.byInstance.set(who, (t.byInstance.get(who) ?? 0) + 1);
    const set = res.headers.getSetCookie().find((c) => c.startsWith('sl.sid='));
    if (set) cookie = set.split(';', 1)[0]!;
  };
  // Before the chaos starts: log in, so orders are scoped to this user.
  const login = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json' }),
    body: JSON.stringify({ user: `client-${n}` }),
  });
  assert.equal(login.status, 200);
  note(login);

  while (Date.now() < until()) {
    // /api/work keeps requests in flight, so the kill lands on some.
    for (const path of ['/api/whoami', '/api/counter', '/api/work?ms=50']) {
      t.gets++;
      try {
        const res = await fetch(`${url}${path}`, { headers: headers() });
        note(res);
        const text = await res.text();
        if (res.status !== 200) t.getErrors.push(`GET ${path} → ${res.status} ${text.slice(0, 200)}`);
      } catch (err) {
        t.getErrors.push(`GET ${path} → ${(err as Error).message} ${String((err as Error).cause ?? '')}`);
      }
    }
    const key = randomUUID();
    const body = JSON.stringify({ item: `tea-${n}`, qty: 1, work: 50 });
    t.keys.add(key);
    t.orders++;
    const deadline = Date.now() + ORDER_DEADLINE;
    for (let attempt = 0; ; attempt++) {
      let outcome: string;
      let wait = 100;
      try {
        const res = await fetch(`${url}/api/orders`, {
          method: 'POST',
          headers: headers({ 'idempotency-key': key, 'content-type': 'application/json' }),
          body,
        });
        note(res);
        const text = await res.text();
        if (res.status === 201) break;
        outcome = `${res.status} ${text.slice(0, 200)}`;
        if (res.status === 409 && res.headers.get('retry-after'))
          wait = Number(res.headers.get('retry-after')) * 1000;
        else if (res.status < 500) {
          t.orderFailures.push(`order ${key}: ${outcome}`);
          break;
        }
      } catch (err) {
        outcome = `${(err as Error).message}`;
      }
      if (Date.now() + wait > deadline) {
        t.orderFailures.push(`order ${key}: gave up after ${attempt + 1} attempts, last ${outcome}`);
        break;
      }
      t.postRetries++;
      await sleep(wait);
    }
    await sleep(10);
  }
}

it(
  '20 clients, 15 s, i2 SIGKILLed and restarted: no failed request, one order per key',
  { timeout: 60_000 },
  async () => {
    const t: Tally = {
      gets: 0,
      getErrors: [],
      orders: 0,
      orderFailures: [],
      postRetries: 0,
      missingInstanceHeader: 0,
      keys: new Set(),
      byInstance: new Map(),
    };
    const start = Date.now();
    let end = start + DURATION;
    const clients = Array.from({ length: CLIENTS }, (_, n) => runClient(n, cluster.url, () => end, t));

    const control = async (action: string) => {
      const r = await getJson<{ instance: ClusterStatus['instances'][number] }>(
        `${cluster.url}/_stateline/instances/i2/${action}`,
        { method: 'POST' },
      );
      assert.equal(r.status, 200, `${action}: ${JSON.stringify(r.body)}`);
      return r.body.instance;
    };
    await sleep(KILL_AT);
    const before = cluster.status().instances.find((i) => i.id === 'i2')!;
    const servedBeforeKill = t.byInstance.get('i2') ?? 0;
    const killed = await control('kill');
    assert.equal(killed.state, 'down');
    await sleep(RESTART_AT - KILL_AT);
    const restarted = await control('start');
    assert.equal(restarted.state, 'up');
    assert.notEqual(restarted.pid, before.pid);
    const servedAtRestart = t.byInstance.get('i2') ?? 0;
    end = Math.max(end, Date.now() + AFTER_RESTART);

    await Promise.all(clients);
    const counted = await getJson<{ count: number; distinctKeys: number; recovered: number }>(
      `${cluster.url}/api/orders/count`,
    );
    const summary = {
      gets: t.gets,
      orders: t.orders,
      postRetries: t.postRetries,
      byInstance: Object.fromEntries(t.byInstance),
      store: counted.body,
    };
    process.stdout.write(`# chaos: ${JSON.stringify(summary)}\n`);

    assert.deepEqual(t.getErrors, [], 'no GET failed: the gateway hid the kill');
    assert.deepEqual(t.orderFailures, [], 'every order got its 201');
    assert.equal(t.missingInstanceHeader, 0, 'every response names its instance');
    assert.equal(t.keys.size, t.orders);
    assert.equal(counted.body.count, t.keys.size, 'exactly one order per key in the Store');
    assert.equal(counted.body.distinctKeys, t.keys.size, 'no key has two orders');
    // The run really was what it claims: load on i2 before the kill, and on the new i2 after.
    assert.ok(servedBeforeKill > 0, 'i2 served before it was killed');
    assert.ok((t.byInstance.get('i2') ?? 0) > servedAtRestart, 'the restarted i2 served again');
    assert.ok(t.orders >= CLIENTS * 5, `a real load (${t.orders} orders)`);
  },
);

it(
  'an order whose instance dies after writing it is answered once its lock expires, without a second order',
  { timeout: 60_000 },
  async () => {
    const count = async () =>
      (
        await getJson<{ count: number; distinctKeys: number; recovered: number }>(
          `${cluster.url}/api/orders/count`,
        )
      ).body;
    const before = await count();
    const key = randomUUID();
    const send = () =>
      fetch(`${cluster.url}/api/orders`, {
        method: 'POST',
        headers: { 'idempotency-key': key, 'content-type': 'application/json' },
        body: JSON.stringify({ item: 'slow', work: 3000 }),
      });
    const first = send();
    // The instance that holds it: the only one with a request in flight.
    let victim: string | undefined;
    for (let i = 0; i < 200 && !victim; i++) {
      victim = cluster.gateway.instances().find((g) => g.inflight > 0)?.id;
      if (!victim) await sleep(10);
    }
    assert.ok(victim, 'the order reached an instance');
    await sleep(300); // the order is written; the handler is "working"
    assert.equal((await count()).count, before.count + 1, 'the order exists before the crash');
    const killed = await getJson(`${cluster.url}/_stateline/instances/${victim}/kill`, { method: 'POST' });
    assert.equal(killed.status, 200);

    // What the client sees, and what it does: retry the same key until it has its answer.
    let res = await first;
    const seen: number[] = [res.status];
    const deadline = Date.now() + ORDER_DEADLINE;
    while (res.status !== 201 && Date.now() < deadline) {
      assert.ok(res.status === 409 || res.status >= 500, `retryable answer (${res.status})`);
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
      res = await send();
      seen.push(res.status);
    }
    assert.equal(res.status, 201, `answered in the end (saw ${seen.join(', ')})`);
    assert.ok(seen.includes(409), "the dead instance's reservation held the key until its lock expired");
    const after = await count();
    assert.equal(after.count, before.count + 1, 'still one order for the key');
    assert.equal(after.distinctKeys, before.distinctKeys + 1);
    assert.equal(after.recovered, before.recovered + 1, 'the re-run found the order the dead instance wrote');
    const again = await send();
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true', 'and from now on it is a replay');
    assert.equal(
      (await getJson(`${cluster.url}/_stateline/instances/${victim}/start`, { method: 'POST' })).status,
      200,
    );
  },
);
