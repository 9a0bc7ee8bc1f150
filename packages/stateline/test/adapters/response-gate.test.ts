/**
 * The response gate (adapters/node/response-gate.ts) works whoever else wraps `res`: a wrapper
 * installed per request before the session middleware (an instance header, a logger) on the
 * process's very first request, one installed inside the handler, and responses with no session
 * at all; a held response behaves like a plain one; and it holds what Express, Fastify
 * (`reply.raw`), @hono/node-server and plain node:http write alike.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { serve, type HttpBindings } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { withSession } from '../../src/adapters/node/index.js';
import { commitBeforeHead, saveBeforeEnd } from '../../src/adapters/node/response-gate.js';
import { StatelineError } from '../../src/errors.js';
import { createSessions } from '../../src/session/index.js';
import { ORDERS, type Outcome } from './fixtures/response-orders.js';

const ORDERS_CHILD = new URL('./fixtures/response-orders.ts', import.meta.url).pathname;

/** Every call order's outcome in a child process (uncaught exceptions must not reach this one). */
type Mode = 'plain' | 'untouched' | 'committed' | 'saved' | 'both';

async function outcomes(mode: Mode): Promise<Map<string, Outcome>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', ORDERS_CHILD, mode], {
    timeout: 60_000,
  });
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; outcome: Outcome });
  return new Map(lines.map((l) => [l.name, l.outcome]));
}

/** The body of a raw HTTP/1.1 response (Content-Length or chunked), as latin1 text. */
function wireBody(wire: string): string {
  const at = wire.indexOf('\r\n\r\n');
  let rest = wire.slice(at + 4);
  if (!/^transfer-encoding: chunked$/im.test(wire.slice(0, at))) return rest;
  let body = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return body;
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 4 + size);
  }
}

describe('response gate: sessions', () => {
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
    const modes = ['untouched', 'committed', 'saved', 'both'] as const;
    const [plain, ...held] = await Promise.all([outcomes('plain'), ...modes.map((m) => outcomes(m))]);
    assert.equal(plain.size, Object.keys(ORDERS).length);
    // The sequence: Node refuses the setHeader at once, so the handler can catch it.
    assert.equal(plain.get('end, setHeader, end with a chunk')!.steps[1]![0], 'ERR_HTTP_HEADERS_SENT');
    for (const [name, want] of plain) {
      const ended = want.wire.includes('\r\n\r\n') && want.steps.some((s) => s[2]);
      for (const [i, mode] of modes.entries()) {
        const got = held[i]!.get(name)!;
        const { hadCookie, saved, ...rest } = got;
        const { hadCookie: _plainCookie, saved: _none, ...expected } = want;
        assert.deepEqual(rest, expected, `${name} (${mode})`);
        // A response that ended carries the committed session's cookie.
        if ((mode === 'committed' || mode === 'both') && ended)
          assert.ok(hadCookie, `${name}: the cookie went out`);
        // And the end hold was shown what went out.
        if ((mode === 'saved' || mode === 'both') && ended) {
          assert.ok(saved, `${name} (${mode}): saved`);
          assert.equal(saved.status, Number(want.wire.split(' ', 2)[1]), `${name} (${mode}): saved status`);
          assert.equal(saved.body, wireBody(want.wire), `${name} (${mode}): saved body`);
        }
      }
    }
  });
});

/** A head hold and an end hold that each take a while, and what they saw. */
function holdBoth(res: http.ServerResponse, log: string[], fail = false): void {
  const later = (ms: number) => new Promise((r) => setTimeout(r, ms));
  commitBeforeHead(res, {
    commit: async () => {
      await later(30);
      log.push('committed');
      if (fail) throw new StatelineError('SL_ERR_STORE_UNAVAILABLE', 'the store went away');
      return { setCookie: ['gate=1; Path=/'] };
    },
  });
  saveBeforeEnd(res, {
    maxBodyBytes: 1024,
    complete: async (r) => {
      // Longer than the commit: the end must wait for it after the head was let go.
      await later(60);
      log.push(
        `saved ${r.status} ${String(r.headers['content-type'])} ${Buffer.from(r.body ?? []).toString()}`,
      );
    },
  });
}

type Start = (log: string[], fail: boolean) => Promise<{ url: string; close(): Promise<void> }>;

async function listening(server: http.Server): Promise<{ url: string; close(): Promise<void> }> {
  if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const FRAMEWORKS: Record<string, Start> = {
  'node:http': (log, fail) =>
    listening(
      http.createServer((_req, res) => {
        holdBoth(res, log, fail);
        res.writeHead(201, { 'content-type': 'text/plain' }).end('from node:http');
      }),
    ),
  express: (log, fail) => {
    const app = express();
    app.use((_req, res, next) => (holdBoth(res, log, fail), next()));
    app.get('/', (_req, res) => void res.status(201).type('text/plain').send('from express'));
    return listening(http.createServer(app));
  },
  'fastify (reply.raw)': async (log, fail) => {
    const app = Fastify();
    app.addHook('onRequest', async (_request, reply) => holdBoth(reply.raw, log, fail));
    app.get('/', async (_request, reply) => reply.code(201).type('text/plain').send('from fastify'));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return listening(app.server);
  },
  '@hono/node-server': async (log, fail) => {
    const app = new Hono<{ Bindings: HttpBindings }>();
    app.use(async (c, next) => {
      holdBoth(c.env.outgoing, log, fail);
      await next();
    });
    app.get('/', (c) => c.text('from hono', 201));
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    return listening(server as http.Server);
  },
};

describe('response gate: one gate for every framework on node:http', () => {
  for (const [name, start] of Object.entries(FRAMEWORKS)) {
    it(`[${name}] the head waits for the commit, the end for the save; the save sees what went out`, async () => {
      const log: string[] = [];
      const app = await start(log, false);
      try {
        const r = await fetch(app.url);
        assert.equal(log.length, 2, 'nothing arrived before both holds settled');
        assert.equal(r.status, 201);
        assert.match(r.headers.getSetCookie().join('\n'), /^gate=1/m);
        const body = await r.text();
        assert.deepEqual(log.sort(), ['committed', `saved 201 ${r.headers.get('content-type')} ${body}`]);
      } finally {
        await app.close();
      }
    });

    it(`[${name}] a failed commit replaces the response by its problem`, async () => {
      const log: string[] = [];
      const app = await start(log, true);
      try {
        const r = await fetch(app.url);
        assert.equal(r.status, 503);
        assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(((await r.json()) as { code: string }).code, 'SL_ERR_STORE_UNAVAILABLE');
        assert.equal(r.headers.getSetCookie().length, 0);
      } finally {
        await app.close();
      }
    });
  }
});
