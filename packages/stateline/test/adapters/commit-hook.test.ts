/**
 * The response hold works whoever else wraps `res`: a wrapper installed per request before the
 * session middleware (an instance header, a logger) on the process's very first request, one
 * installed inside the handler, and responses with no session at all.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { withSession } from '../../src/adapters/node/index.js';
import { createSessions } from '../../src/session/index.js';
import { ORDERS, type Outcome } from './fixtures/response-orders.js';

const ORDERS_CHILD = new URL('./fixtures/response-orders.ts', import.meta.url).pathname;

/** Every call order's outcome in a child process (uncaught exceptions must not reach this one). */
async function outcomes(mode: 'plain' | 'untouched' | 'committed'): Promise<Map<string, Outcome>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', ORDERS_CHILD, mode], {
    timeout: 60_000,
  });
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; outcome: Outcome });
  return new Map(lines.map((l) => [l.name, l.outcome]));
}

describe('commit hook', () => {
  const servers: http.Server[] = [];
  after(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('a wrapper that picks up res.writeHead before the session middleware does not bypass the hold', async () => {
    const sessions = await createSessions({
      strategy: 'server',
      store: 'memory:',
      keys: ['k'.repeat(32)],
      cookie: { secure: false },
    });
    const inner = withSession(sessions, async (req, res) => {
      if (req.url === '/plain') return void res.writeHead(200).end('no session touched');
      await req.session.login('alice');
      // Wrapped again inside the handler, after the middleware.
      const end = res.end;
      res.end = function (this: http.ServerResponse, ...args: unknown[]) {
        return (end as (...a: unknown[]) => http.ServerResponse).apply(this, args);
      } as http.ServerResponse['end'];
      res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    });
    const server = http.createServer((req, res) => {
      const writeHead = res.writeHead;
      res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
        this.setHeader('x-outer', '1');
        return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
      } as http.ServerResponse['writeHead'];
      if (req.url === '/bare') return void res.writeHead(200).end('no middleware');
      void inner(req, res);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const first = await fetch(`${base}/login`, { method: 'POST' });
    assert.equal(await first.text(), 'hello');
    assert.equal(first.headers.get('x-outer'), '1');
    assert.match(
      first.headers.getSetCookie().join('\n'),
      /^sl\.sid=/m,
      'the login cookie is on the first response',
    );
    for (const path of ['/bare', '/plain']) {
      const r = await fetch(base + path);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-outer'), '1');
      assert.match(await r.text(), /no /);
    }
    await sessions.close();
  });

  it('two session managers stacked on one request: both commit, both cookies go out', async () => {
    const keys = ['k'.repeat(32)];
    const a = await createSessions({
      strategy: 'server',
      store: 'memory:',
      keys,
      cookie: { name: 'a', secure: false },
    });
    const b = await createSessions({ strategy: 'token', keys, cookie: { name: 'b', secure: false } });
    const server = http.createServer(
      withSession(a, (reqA, res) => {
        const sa = reqA.session; // the inner middleware puts its own on req.session
        return withSession(b, async (reqB) => {
          sa.set('x', 1);
          reqB.session.set('y', 2);
          res.writeHead(200).end('both');
        })(reqA, res);
      }),
    );
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    assert.equal(await r.text(), 'both');
    const names = r.headers
      .getSetCookie()
      .map((c) => c.split('=')[0])
      .sort();
    assert.deepEqual(names, ['a', 'b']);
    await a.close();
    await b.close();
  });
});

describe('a held response behaves like a plain one', () => {
  it('for every call order: the same synchronous throws, state, callbacks, bytes and asynchronous errors', async () => {
    const [plain, untouched, committed] = await Promise.all([
      outcomes('plain'),
      outcomes('untouched'),
      outcomes('committed'),
    ]);
    assert.equal(plain.size, Object.keys(ORDERS).length);
    // The sequence: Node refuses the setHeader at once, so the handler can catch it.
    assert.equal(plain.get('end, setHeader, end with a chunk')!.steps[1]![0], 'ERR_HTTP_HEADERS_SENT');
    for (const [name, want] of plain) {
      for (const [mode, got] of [
        ['untouched', untouched.get(name)!],
        ['committed', committed.get(name)!],
      ] as const) {
        const { hadCookie, ...rest } = got;
        const { hadCookie: _plainCookie, ...expected } = want;
        assert.deepEqual(rest, expected, `${name} (${mode} session)`);
        // A response that ended carries the committed session's cookie.
        if (mode === 'committed' && want.wire.includes('\r\n\r\n') && want.steps.some((s) => s[2]))
          assert.ok(hadCookie, `${name}: the cookie went out`);
      }
    }
  });
});
