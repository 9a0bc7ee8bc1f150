/**
 * Memory backends: 3 `createEntities` in this process sharing one MemoryStore and MemoryLog, each
 * behind its own HTTP server on port 0 and forwarding to the others over HTTP. The owner cannot be
 * SIGKILLed here (the Store and the Log live in the process it would kill): the SIGKILL and
 * SIGSTOP cases run on SQLite, Redis and PostgreSQL (sqlite/redis/postgres.test.ts), and the
 * in-process takeover and fencing cases are in entities.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { entityRoutes } from '../../src/adapters/node/entities.js';
import {
  createEntities,
  defineEntity,
  type AnyEntityDefinition,
  type Entities,
} from '../../src/entities/index.js';
import { MemoryLog } from '../../src/log/memory-log.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { Drop } from './drop.js';
import { post, purchaseLoad } from './fleet.js';

/**
 * `n` instances sharing one MemoryStore and MemoryLog, each behind its own HTTP server on port 0
 * and forwarding to the others; `close` ends them.
 */
async function memoryFleet(n: number, entities: AnyEntityDefinition[], leaseTtl: string) {
  const store = new MemoryStore();
  const log = new MemoryLog();
  const servers: http.Server[] = [];
  const fleet: Entities[] = [];
  const urls: string[] = [];
  const secret = randomUUID();
  for (let i = 1; i <= n; i++) {
    const app: { routes?: ReturnType<typeof entityRoutes> } = {};
    const server = http.createServer((req, res) => void app.routes?.(req, res));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/entities`;
    const e = await createEntities({
      store,
      log,
      instanceId: `m${i}`,
      entities,
      leaseTtl,
      forward: { url, secret },
    });
    fleet.push(e);
    app.routes = entityRoutes(e, { secret });
    urls.push(url);
  }
  const close = async () => {
    for (const e of fleet) await e.close();
    for (const s of servers) s.close();
  };
  return { fleet, urls, close };
}

describe('entities over 3 instances in one process [memory]', () => {
  let close = async () => {};
  after(() => close());

  it('[memory] 1,000 purchases of 100 units from 200 clients: exactly 100 acknowledged, 0 oversold', async () => {
    const { fleet, urls, ...rest } = await memoryFleet(3, [Drop], '1s');
    close = rest.close;
    const r = await purchaseLoad(() => urls, 'sku-m', 1000, 200);
    const state = (await post(urls[2]!, '/drop/sku-m/orders', {})).body.result as {
      left: number;
      sold: string[];
    };
    assert.equal(r.acked.size, 100);
    assert.equal(r.soldOut.size, 900);
    assert.equal(state.sold.length, 100);
    assert.deepEqual(new Set(state.sold), r.acked);
    assert.equal(fleet.filter((e) => e.owned().includes('drop:sku-m')).length, 1, 'one owner');
  });
});

describe('a call forwarded to the owner arrives as it was made [memory]', () => {
  const Probe = defineEntity('probe', {
    initial: () => ({ calls: [] as string[] }),
    handlers: {
      hit(state, args: unknown) {
        state.calls.push(args === undefined ? 'undefined' : JSON.stringify(args));
        return state.calls.length;
      },
      calls: { read: true, run: (state) => state.calls },
    },
  });
  let close = async () => {};
  after(() => close());

  it('no args stay undefined, and a key with spaces and quotes is applied once on a retry', async () => {
    const { fleet, ...rest } = await memoryFleet(2, [Probe], '5s');
    close = rest.close;
    const [owner, other] = fleet as [Entities, Entities];
    assert.equal(await owner.call('probe', 'k', 'hit', undefined), 1);
    assert.deepEqual(owner.owned(), ['probe:k']);
    assert.equal(await other.call('probe', 'k', 'hit', undefined), 2, 'forwarded');
    const key = 'order "7" of ada\\lovelace';
    assert.equal(await other.call('probe', 'k', 'hit', { n: 1 }, { idempotencyKey: key }), 3);
    assert.equal(await other.call('probe', 'k', 'hit', { n: 1 }, { idempotencyKey: key }), 3, 'replayed');
    assert.equal(await owner.call('probe', 'k', 'hit', null), 4);
    assert.deepEqual(await other.call('probe', 'k', 'calls', undefined), [
      'undefined',
      'undefined',
      '{"n":1}',
      'null',
    ]);
    assert.equal(other.owned().length, 0);
  });
});
