import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express, { type Request } from 'express';
import { idempotency } from '../../src/adapters/express/idempotency.js';
import { MemoryStore } from '../../src/store/index.js';
import { runAdapterScenarios, type Behaviour, type ScenarioConfig } from './adapter.case.js';

async function start(config: ScenarioConfig, behaviour: Behaviour, parser = true) {
  const app = express();
  app.set('env', 'test'); // keeps Express's error handler from printing the thrown error
  if (parser) app.use(express.json());
  app.use((req, _res, next) => {
    const user = req.get('x-user');
    if (user) Object.assign(req, { session: { userId: user, handle: `h-${user}` } });
    next();
  });
  const { requiredFor, ...options } = config;
  app.use(idempotency({ ...options, required: (req: Request) => requiredFor(req.path) }));
  app.all('/{*path}', async (req, res) => {
    const out = await behaviour.handle({
      method: req.method,
      path: req.path,
      user: req.get('x-user'),
      body: req.body,
    });
    res.status(out.status).set(out.headers).send(out.body);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

runAdapterScenarios({ name: 'express', start: (config, behaviour) => start(config, behaviour) });

describe('express specifics', () => {
  it('[express] a body no parser read is refused with 415 before anything is reserved', async () => {
    const store = new MemoryStore();
    const { Behaviour: B } = await import('./adapter.case.js');
    const behaviour = new B(10);
    const app = await start(
      { store, lockTimeout: 1000, maxBodyBytes: 1000, onError: () => {}, requiredFor: () => false },
      behaviour,
      false,
    );
    try {
      const res = await fetch(`${app.url}/orders`, {
        method: 'POST',
        headers: { 'idempotency-key': 'k1', 'content-type': 'text/plain' },
        body: 'hello',
      });
      assert.equal(res.status, 415);
      assert.equal(((await res.json()) as { code: string }).code, 'SL_ERR_IDEMPOTENCY_BODY_UNREADABLE');
      assert.equal(behaviour.count('POST /orders'), 0);
      const empty = await fetch(`${app.url}/optional`, {
        method: 'POST',
        headers: { 'idempotency-key': 'k2' },
      });
      assert.equal(empty.status, 200, 'a request without a body needs no parser');
    } finally {
      await app.close();
      await store.close();
    }
  });
});
