/**
 * Session and idempotency middleware stacked the way docs/idempotency.md recommends: both wrap the
 * response, and neither may undo the other (the status the handler sets is the one replayed).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import express from 'express';
import { withIdempotency, withSession } from '../../src/adapters/node/index.js';
import { idempotency, session } from '../../src/adapters/express/index.js';
import { createSessions } from '../../src/session/index.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Session } from '../../src/session/types.js';
import { KEY_A } from '../session/client.js';

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function scenario(url: string): Promise<void> {
  const post = (cookie?: string) =>
    fetch(`${url}/orders`, {
      method: 'POST',
      headers: {
        'idempotency-key': 'order-1',
        'content-type': 'application/json',
        ...(cookie ? { cookie } : {}),
      },
      body: '{"item":1}',
      signal: AbortSignal.timeout(5000),
    });
  const first = await post();
  assert.equal(first.status, 201);
  const cookie = first.headers.get('set-cookie')?.split(';')[0];
  assert.ok(cookie, 'the session cookie went out with the first response');
  assert.deepEqual(await first.json(), { n: 1, visits: 1 });
  // A retry after a lost response: the client never saw the cookie, so it sends none either.
  const again = await post();
  assert.equal(again.status, 201, 'the replay keeps the status the handler set');
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.deepEqual(await again.json(), { n: 1, visits: 1 });
}

describe('session + idempotency stacked', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closers) await c();
  });

  it('[node] withSession(withIdempotency(handler)) runs once and replays with the real status', async () => {
    const sessions = await createSessions({ keys: [KEY_A], store: new MemoryStore() });
    let n = 0;
    const server = http.createServer(
      withSession(
        sessions,
        withIdempotency({ store: new MemoryStore() }, async (req, res) => {
          const visits = await (req as unknown as { session: Session }).session.update<number>(
            'visits',
            (v = 0) => v + 1,
          );
          res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ n: ++n, visits }));
        }),
      ),
    );
    closers.push(
      () => new Promise((r) => server.close(() => r())),
      () => sessions.close(),
    );
    await scenario(await listen(server));
    assert.equal(n, 1);
  });

  it('[express] session() then idempotency() runs once and replays with the real status', async () => {
    const sessions = await createSessions({ keys: [KEY_A], store: new MemoryStore() });
    const app = express();
    app.use(express.json());
    app.use(session(sessions));
    app.use(idempotency({ store: new MemoryStore() }));
    let n = 0;
    app.post('/orders', async (req, res) => {
      const s = (req as unknown as { session: Session }).session;
      const visits = await s.update<number>('visits', (v = 0) => v + 1);
      res.status(201).json({ n: ++n, visits });
    });
    const server = http.createServer(app);
    closers.push(
      () => new Promise((r) => server.close(() => r())),
      () => sessions.close(),
    );
    await scenario(await listen(server));
    assert.equal(n, 1);
  });
});
