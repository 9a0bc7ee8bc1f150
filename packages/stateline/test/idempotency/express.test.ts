import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import express, { type NextFunction, type Request, type Response } from 'express';
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

/** A compressing middleware in the manner of `compression`: wraps `res`, gzips the whole body at `end`. */
function gzipAll(_req: Request, res: Response, next: NextFunction): void {
  const chunks: Buffer[] = [];
  const write = res.write;
  const end = res.end as (this: ServerResponse, ...a: unknown[]) => ServerResponse;
  res.write = function (this: Response, chunk: unknown) {
    chunks.push(Buffer.from(chunk as string));
    return true;
  } as Response['write'];
  res.end = function (this: Response, chunk?: unknown) {
    if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string));
    res.write = write;
    // Already encoded (a replay of a compressed body): sent as it is, as `compression` does.
    if (res.getHeader('content-encoding') !== undefined) return end.call(this, Buffer.concat(chunks));
    const body = gzipSync(Buffer.concat(chunks));
    res.setHeader('content-encoding', 'gzip');
    res.setHeader('content-length', body.byteLength);
    return end.call(this, body);
  } as Response['end'];
  next();
}

describe('express with a compressing middleware mounted first', () => {
  it('[express] the stored body is the compressed one the client got; the replay carries its content-encoding', async () => {
    const store = new MemoryStore();
    const app = express();
    app.use(gzipAll, express.json(), idempotency({ store }));
    let n = 0;
    app.post('/orders', (_req, res) => void res.status(201).json({ order: ++n }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const post = () =>
        fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, {
          method: 'POST',
          headers: { 'idempotency-key': 'gz-1', 'content-type': 'application/json' },
          body: '{}',
        });
      const first = await post();
      assert.equal(first.headers.get('content-encoding'), 'gzip');
      assert.deepEqual(await first.json(), { order: 1 });
      const again = await post();
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(again.headers.get('content-encoding'), 'gzip');
      assert.deepEqual(
        await again.json(),
        { order: 1 },
        'fetch decodes the replay as it decoded the original',
      );
      assert.equal(n, 1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await store.close();
    }
  });
});
