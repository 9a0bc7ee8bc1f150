/**
 * The shop's entities on a real cluster (gateway + 3 instances, `server` sessions, SQLite Store and
 * Log): the limited drop sells exactly its 100 units to many concurrent buyers spread over the
 * instances, the shared list converges on every instance and in every live room, and both keep
 * every acknowledged write when the owner of their keys is SIGKILLed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '@stateline/lab';
import { connect, type MessageFrame, type RealtimeClient } from 'stateline/realtime/client';
import { Client, instanceUrls, SHOP_APP, sleep, within } from './support.js';

const SKU = 'aurora-lamp';
const STOCK = 100;
const USERS = 20;

interface Sold {
  unit: number;
  order: string;
  key: string;
  /** When the answer came (Date.now()). */
  at: number;
}
type Buy = Sold | 'sold-out';
interface DropBody {
  drop: { left: number; sold: number; soldOut: boolean; owner: string; version: number };
}
interface ListBody {
  list: { items: { id: number; text: string; done: boolean }[]; version: number; owner: string };
}

/**
 * One purchase as a careful client makes it: one Idempotency-Key, sent again after a lost answer,
 * a 503 (the owner is being replaced) or a 429 (its mailbox is full), until a definite answer.
 */
async function buy(c: Client, where: string | (() => string)): Promise<Buy> {
  const key = randomUUID();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await c
      .req<{ unit: number; order: { id: string }; code?: string }>('POST', `/api/drop/${SKU}/buy`, {
        base: typeof where === 'string' ? where : where(),
        body: {},
        headers: { 'idempotency-key': key },
      })
      .catch(() => null);
    if (r?.status === 201) return { unit: r.body.unit, order: r.body.order.id, key, at: Date.now() };
    if (r?.status === 409 && r.body.code === 'SL_ERR_SOLD_OUT') return 'sold-out';
    assert.ok(
      !r || r.status === 503 || r.status === 429 || r.status === 502,
      `buy answered ${r?.status} ${r?.text}`,
    );
    assert.ok(Date.now() < deadline, 'a purchase got no definite answer within 30 s');
    await sleep(100);
  }
}

/** A list change sent once (same key on every retry); resolves with the version it made, or null for 404. */
async function edit(
  c: Client,
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<number | null> {
  const key = randomUUID();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await c
      .req<{ version: number }>(method, path, { base, body, headers: { 'idempotency-key': key } })
      .catch(() => null);
    if (r && (r.status === 200 || r.status === 201)) return r.body.version;
    if (r?.status === 404) return null;
    assert.ok(
      !r || r.status >= 500 || r.status === 429,
      `${method} ${path} answered ${r?.status} ${r?.text}`,
    );
    assert.ok(Date.now() < deadline, `${method} ${path} got no answer within 30 s`);
    await sleep(100);
  }
}

/** Logs in `user1…userN`, each on the instance it will use. */
async function users(n: number, urls: string[]): Promise<{ c: Client; base: string }[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const base = urls[i % urls.length]!;
      const c = new Client(base);
      await c.login(`user${i + 1}`);
      return { c, base };
    }),
  );
}

/** Checks the outcome of a sale: exactly the stock sold, each unit once, each in its buyer's orders. */
async function checkSale(cluster: Cluster, results: { c: Client; sold: Buy[] }[]): Promise<void> {
  const sold = results.flatMap((r) => r.sold.filter((s): s is Sold => s !== 'sold-out'));
  assert.equal(sold.length, STOCK, 'exactly the stock was acknowledged');
  assert.deepEqual(
    sold.map((s) => s.unit).sort((a, b) => a - b),
    Array.from({ length: STOCK }, (_, i) => i + 1),
    'every unit sold once',
  );
  for (const { c, sold: mine } of results) {
    const r = await c.req<{ orders: { id: string; idempotencyKey: string }[] }>('GET', '/api/orders', {
      base: cluster.url,
    });
    const listed = new Map(r.body.orders.map((o) => [o.idempotencyKey, o.id]));
    for (const s of mine)
      if (s !== 'sold-out') assert.equal(listed.get(s.key), s.order, 'the order is listed');
    assert.equal(r.body.orders.length, mine.filter((s) => s !== 'sold-out').length, 'no order twice');
  }
  for (const { url } of await instanceUrls(cluster)) {
    const d = await new Client(url).req<DropBody>('GET', `/api/drop/${SKU}`);
    assert.equal(d.status, 200);
    assert.deepEqual([d.body.drop.left, d.body.drop.sold, d.body.drop.soldOut], [0, STOCK, true]);
  }
}

