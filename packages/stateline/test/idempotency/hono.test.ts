import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { idempotency } from '../../src/adapters/hono/idempotency.js';
import { MemoryStore } from '../../src/store/index.js';
import { runAdapterScenarios, type Behaviour, type ScenarioConfig } from './adapter.case.js';

async function start(config: ScenarioConfig, behaviour: Behaviour) {
  const app = new Hono<{ Variables: { session: { userId: string; handle: string } } }>();
  app.onError((err, c) => c.json({ error: 'handler failed', detail: err.message }, 500));
  app.use(async (c, next) => {
    const user = c.req.header('x-user');
    if (user) c.set('session', { userId: user, handle: `h-${user}` });
    await next();
  });
  const { requiredFor, ...options } = config;
  app.use(idempotency({ ...options, required: (c) => requiredFor(c.req.path) }));
  app.all('*', async (c) => {
    const body = c.req.method === 'GET' ? undefined : await c.req.json();
    const out = await behaviour.handle({
      method: c.req.method,
      path: c.req.path,
      user: c.req.header('x-user'),
      body,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(out.headers))
      for (const v of [value].flat()) headers.append(name, v);
    return new Response(out.body, { status: out.status, headers });
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

runAdapterScenarios({ name: 'hono', start });

describe('hono specifics', () => {
  it('[hono] the handler still reads the body the fingerprint read; app.request works without a server', async () => {
    const store = new MemoryStore();
    const app = new Hono();
    let runs = 0;
    app.use(idempotency({ store }));
    app.post('/echo', async (c) => c.json({ run: ++runs, got: await c.req.json() }, 201));
    const call = () =>
      app.request('/echo', {
        method: 'POST',
        headers: { 'idempotency-key': 'e-1', 'content-type': 'application/json' },
        body: '{"a":1}',
      });
    const first = await call();
    assert.deepEqual(await first.json(), { run: 1, got: { a: 1 } });
    const again = await call();
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(await again.json(), { run: 1, got: { a: 1 } });
    await store.close();
  });

  it('[hono] a 204 is replayed without a body', async () => {
    const store = new MemoryStore();
    const app = new Hono();
    app.use(idempotency({ store }));
    app.post('/noop', (c) => c.body(null, 204));
    const call = () => app.request('/noop', { method: 'POST', headers: { 'idempotency-key': 'n-1' } });
    assert.equal((await call()).status, 204);
    const again = await call();
    assert.equal(again.status, 204);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body, null);
    await store.close();
  });
});
