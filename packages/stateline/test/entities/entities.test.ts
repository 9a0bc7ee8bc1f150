/** One process, memory backends: mailbox, durability, idempotency, snapshots, takeover and fencing. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import { isStatelineError } from '../../src/errors.js';
import { createEntities, EntityRejectedError, type Entities } from '../../src/entities/index.js';
import { MemoryLog } from '../../src/log/memory-log.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { Drop } from './drop.js';

describe('entities (memory, one process)', () => {
  const opened: Entities[] = [];
  const start = async (store: MemoryStore, log: MemoryLog, instanceId: string, extra = {}) => {
    const e = await createEntities({ store, log, instanceId, entities: [Drop], leaseTtl: '1s', ...extra });
    opened.push(e);
    return e;
  };
  after(async () => {
    for (const e of opened) await e.close();
  });

  it('300 concurrent buys of 100 units: exactly 100 acknowledged, each in the Log', async () => {
    const store = new MemoryStore();
    const log = new MemoryLog();
    const e = await start(store, log, 'i1');
    const out = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) => e.call('drop', 'sku-1', 'buy', { userId: `u${i}` })),
    );
    const ok = out.filter((o) => o.status === 'fulfilled');
    const refused = out
      .filter((o) => o.status === 'rejected')
      .map((o) => (o as PromiseRejectedResult).reason as unknown);
    assert.equal(ok.length, 100);
    assert.ok(refused.every((r) => r instanceof EntityRejectedError && r.reason === 'SOLD_OUT'));
    assert.deepEqual(await e.call('drop', 'sku-1', 'peek'), { left: 0, sold: 100 });
    // Durable: another instance rebuilds the same orders from snapshot + Log.
    await e.close();
    const next = await start(store, log, 'i2');
    const orders = (await next.call('drop', 'sku-1', 'orders')) as { sold: string[] };
    const acked = out.flatMap((o, i) => (o.status === 'fulfilled' ? [`u${i}`] : []));
    assert.deepEqual(new Set(orders.sold), new Set(acked));
    assert.equal(orders.sold.length, 100);
  });

  it('a retried call with the same idempotency key is applied once and answers the first answer', async () => {
    const e = await start(new MemoryStore(), new MemoryLog(), 'i1');
    const [a, b] = await Promise.all([
      e.call('drop', 'k', 'buy', { userId: 'u1' }, { idempotencyKey: 'order-1' }),
      e.call('drop', 'k', 'buy', { userId: 'u1' }, { idempotencyKey: 'order-1' }),
    ]);
    const c = await e.call('drop', 'k', 'buy', { userId: 'u1' }, { idempotencyKey: 'order-1' });
    assert.deepEqual([a, b, c], [{ left: 99 }, { left: 99 }, { left: 99 }]);
    assert.deepEqual(await e.call('drop', 'k', 'peek'), { left: 99, sold: 1 });
  });

  it('a new owner rebuilds from snapshot + Log, idempotency keys included', async () => {
    const store = new MemoryStore();
    const log = new MemoryLog();
    const a = await start(store, log, 'a');
    for (let i = 0; i < 25; i++)
      await a.call('drop', 'r', 'buy', { userId: `u${i}` }, { idempotencyKey: `o${i}` });
    await a.close();
    assert.ok(await store.get('entity-snap:drop:r'), 'a snapshot was written');
    const kept = await log.read('entity:drop:r', 0, { limit: 1000 });
    assert.equal(kept.complete, false, 'the Log was trimmed behind the snapshot');
    assert.ok(kept.entries.length < 25, `${kept.entries.length} entries kept`);
    const b = await start(store, log, 'b');
    assert.deepEqual(await b.call('drop', 'r', 'peek'), { left: 75, sold: 25 });
    assert.deepEqual(
      await b.call('drop', 'r', 'buy', { userId: 'u3' }, { idempotencyKey: 'o3' }),
      { left: 96 },
      'the first answer, replayed',
    );
    assert.deepEqual(await b.call('drop', 'r', 'peek'), { left: 75, sold: 25 });
  });

  it('a former owner whose lease was taken is fenced: its call fails and never reaches the state', async () => {
    const store = new MemoryStore();
    const log = new MemoryLog();
    const old = await start(store, log, 'old', { callTimeout: '400ms' });
    await old.call('drop', 'f', 'buy', { userId: 'before' });
    // As if `old` were frozen past its lease: the record says it expired.
    const rec = (await store.get('entity-lease:drop:f'))!;
    await store.update('entity-lease:drop:f', JSON.stringify({ ...JSON.parse(rec.value), expiresAt: 0 }));
    const next = await start(store, log, 'next');
    await next.call('drop', 'f', 'buy', { userId: 'new-owner' });
    await assert.rejects(old.call('drop', 'f', 'buy', { userId: 'stale' }), (e) =>
      isStatelineError(e, 'SL_ERR_ENTITY_FENCED'),
    );
    await assert.rejects(
      old.call('drop', 'f', 'buy', { userId: 'stale-2' }),
      (e) => isStatelineError(e, 'SL_ERR_ENTITY_UNAVAILABLE') || isStatelineError(e, 'SL_ERR_ENTITY_TIMEOUT'),
    );
    assert.deepEqual(await next.call('drop', 'f', 'peek'), { left: 98, sold: 2 });
    const users = (await log.read('entity:drop:f', 0)).entries.flatMap((x) =>
      (JSON.parse(x.data) as { e: { a: { userId: string } }[] }).e.map((c) => c.a.userId),
    );
    assert.deepEqual(users, ['before', 'new-owner']);
  });

  it('a full mailbox answers SL_ERR_ENTITY_BUSY with Retry-After; unknown names are 404s', async () => {
    const e = await start(new MemoryStore(), new MemoryLog(), 'i1', { mailboxLimit: 5 });
    await e.call('drop', 'b', 'peek');
    const out = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => e.call('drop', 'b', 'buy', { userId: `u${i}` })),
    );
    const busy = out.filter(
      (o) => o.status === 'rejected' && isStatelineError(o.reason, 'SL_ERR_ENTITY_BUSY'),
    );
    assert.ok(busy.length > 0 && busy.length < 50, `${busy.length} busy`);
    assert.equal((busy[0] as PromiseRejectedResult).reason.status, 429);
    await assert.rejects(e.call('nope', 'x', 'buy'), (err) => isStatelineError(err, 'SL_ERR_ENTITY_UNKNOWN'));
    await assert.rejects(e.call('drop', 'x', 'nope'), (err) =>
      isStatelineError(err, 'SL_ERR_ENTITY_UNKNOWN'),
    );
  });

  it('events reach subscribers once the call is durable', async () => {
    const bus = new MemoryBus();
    const e = await start(new MemoryStore(), new MemoryLog(), 'i1', { bus });
    const seen: unknown[] = [];
    const off = await e.subscribe('drop', 's', (ev) => seen.push(ev));
    await e.call('drop', 's', 'buy', { userId: 'u1' });
    await e.call('drop', 's', 'buy', { userId: 'u2' });
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, [{ left: 99 }, { left: 98 }]);
    await off();
  });
});
