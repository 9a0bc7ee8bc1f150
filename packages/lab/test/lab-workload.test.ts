/**
 * The lab's side of the workload contract, without a cluster: the virtual user's HTTP client
 * (cookies, JSON, ETag revalidation, what it records, Idempotency-Key retries) against a local
 * server, the generic user (weighted actions from the seed, prepare, a throwing action, the
 * report, recheck), and the audit asking the workload with the user's cookies first.
 */
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Workload, WorkloadUser } from 'stateline/instance';
import { Agent } from 'undici';
import { auditCreates } from '../src/run/audit.js';
import { parseConfig } from '../src/run/config.js';
import { HttpClient } from '../src/run/http-client.js';
import { mulberry32 } from '../src/run/prng.js';
import { Recorder } from '../src/run/recorder.js';
import { runConfig } from '../src/run/run-config.js';
import { VirtualUser } from '../src/run/virtual-user.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const routes = new Map<string, Handler>();
const seen: { method: string; path: string; headers: http.IncomingHttpHeaders }[] = [];
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const path = req.url ?? '/';
    seen.push({ method: req.method ?? '', path, headers: req.headers });
    const h = routes.get(`${req.method} ${path}`);
    if (h) h(req, res, body);
    else
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"code":"SL_ERR_NOT_FOUND"}');
  });
});
const dispatcher = new Agent({ keepAliveTimeout: 1000 });
let base = '';
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await dispatcher.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

describe('the virtual user HTTP client', () => {
  it('keeps cookies, sends and parses JSON, and records requests, 5xx and network errors', async () => {
    routes.set('POST /in', (_q, res, body) =>
      json(res, 200, { echo: JSON.parse(body) as unknown }, { 'set-cookie': 'sid=abc; Path=/' }),
    );
    routes.set('GET /me', (req, res) => json(res, 200, { cookie: req.headers.cookie ?? null }));
    routes.set('GET /boom', (_q, res) =>
      res.writeHead(503, { 'content-type': 'application/problem+json' }).end('{"code":"SL_ERR_X"}'),
    );
    const rec = new Recorder();
    const c = new HttpClient({ base, dispatcher, random: mulberry32(1), rec });
    const a = await c.request('POST', '/in', { json: { n: 1 } });
    assert.deepEqual([a?.status, a?.body], [200, { echo: { n: 1 } }]);
    assert.equal(seen.at(-1)?.headers['content-type'], 'application/json');
    assert.deepEqual((await c.request('GET', '/me'))?.body, { cookie: 'sid=abc' });
    assert.equal((await c.request('GET', '/boom'))?.status, 503);
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const gone = new HttpClient({ base: `http://127.0.0.1:${port}`, dispatcher, random: mulberry32(1), rec });
    assert.equal(await gone.request('GET', '/'), null);
    assert.equal(rec.requests, 4);
    assert.deepEqual(rec.errorTypes(), { '503 SL_ERR_X (no Retry-After)': 1, 'network ECONNREFUSED': 1 });
    assert.equal(rec.latency() !== null, true);
    rec.destroy();
  });

  it('revalidates with If-None-Match on request: a 304 comes back with the body it confirmed', async () => {
    routes.set('GET /cat', (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"' }).end();
      json(res, 200, { items: [1, 2] }, { etag: '"v1"' });
    });
    const rec = new Recorder();
    const c = new HttpClient({ base, dispatcher, random: mulberry32(1), rec });
    assert.equal((await c.request('GET', '/cat'))?.status, 200, 'without revalidate: no ETag kept');
    assert.equal((await c.request('GET', '/cat', { revalidate: true }))?.status, 200);
    const again = await c.request('GET', '/cat', { revalidate: true });
    assert.deepEqual([again?.status, again?.body], [304, { items: [1, 2] }]);
    assert.deepEqual([rec.conditionalRequests, rec.notModified], [1, 1]);
    rec.destroy();
  });

  it('an idempotent request keeps its key over 5xx and "in flight", counted as retries', async () => {
    let calls = 0;
    routes.set('POST /orders', (req, res) => {
      calls++;
      if (calls === 1) return json(res, 503, { code: 'SL_ERR_STORE_UNAVAILABLE' });
      if (calls === 2)
        return json(res, 409, { code: 'SL_ERR_IDEMPOTENCY_IN_FLIGHT' }, { 'retry-after': '0.1' });
      json(res, 201, { id: 'o1', key: req.headers['idempotency-key'] });
    });
    const rec = new Recorder();
    const c = new HttpClient({ base, dispatcher, random: mulberry32(7), rec });
    const r = await c.idempotent('POST', '/orders', { json: {} });
    assert.equal(r.answer?.status, 201);
    assert.equal(r.uncertain, true);
    assert.match(r.key, /^[0-9a-f]{32}$/);
    assert.deepEqual(r.answer?.body, { id: 'o1', key: r.key });
    const keys = seen.filter((s) => s.path === '/orders').map((s) => s.headers['idempotency-key']);
    assert.deepEqual(keys, [r.key, r.key, r.key]);
    assert.deepEqual([rec.retries, rec.errors], [1, 1]);

    routes.set('POST /busy', (_q, res) => json(res, 409, {}, { 'retry-after': '1' }));
    const stopped = new HttpClient({ base, dispatcher, random: mulberry32(7), rec, stopped: () => true });
    const gaveUp = await stopped.idempotent('POST', '/busy');
    assert.deepEqual([gaveUp.answer, gaveUp.uncertain], [null, true], 'no final answer once stopped');
    rec.destroy();
  });
});

