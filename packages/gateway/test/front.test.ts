/**
 * The front chain (`gw.use`): order, answered and unanswered requests, sync and async handlers,
 * failures as 500 problems, a client that leaves before its handler answers, upgrades that skip the
 * chain, and the `onResponse` report of what the gateway itself handled.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { createGateway } from '../src/index.js';
import type { FrontHandler, Gateway, ResponseEvent } from '../src/index.js';
import { startBackends, type Backend } from './support/backend.js';
import { Client, sleep, waitFor } from './support/client.js';

describe('front chain', () => {
  let backends: Backend[];
  let gw: Gateway;
  let c: Client;
  let port: number;
  const calls: string[] = [];
  const failures: unknown[] = [];
  const responses: ResponseEvent[] = [];
  /** Settles once the client of `/late` went away; the handler then answers all the same. */
  let lateClientGone: (() => void) | undefined;
  let lateAnswered: Promise<void> | undefined;

  const record =
    (name: string, answer: (req: http.IncomingMessage, res: http.ServerResponse) => boolean) =>
    (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.url?.startsWith('/trace')) calls.push(name);
      return answer(req, res);
    };

  before(async () => {
    backends = await startBackends(1);
    gw = createGateway({
      health: false,
      onError: (err) => failures.push(err),
      onResponse: (e) => responses.push(e),
    });
    gw.add({ id: 'b1', url: backends[0]!.url });
    const first = record('first', (req, res) => {
      if (req.url !== '/trace/first') return false;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('first');
      return true;
    });
    const slow: FrontHandler = async (req, res) => {
      if (req.url?.startsWith('/trace')) calls.push('async');
      await sleep(20);
      if (req.url === '/trace/async') {
        res.writeHead(202, { 'content-type': 'text/plain' }).end('async');
        return true;
      }
      if (req.url === '/reject') throw new Error('rejected with a secret');
      if (req.url === '/late') {
        lateAnswered = new Promise<void>((resolve) => {
          lateClientGone = () => {
            // The client left: answering now must neither throw nor reach an instance.
            res.writeHead(200, { 'content-type': 'text/plain' }).end('too late');
            resolve();
          };
        });
        return lateAnswered.then(() => true);
      }
      return false;
    };
    const last = record('last', (req, res) => {
      if (req.url === '/throw') throw new Error('thrown with a secret');
      if (req.url === '/half') {
        // Began an answer and said false: the chain stops, nothing is proxied over it.
        res.writeHead(200, { 'content-type': 'text/plain' }).end('half');
        return false;
      }
      return false;
    });
    assert.equal(gw.use(first).use(slow), gw, 'use() chains');
    gw.use(last);
    ({ port } = await gw.listen(0));
    c = new Client(`http://127.0.0.1:${port}`);
  });
  after(async () => {
    await c.close();
    await gw.close();
    await backends[0]!.kill();
  });

  test('handlers run in the order they were added until one answers', async () => {
    calls.length = 0;
    const r1 = await c.send('/trace/first');
    assert.deepEqual([r1.status, r1.body, r1.instance], [200, 'first', undefined]);
    assert.deepEqual(calls, ['first']);

    calls.length = 0;
    const r2 = await c.send('/trace/async');
    assert.deepEqual([r2.status, r2.body], [202, 'async']);
    assert.deepEqual(calls, ['first', 'async'], 'an async handler that answers ends the chain');

    calls.length = 0;
    const r3 = await c.send('/trace/nobody');
    assert.equal(r3.instance, 'b1', 'nobody answered: proxied');
    assert.deepEqual(calls, ['first', 'async', 'last']);
    assert.equal(backends[0]!.hits.filter((h) => h.url.startsWith('/trace')).length, 1);
  });

  test('a handler that throws or rejects: 500 problem without its message, reported to onError', async () => {
    failures.length = 0;
    for (const path of ['/throw', '/reject']) {
      const r = await c.send(path);
      assert.equal(r.status, 500, path);
      assert.equal(r.headers['content-type'], 'application/problem+json');
      const p = JSON.parse(r.body) as { code: string; detail: string };
      assert.equal(p.code, 'SL_ERR_INTERNAL');
      assert.doesNotMatch(r.body, /secret|at .*\.ts/, 'no message, no stack');
    }
    assert.deepEqual(
      failures.map((e) => (e as Error).message),
      ['thrown with a secret', 'rejected with a secret'],
    );
    assert.equal(backends[0]!.hits.filter((h) => h.url === '/throw' || h.url === '/reject').length, 0);
    assert.equal((await c.send('/after-failures')).instance, 'b1', 'the gateway lives on');
  });

  test('a handler that began an answer and returned false ends the chain', async () => {
    const r = await c.send('/half');
    assert.deepEqual([r.status, r.body, r.instance], [200, 'half', undefined]);
    await sleep(100);
    assert.equal(backends[0]!.hits.filter((h) => h.url === '/half').length, 0);
  });

  test('a handler that answers after its client went away harms nothing', async () => {
    failures.length = 0;
    const req = http.get({ port, host: '127.0.0.1', path: '/late' });
    req.on('error', () => {});
    await waitFor(() => lateClientGone !== undefined, 2000, 'the /late handler to run');
    req.destroy();
    await sleep(50);
    lateClientGone!();
    await lateAnswered;
    await sleep(20);
    assert.deepEqual(failures, []);
    assert.equal(backends[0]!.hits.filter((h) => h.url === '/late').length, 0);
    assert.equal((await c.send('/after-late')).instance, 'b1');
  });

  test('onResponse reports what the chain left to the gateway, by instance, status and time', async () => {
    responses.length = 0;
    await c.send('/trace/first');
    await c.send('/reported');
    await waitFor(() => responses.length >= 1, 2000, 'a response event');
    assert.equal(responses.length, 1, 'answers of front handlers are not reported');
    const e = responses[0]!;
    assert.equal(e.req.url, '/reported');
    assert.deepEqual([e.status, e.completed, e.instance], [200, true, 'b1']);
    assert.ok(e.duration >= 0 && e.duration < 5000);
  });

  test('upgrades skip the chain: they are routed at once', async () => {
    calls.length = 0;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/trace/first`);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hi'));
      ws.on('message', (d) => resolve(String(d)));
      ws.on('error', reject);
    });
    ws.close();
    assert.equal(reply, 'b1:hi');
    assert.deepEqual(calls, []);
  });
});

describe('front chain edges', () => {
  test('with no instance up, onResponse names no instance (the gateway answered itself)', async () => {
    const events: ResponseEvent[] = [];
    const gw = createGateway({ health: false, onResponse: (e) => events.push(e) });
    const { port } = await gw.listen(0);
    const c = new Client(`http://127.0.0.1:${port}`);
    try {
      const r = await c.send('/x');
      assert.equal(r.status, 503);
      await waitFor(() => events.length === 1, 2000, 'a response event');
      assert.deepEqual([events[0]!.status, events[0]!.instance], [503, undefined]);
    } finally {
      await c.close();
      await gw.close();
    }
  });

  test('an onResponse that throws is reported to onError; the gateway goes on', async () => {
    const backends = await startBackends(1);
    const failures: unknown[] = [];
    const gw = createGateway({
      health: false,
      onResponse: () => {
        throw new Error('observer broke');
      },
      onError: (err) => {
        failures.push(err);
        throw new Error('and so did the report');
      },
    });
    gw.add({ id: 'b1', url: backends[0]!.url });
    const { port } = await gw.listen(0);
    const c = new Client(`http://127.0.0.1:${port}`);
    try {
      assert.equal((await c.send('/one')).instance, 'b1');
      assert.equal((await c.send('/two')).instance, 'b1');
      await waitFor(() => failures.length === 2, 2000, 'two reports');
      assert.equal((failures[0] as Error).message, 'observer broke');
    } finally {
      await c.close();
      await gw.close();
      await backends[0]!.kill();
    }
  });

  test('use() refuses a non-function; the removed control option names its replacement', () => {
    const gw = createGateway({ health: false });
    assert.throws(() => gw.use('nope' as unknown as FrontHandler), { code: 'SL_ERR_INVALID_OPTION' });
    assert.throws(() => createGateway({ control: () => false } as Parameters<typeof createGateway>[0]), {
      code: 'SL_ERR_INVALID_OPTION',
      message: /gw\.use\(handler\)/,
    });
    assert.throws(() => createGateway({ onResponse: 1 as unknown as () => void }), {
      code: 'SL_ERR_INVALID_OPTION',
    });
  });
});
