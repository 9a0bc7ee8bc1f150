import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify, { type FastifyRequest } from 'fastify';
import { idempotency } from '../../src/adapters/fastify/idempotency.js';
import { MemoryStore } from '../../src/store/index.js';
import { runAdapterScenarios, type Behaviour, type ScenarioConfig } from './adapter.case.js';

const pathOf = (req: FastifyRequest) => req.url.split('?', 1)[0]!;

async function start(config: ScenarioConfig, behaviour: Behaviour) {
  const app = Fastify();
  app.addHook('onRequest', async (req) => {
    const user = req.headers['x-user'];
    if (typeof user === 'string') Object.assign(req, { session: { userId: user, handle: `h-${user}` } });
  });
  const { requiredFor, ...options } = config;
  await app.register(idempotency({ ...options, required: (req) => requiredFor(pathOf(req)) }));
  app.all('/*', async (req, reply) => {
    const user = req.headers['x-user'];
    const out = await behaviour.handle({
      method: req.method,
      path: pathOf(req),
      user: typeof user === 'string' ? user : undefined,
      body: req.body,
    });
    return reply.code(out.status).headers(out.headers).send(out.body);
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

runAdapterScenarios({ name: 'fastify', start });

describe('fastify specifics', () => {
  it('[fastify] a streamed reply is saved when the stream ends and replayed', async () => {
    const store = new MemoryStore();
    const app = Fastify();
    let runs = 0;
    await app.register(idempotency({ store }));
    app.post('/export', async (_req, reply) => {
      runs++;
      return reply.type('text/csv').send(Readable.from(['id,name\n', '1,apple\n', '2,pear\n']));
    });
    try {
      const call = () =>
        app.inject({ method: 'POST', url: '/export', headers: { 'idempotency-key': 'csv-1' }, payload: {} });
      const first = await call();
      assert.equal(first.body, 'id,name\n1,apple\n2,pear\n');
      const again = await call();
      assert.equal(again.body, first.body);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal(again.headers['content-type'], 'text/csv');
      assert.equal(runs, 1);
    } finally {
      await app.close();
      await store.close();
    }
  });

  it('[fastify] the hooks reach routes registered in a child scope', async () => {
    const app = Fastify();
    let runs = 0;
    await app.register(idempotency({ store: 'memory:' }));
    await app.register(async (scope) => {
      scope.post('/nested', async () => ({ run: ++runs }));
    });
    const call = () =>
      app.inject({ method: 'POST', url: '/nested', headers: { 'idempotency-key': 'n-1' }, payload: {} });
    assert.equal((await call()).json().run, 1);
    assert.equal((await call()).json().run, 1);
    await app.close();
  });
});