describe('the generic virtual user', () => {
  const run = async (workload: Workload<{ log: string[] }>, ms = 150) => {
    const rec = new Recorder();
    const until = performance.now() + ms;
    const vu = new VirtualUser({
      n: 3,
      workload,
      base,
      dispatcher,
      rec,
      rnd: mulberry32(5),
      stopped: () => performance.now() > until,
    });
    await vu.run();
    return { rec, vu };
  };

  it('runs prepare, then actions in proportion to their weights, from the seed', async () => {
    const log: string[] = [];
    let prepared = 0;
    const w: Workload<{ log: string[] }> = {
      init: (user) => ({ log: Object.assign(log, [`user ${user.n}`]) }),
      prepare: async () => prepared++ > 0,
      actions: [
        { name: 'a', weight: 9, run: async (_u, s) => void s.log.push('a') },
        { name: 'b', weight: 1, run: async (_u, s) => void s.log.push('b') },
      ],
    };
    const { rec } = await run(w, 400);
    assert.equal(log[0], 'user 3');
    assert.ok(prepared >= 2, 'a false prepare is asked again');
    const a = log.filter((x) => x === 'a').length;
    const b = log.filter((x) => x === 'b').length;
    assert.ok(a + b >= 5 && a > b * 2, `a ${a}, b ${b}`);
    rec.destroy();
  });

  it('counts what the workload reports, records a throwing action and goes on', async () => {
    let recheck: unknown = 'not run';
    let n = 0;
    const w: Workload<{ log: string[] }> = {
      init: () => ({ log: [] }),
      actions: [
        {
          name: 'judge',
          weight: 1,
          async run(user: WorkloadUser) {
            if (n++ > 0) throw new Error('bug');
            user.report.acknowledged();
            user.report.checked();
            user.report.lostUpdate();
            user.report.retry();
            user.report.sessionLost('data-lost');
            user.report.created('k', 'o1');
            user.report.created('k', 'o2');
            user.report.unexpected(
              { status: 409, headers: new Headers(), body: { code: 'SL_ERR_Y' }, code: 'SL_ERR_Y' },
              'x',
            );
            user.report.unexpected({ status: 400, headers: new Headers(), body: null, code: '' }, 'form');
            let reads = 0;
            recheck = await user.recheck(
              0,
              async () => ++reads,
              (v) => v === 2,
            );
          },
        },
      ],
    };
    const { rec, vu } = await run(w, 500);
    assert.equal(recheck, null, 'the second read agreed: a stale read');
    assert.deepEqual(
      [rec.acknowledged, rec.checks, rec.lostUpdates, rec.retries, rec.created, rec.staleReads],
      [1, 1, 1, 1, 2, 1],
    );
    assert.deepEqual(rec.sessionsLostBy, { 'logged-out': 0, 'data-lost': 1, unauthenticated: 0 });
    assert.deepEqual(vu.created, new Map([['k', new Set(['o1', 'o2'])]]));
    const types = rec.errorTypes();
    assert.equal(types['409 SL_ERR_Y'], 1);
    assert.equal(types['400 form'], 1);
    assert.ok((types['judge threw'] ?? 0) >= 1, JSON.stringify(types));
    rec.destroy();
  });
});

