import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { withIdempotency } from '../../src/adapters/node/idempotency.js';
import { MemoryStore } from '../../src/store/index.js';
import { runAdapterScenarios, type Behaviour, type ScenarioConfig } from './adapter.case.js';

const pathOf = (req: http.IncomingMessage) => (req.url ?? '/').split('?', 1)[0]!;

async function listen(handler: http.RequestListener) {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

async function start(config: ScenarioConfig, behaviour: Behaviour) {
  const { requiredFor, ...options } = config;
  const handler = withIdempotency(
    { ...options, required: (req) => requiredFor(pathOf(req)) },
    async (req, res) => {
      const user = req.headers['x-user'] as string | undefined;
      const body =
        req.body && req.body.byteLength > 0 ? (JSON.parse(req.body.toString()) as unknown) : undefined;
      const out = await behaviour.handle({ method: req.method ?? 'GET', path: pathOf(req), user, body });
      res.writeHead(out.status, out.headers).end(out.body);
    },
  );
  return listen((req, res) => {
    const user = req.headers['x-user'];
    if (typeof user === 'string') Object.assign(req, { session: { userId: user, handle: `h-${user}` } });
    handler(req, res);
  });
}

runAdapterScenarios({ name: 'node', start });

describe('node:http specifics', () => {
  it('[node] a handler that throws after writing the head gets its socket closed; retries replay a 500, never run it again', async () => {
    const store = new MemoryStore();
    let runs = 0;
    const errors: unknown[] = [];
    const app = await listen(
      withIdempotency({ store, onError: (e) => errors.push(e) }, (_req, res) => {
        runs++;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        throw new Error('broke mid-response');
      }),
    );
    try {
      const call = () =>
        fetch(`${app.url}/x`, { method: 'POST', headers: { 'idempotency-key': 'p-1' }, body: 'a' }).then(
          (r) => r.text(),
        );
      await assert.rejects(call());
      assert.equal(errors.length, 1);
      const again = await fetch(`${app.url}/x`, {
        method: 'POST',
        headers: { 'idempotency-key': 'p-1' },
        body: 'a',
      });
      assert.equal(again.status, 500);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(((await again.json()) as { code: string }).code, 'SL_ERR_INTERNAL');
      assert.equal(runs, 1);
    } finally {
      await app.close();
      await store.close();
    }
  });

  it('[node] GET requests keep their stream; covered methods get the body as req.body', async () => {
    const store = new MemoryStore();
    const seen: string[] = [];
    const app = await listen(
      withIdempotency({ store }, async (req, res) => {
        if (req.body) seen.push(`body:${req.body.toString()}`);
        else {
          let text = '';
          for await (const chunk of req) text += String(chunk);
          seen.push(`stream:${text}`);
        }
        res.end('ok');
      }),
    );
    try {
      await fetch(`${app.url}/a`, { method: 'POST', body: 'posted' });
      await fetch(`${app.url}/a`, { method: 'PUT', body: 'put' });
      assert.deepEqual(seen, ['body:posted', 'stream:put']);
    } finally {
      await app.close();
      await store.close();
    }
  });
});