async function owner(cluster: Cluster, path: string, c?: Client): Promise<string> {
  const r = await (c ?? new Client(cluster.url)).req<DropBody & ListBody>('GET', path, { base: cluster.url });
  assert.equal(r.status, 200, r.text);
  return r.body.drop?.owner ?? r.body.list.owner;
}

async function kill(cluster: Cluster, id: string): Promise<void> {
  const r = await fetch(`${cluster.url}/_stateline/instances/${id}/kill`, { method: 'POST' });
  assert.ok(r.status < 300, `kill answered ${r.status}`);
}

describe('shop entities: the limited drop and the shared list on 3 instances', () => {
  let cluster: Cluster;
  const dir = mkdtempSync(join(tmpdir(), 'shop-entities-'));

  /** A fresh cluster on a fresh SQLite file (the drop starts full). */
  async function fresh(): Promise<Cluster> {
    await cluster?.close();
    return startCluster({
      app: SHOP_APP,
      port: 0,
      instances: 3,
      stdio: 'ignore',
      strategy: 'server',
      store: `sqlite:${join(dir, `${randomUUID()}.db`)}`,
      env: { LOG_LEVEL: 'silent', STATELINE_SHOP_USERS: String(USERS) },
    });
  }

  before(async () => {
    cluster = await fresh();
  });
  after(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('300 concurrent purchases from 20 users over 3 instances: exactly 100 sold, each unit once, each in the orders', async () => {
    const urls = (await instanceUrls(cluster)).map((i) => i.url);
    assert.equal(urls.length, 3);
    const buyers = await users(USERS, urls);
    const results = await Promise.all(
      buyers.map(async ({ c, base }) => ({
        c,
        sold: await Promise.all(Array.from({ length: 15 }, () => buy(c, base))),
      })),
    );
    await checkSale(cluster, results);
    // The sold-out refusal is the shop's own problem, not the entity's.
    const again = await buyers[0]!.c.req<{ code: string }>('POST', `/api/drop/${SKU}/buy`, {
      body: {},
      headers: { 'idempotency-key': randomUUID() },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'SL_ERR_SOLD_OUT');
  });

  it('a purchase needs a login and an Idempotency-Key; a retried key gets the same unit and order', async () => {
    cluster = await fresh();
    const anon = await new Client(cluster.url).req<{ code: string }>('POST', `/api/drop/${SKU}/buy`, {
      body: {},
      headers: { 'idempotency-key': 'k' },
    });
    assert.equal(anon.body.code, 'SL_ERR_UNAUTHENTICATED');
    const { c } = (await users(1, [cluster.url]))[0]!;
    const noKey = await c.req<{ code: string }>('POST', `/api/drop/${SKU}/buy`, { body: {} });
    assert.equal(noKey.status, 400);
    assert.equal(noKey.body.code, 'SL_ERR_IDEMPOTENCY_KEY_MISSING');
    const urls = (await instanceUrls(cluster)).map((i) => i.url);
    const send = (base: string) =>
      c.req<{ unit: number; order: { id: string } }>('POST', `/api/drop/${SKU}/buy`, {
        base,
        body: {},
        headers: { 'idempotency-key': 'same-key' },
      });
    const answers = await Promise.all(urls.map(send));
    assert.deepEqual(
      answers.map((a) => [a.status, a.body.unit, a.body.order.id]),
      answers.map(() => [201, 1, answers[0]!.body.order.id]),
    );
    const d = await c.req<DropBody>('GET', `/api/drop/${SKU}`);
    assert.equal(d.body.drop.left, STOCK - 1);
  });

  it('the shared list converges on every instance and in every live room', async () => {
    const urls = (await instanceUrls(cluster)).map((i) => i.url);
    const editors = await users(3, urls);
    const ws = (u: string) => u.replace(/^http/, 'ws') + '/ws';
    const rooms: { client: RealtimeClient; got: MessageFrame[] }[] = editors.map(({ c, base }) => ({
      client: connect(ws(base), { headers: { cookie: c.cookie } }),
      got: [],
    }));
    try {
      for (const r of rooms) {
        r.client.on('message', (m) => r.got.push(m));
        await r.client.join('list:shared');
      }
      const path = '/api/lists/shared';
      const added = await Promise.all(
        editors.flatMap(({ c, base }, i) =>
          Array.from({ length: 10 }, (_, j) =>
            edit(c, base, 'POST', `${path}/items`, { text: `e${i} #${j}` }),
          ),
        ),
      );
      // Everyone ticks and removes items concurrently, on different instances.
      const first = await editors[0]!.c.req<ListBody>('GET', path);
      const ids = first.body.list.items.map((x) => x.id);
      await Promise.all([
        ...ids
          .slice(0, 10)
          .map((id, k) =>
            edit(editors[k % 3]!.c, editors[k % 3]!.base, 'POST', `${path}/items/${id}/toggle`),
          ),
        ...ids
          .slice(20)
          .map((id, k) => edit(editors[k % 3]!.c, editors[k % 3]!.base, 'DELETE', `${path}/items/${id}`)),
      ]);
      const views = await Promise.all(editors.map(({ c, base }) => c.req<ListBody>('GET', path, { base })));
      const canonical = JSON.stringify(views[0]!.body.list.items);
      for (const v of views) {
        assert.equal(JSON.stringify(v.body.list.items), canonical, 'every instance shows the same list');
        assert.equal(v.body.list.version, views[0]!.body.list.version);
      }
      const list = views[0]!.body.list;
      assert.equal(list.items.length, 20);
      assert.equal(list.items.filter((x) => x.done).length, 10);
      assert.equal(new Set(added).size, 30, 'each add made its own version');
      // Each room carried every change once, in version order: replaying it gives the same list.
      await within(5000, async () => rooms.every((r) => r.got.length === list.version));
      for (const r of rooms) {
        const versions = r.got.map((m) => (JSON.parse(m.text) as { version: number }).version);
        assert.deepEqual(
          versions,
          Array.from({ length: list.version }, (_, i) => i + 1),
        );
      }
    } finally {
      for (const r of rooms) r.client.close();
    }
  });

  it('SIGKILL of the owner mid-sale and mid-edit: still exactly 100 sold, no acknowledged edit lost', async () => {
    cluster = await fresh();
    const urls = (await instanceUrls(cluster)).map((i) => i.url);
    const buyers = await users(USERS, urls);
    const victim = await owner(cluster, `/api/drop/${SKU}`);
    // The list's owner is whoever calls it first: make it the drop's owner, so one kill hits both.
    const onVictim = (await instanceUrls(cluster)).find((i) => i.id === victim)!.url;
    const added: { id: number; version: number }[] = [];
    const first = await buyers[0]!.c.req<{ item: { id: number }; version: number }>(
      'POST',
      '/api/lists/shared/items',
      {
        base: onVictim,
        body: { text: 'before the kill' },
      },
    );
    assert.equal(first.status, 201);
    added.push({ id: first.body.item.id, version: first.body.version });
    assert.equal(await owner(cluster, '/api/lists/shared', buyers[0]!.c), victim);

    const survivors = urls.filter((u) => u !== onVictim);
    let killedAt = 0;
    const results = await Promise.all(
      buyers.map(async ({ c }, i) => {
        const sold: Buy[] = [];
        for (let n = 0; n < 15; n++) {
          // After the kill every client goes to a live instance; before it, some to the victim.
          const base = () => (killedAt ? survivors[i % 2]! : urls[i % 3]!);
          sold.push(await buy(c, base));
          // Every other round an add too: 160 of the list's 200 items.
          const key = randomUUID();
          for (; n % 2 === 0;) {
            const r = await c
              .req<{ item: { id: number }; version: number }>('POST', '/api/lists/shared/items', {
                base: base(),
                body: { text: `u${i} ${n}` },
                headers: { 'idempotency-key': key },
              })
              .catch(() => null);
            if (r?.status === 201) {
              added.push({ id: r.body.item.id, version: r.body.version });
              break;
            }
            assert.ok(!r || r.status >= 500 || r.status === 429, `add answered ${r?.status} ${r?.text}`);
            await sleep(100);
          }
          if (i === 0 && n === 1) {
            await kill(cluster, victim);
            killedAt = Date.now();
          }
        }
        return { c, sold };
      }),
    );
    assert.ok(killedAt > 0);
    await checkSale(cluster, results);
    const after = results
      .flatMap((r) => r.sold)
      .filter((x): x is Sold => x !== 'sold-out' && x.at > killedAt)
      .sort((a, b) => a.at - b.at);
    assert.ok(after.length > 0, 'units were sold after the kill, by the new owner');
    console.log(
      `# first purchase after the kill answered ${after[0]!.at - killedAt} ms after it; ${after.length} units sold after it`,
    );
    const view = await buyers[1]!.c.req<ListBody>('GET', '/api/lists/shared', { base: survivors[0] });
    const present = new Set(view.body.list.items.map((x) => x.id));
    assert.deepEqual(
      added.filter((a) => !present.has(a.id)),
      [],
      'every acknowledged add is in the list after the takeover',
    );
    assert.equal(
      new Set(added.map((a) => a.version)).size,
      added.length,
      'no two adds answered with one version',
    );
    assert.notEqual(view.body.list.owner, victim, 'a survivor took the list over');
  });
});