describe('bearer credentials', () => {
  it('the user learns its credentials; what a bearer workload counts lands in the counters', async () => {
    const rec = new Recorder();
    const seen: string[] = [];
    const until = performance.now() + 200;
    const w: Workload<{ done: boolean }> = {
      credentials: ['cookie', 'bearer'],
      init: (user) => (seen.push(user.credentials), { done: false }),
      actions: [
        {
          name: 'refresh',
          weight: 1,
          async run(user, s) {
            if (s.done) return;
            s.done = true;
            user.report.count('tokens.refreshed');
            user.report.count('tokens.refreshed');
            user.report.count('tokens.familiesLost');
          },
        },
      ],
    };
    const vu = new VirtualUser({
      n: 1,
      workload: w as Workload<unknown>,
      credentials: 'bearer',
      base,
      dispatcher,
      rec,
      rnd: mulberry32(5),
      stopped: () => performance.now() > until,
    });
    await vu.run();
    assert.deepEqual(seen, ['bearer']);
    assert.deepEqual(rec.counterValues(), { 'tokens.familiesLost': 1, 'tokens.refreshed': 2 });
    assert.equal(rec.errors, 0);
    rec.destroy();
  });

  it('a bearer config of a workload that drives cookies only is skipped, with the reason', async () => {
    const run = await runConfig({
      config: parseConfig('server/bearer'),
      app: '/nonexistent/app.js',
      workload: { init: () => ({}), actions: [{ name: 'a', weight: 1, run: async () => {} }] },
      durationMs: 2000,
      users: 1,
      instances: 1,
      faults: [],
      seed: 1,
      postgres: 'postgres://127.0.0.1/none',
    });
    assert.equal(run.credentials, 'bearer');
    assert.match(run.skipped ?? '', /drives cookie users, not bearer/);
    assert.equal(run.counters, null);
  });
});

describe('the audit', () => {
  it("asks with the user's cookies on each live instance first, then signs in; counts duplicates", async () => {
    routes.set('POST /login', (_q, res) => json(res, 200, {}, { 'set-cookie': 'sid=new; Path=/' }));
    const asked: { n: number; signIn: boolean; cookie: string | undefined }[] = [];
    const w: Workload<unknown> = {
      init: () => undefined,
      // What a run leaves behind: the user holds a session cookie.
      actions: [{ name: 'hello', weight: 1, run: async (u) => void (await u.http.request('GET', '/hello')) }],
      async audit({ http: client, n, signIn }) {
        const body = (await client.request('GET', '/me'))?.body;
        const cookie =
          typeof body === 'object' && body !== null && 'cookie' in body && typeof body.cookie === 'string'
            ? body.cookie
            : undefined;
        asked.push({ n, signIn, cookie });
        if (!signIn) return null; // the user's own session is nowhere
        return [
          { id: 'o1', idempotencyKey: 'k' },
          { id: 'o2', idempotencyKey: 'k' },
        ];
      },
    };
    routes.set('GET /hello', (_q, res) => json(res, 200, {}, { 'set-cookie': 'sid=mine; Path=/' }));
    const rec = new Recorder();
    const user = new VirtualUser({
      n: 1,
      workload: w,
      base,
      dispatcher,
      rec,
      rnd: mulberry32(1),
      stopped: () => rec.requests > 0,
    });
    await user.run();
    assert.equal(user.cookies(), 'sid=mine');
    const r = await auditCreates(w, [user], () => [{ url: base }, { url: null }, { url: base }]);
    assert.deepEqual(
      asked.map((a) => [a.signIn, a.cookie]),
      [
        [false, 'sid=mine'],
        [false, 'sid=mine'],
        [true, undefined],
      ],
    );
    assert.deepEqual(r, { duplicates: 1, missing: 0, failures: 0 });
    assert.equal(rec.requests, 1, 'the audit is not load');
    rec.destroy();
  });
});
