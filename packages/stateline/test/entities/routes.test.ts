/**
 * The entity route helper of each adapter (node, Express, Fastify, Hono) over one `Entities`:
 * results, problem+json errors (409 with the app's reason, 429 with Retry-After, 404) and the
 * Idempotency-Key header.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { entityRoutes as expressRoutes } from '../../src/adapters/express/index.js';
import { entityRoutes as fastifyRoutes } from '../../src/adapters/fastify/index.js';
import { entityRoutes as honoRoutes } from '../../src/adapters/hono/index.js';
import { entityRoutes as nodeRoutes } from '../../src/adapters/node/index.js';
import { createEntities, type Entities } from '../../src/entities/index.js';
import { MemoryLog } from '../../src/log/memory-log.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { Drop } from './drop.js';

/** A Log 20 ms away, so calls arriving over HTTP pile up in the mailbox. */
class SlowLog extends MemoryLog {
  override async append(...args: Parameters<MemoryLog['append']>): ReturnType<MemoryLog['append']> {
    await new Promise((r) => setTimeout(r, 20));
    return super.append(...args);
  }
}

type Start = (entities: Entities) => Promise<{ base: string; close: () => Promise<void> }>;

const listen = async (server: http.Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
};

const ADAPTERS: Record<string, Start> = {
  node: (entities) => {
    const routes = nodeRoutes(entities);
    return listen(
      http.createServer((req, res) => void routes(req, res).then((done) => done || res.writeHead(404).end())),
    );
  },
  express: (entities) => {
    const app = express();
    app.use(express.json());
    app.use(expressRoutes(entities));
    return listen(http.createServer(app));
  },
  fastify: async (entities) => {
    const app = Fastify();
    await app.register(fastifyRoutes(entities), { prefix: '/entities' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      close: () => app.close(),
    };
  },
  hono: async (entities) => {
    const app = new Hono();
    app.use('/entities/*', honoRoutes(entities));
    const server = await new Promise<http.Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as http.Server));
    });
    return {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  },
};

for (const [name, start] of Object.entries(ADAPTERS)) {
  describe(`entityRoutes [${name}]`, () => {
    const closing: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of closing.reverse()) await c();
    });

    it(`[${name}] POST /entities/:type/:key/:method answers the result or a problem`, async () => {
      const entities = await createEntities({
        store: new MemoryStore(),
        log: new SlowLog(),
        instanceId: name,
        entities: [Drop],
        mailboxLimit: 1,
      });
      closing.push(() => entities.close());
      const { base, close } = await start(entities);
      closing.push(close);
      const call = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        fetch(`${base}/entities${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });

      const ok = await call('/drop/sku%2F1/buy', { userId: 'u1' }, { 'idempotency-key': '"o-1"' });
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { result: { left: 99 } });
      const replay = await call('/drop/sku%2F1/buy', { userId: 'u1' }, { 'idempotency-key': 'o-1' });
      assert.deepEqual(await replay.json(), { result: { left: 99 } }, 'same key: applied once');
      assert.deepEqual(await (await call('/drop/sku%2F1/peek', {})).json(), {
        result: { left: 99, sold: 1 },
      });

      const unknown = await call('/nope/k/buy', {});
      assert.equal(unknown.status, 404);
      assert.match(unknown.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(((await unknown.json()) as { code: string }).code, 'SL_ERR_ENTITY_UNKNOWN');

      const burst = await Promise.all(
        Array.from({ length: 20 }, (_, i) => call('/drop/b/buy', { userId: `b${i}` })),
      );
      const busy = burst.filter((r) => r.status === 429);
      assert.ok(busy.length > 0, 'a mailbox of 1 overflows');
      assert.equal(busy[0]!.headers.get('retry-after'), '1');
      assert.equal(((await busy[0]!.json()) as { code: string }).code, 'SL_ERR_ENTITY_BUSY');

      for (let i = 0; i < 100; i++)
        assert.equal((await call('/drop/s/buy', { userId: `s${i}` })).status, 200);
      const soldOut = await call('/drop/s/buy', { userId: 'late' });
      assert.equal(soldOut.status, 409);
      const p = (await soldOut.json()) as { code: string; reason: string };
      assert.deepEqual([p.code, p.reason], ['SL_ERR_ENTITY_REJECTED', 'SOLD_OUT']);
    });
  });
}
