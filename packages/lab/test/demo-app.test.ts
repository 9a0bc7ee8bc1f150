/**
 * The demo app under the supervisor, without a gateway: two instances on one SQLite file share
 * sessions (same keys) and orders; Idempotency-Key makes a repeated order a replay.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_APP } from '../src/default-app.js';
import { Supervisor } from '../src/supervisor.js';
import { getJson } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'lab-demo-'));
const sup = new Supervisor({
  app: DEFAULT_APP,
  instances: 2,
  handleSignals: false,
  env: {
    STATELINE_STRATEGY: 'server',
    STATELINE_STORE: `sqlite:${join(dir, 'state.db')}`,
    STATELINE_BUS: 'ipc:',
    STATELINE_SESSION_KEYS: randomBytes(32).toString('base64url'),
  },
});
let urls: string[] = [];
before(async () => {
  await sup.start();
  urls = sup.instances().map((i) => i.url!);
});
after(async () => {
  await sup.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Requests with one session cookie, like a browser. */
function client() {
  let cookie = '';
  return async <T>(url: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (cookie) headers.set('cookie', cookie);
    const r = await getJson<T>(url, { ...init, headers });
    const set = r.headers.getSetCookie().find((c) => c.startsWith('sl.sid='));
    if (set) cookie = set.split(';', 1)[0]!;
    return r;
  };
}

describe('demo app', () => {
  it('whoami names the instance, strategy and store; every response carries X-Stateline-Instance', async () => {
    for (const [n, url] of urls.entries()) {
      const r = await getJson<Record<string, unknown>>(`${url}/api/whoami`);
      assert.equal(r.status, 200);
      assert.equal(r.body.instance, `i${n + 1}`);
      assert.equal(r.body.strategy, 'server');
      assert.match(String(r.body.store), /^sqlite:/);
      assert.equal(r.body.user, null);
      assert.equal(r.headers.get('x-stateline-instance'), `i${n + 1}`);
      const missing = await fetch(`${url}/nope`);
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('x-stateline-instance'), `i${n + 1}`);
    }
  });

  it('a session made on one instance is read and updated on the other (same keys, same Store)', async () => {
    const c = client();
    assert.equal(
      (await c<{ counter: number }>(`${urls[0]}/api/counter`, { method: 'POST' })).body.counter,
      1,
    );
    assert.equal(
      (await c<{ counter: number }>(`${urls[1]}/api/counter`, { method: 'POST' })).body.counter,
      2,
    );
    assert.equal((await c<{ counter: number }>(`${urls[0]}/api/counter`)).body.counter, 2);
    await c(`${urls[1]}/api/login`, { method: 'POST', body: JSON.stringify({ user: 'alice' }) });
    assert.equal((await c<{ user: string }>(`${urls[0]}/api/whoami`)).body.user, 'alice');
    assert.equal(
      (await c<{ counter: number }>(`${urls[0]}/api/counter`)).body.counter,
      2,
      'login keeps the data',
    );
  });

  it('orders need an Idempotency-Key; a repeat on another instance is a replay, not a second order', async () => {
    const c = client();
    const count = async () =>
      (await getJson<{ count: number; distinctKeys: number }>(`${urls[0]}/api/orders/count`)).body;
    const before = await count();
    const missing = await c<{ code: string }>(`${urls[0]}/api/orders`, { method: 'POST', body: '{}' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.code, 'SL_ERR_IDEMPOTENCY_KEY_MISSING');

    const key = randomUUID();
    const init = {
      method: 'POST',
      headers: { 'idempotency-key': key },
      body: JSON.stringify({ item: 'tea', qty: 2 }),
    };
    const first = await c<{ order: { id: string; item: string; qty: number } }>(
      `${urls[0]}/api/orders`,
      init,
    );
    assert.equal(first.status, 201);
    assert.deepEqual([first.body.order.item, first.body.order.qty], ['tea', 2]);
    const again = await c<{ order: { id: string } }>(`${urls[1]}/api/orders`, init);
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.order.id, first.body.order.id);
    const other = await c<{ order: { id: string } }>(`${urls[1]}/api/orders`, {
      ...init,
      headers: { 'idempotency-key': randomUUID() },
    });
    assert.notEqual(other.body.order.id, first.body.order.id);
    const after = await count();
    assert.equal(after.count - before.count, 2);
    assert.equal(after.distinctKeys - before.distinctKeys, 2);
  });

  it('/readyz checks the Store and Bus and answers 200 while they are fine', async () => {
    for (const url of urls) assert.equal((await fetch(`${url}/readyz`)).status, 200);
  });
});
