/** runInstance in this process (exit: false): probes, the instance header, readiness and drain. */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { runInstance, type RunningInstance } from '../../src/instance/index.js';
import { sleep } from '../support/free-port.js';

/** GET and parse the JSON answer. */
async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

const running: RunningInstance[] = [];
after(async () => {
  for (const r of running) await r.drain();
});
async function start(
  app: Parameters<typeof runInstance>[0],
  options: Parameters<typeof runInstance>[1] = {},
) {
  const inst = await runInstance(app, { id: 'x1', port: 0, host: '127.0.0.1', exit: false, ...options });
  running.push(inst);
  return inst;
}

/** Sends raw bytes on one connection and resolves with everything the server wrote until it closed. */
function rawExchange(port: number, first: string, then: () => Promise<string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    sock.on('error', reject);
    sock.on('close', () => resolve(data));
    sock.on('connect', () => {
      sock.write(first);
      void then().then((rest) => sock.write(rest));
    });
  });
}

describe('runInstance', () => {
  it('answers /healthz and /readyz, and adds X-Stateline-Instance to every response, problems included', async () => {
    let ready = true;
    const inst = await start(
      (req, res) => {
        if (req.url === '/problem') {
          // What the adapters' sendProblem does: clear every header, then answer.
          res.setHeader('x-before', '1');
          for (const name of res.getHeaderNames()) res.removeHeader(name);
          res.statusCode = 503;
          res.end('{}');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' }).end('app');
      },
      { ready: () => ready },
    );
    const health = await getJson<{ status: string; instance: string }>(`${inst.url}/healthz`);
    assert.deepEqual([health.status, health.body], [200, { status: 'ok', instance: 'x1' }]);
    assert.equal((await fetch(`${inst.url}/readyz`)).status, 200);
    ready = false;
    const notReady = await getJson<{ status: string }>(`${inst.url}/readyz`);
    assert.deepEqual([notReady.status, notReady.body.status], [503, 'unready']);
    assert.equal((await fetch(`${inst.url}/healthz`)).status, 200, 'liveness does not depend on readiness');
    const app = await fetch(`${inst.url}/anything`);
    assert.equal(await app.text(), 'app');
    assert.equal(app.headers.get('x-stateline-instance'), 'x1');
    const problem = await fetch(`${inst.url}/problem`);
    assert.equal(problem.status, 503);
    assert.equal(problem.headers.get('x-stateline-instance'), 'x1');
    assert.equal(problem.headers.get('x-before'), null);
  });

  it('/healthz is liveness: 200 while the Store is down (ready says no), 503 once a drain begins', async () => {
    const inst = await start((_req, res) => void setTimeout(() => res.end('done'), 300), {
      ready: () => false,
    });
    assert.equal((await fetch(`${inst.url}/readyz`)).status, 503);
    assert.equal((await fetch(`${inst.url}/healthz`)).status, 200, 'an unready instance is still live');
    const slow = fetch(`${inst.url}/slow`).then((r) => r.text());
    await sleep(50);
    let draining!: Promise<void>;
    // A probe already on its way (its head half sent) when the drain begins, as the gateway's is.
    const probe = rawExchange(inst.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', async () => {
      await sleep(50);
      draining = inst.drain();
      await sleep(50);
      return '\r\n';
    });
    const answer = await probe;
    assert.match(answer, /^HTTP\/1\.1 503/);
    assert.match(answer, /"status":"draining"/);
    assert.equal(await slow, 'done');
    await draining;
  });

  it('an early 413 with Connection: close reaches a client still uploading 10 MB (lingering close)', async () => {
    const inst = await start((req, res) => {
      // Refuses the body after a moment (as an app that reads a session first), without reading it.
      setTimeout(() => {
        res.writeHead(413, { 'content-type': 'application/problem+json', connection: 'close' });
        res.end('{"code":"SL_ERR_PAYLOAD_TOO_LARGE"}');
      }, 20);
    });
    const body = Buffer.alloc(10_000_000, 'a');
    const outcomes: Record<string, number> = {};
    for (let k = 0; k < 15; k++) {
      const outcome = await new Promise<string>((resolve) => {
        const req = http.request(`${inst.url}/upload`, {
          method: 'POST',
          headers: { 'content-length': String(body.length) },
        });
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          res.resume();
          res.on('end', () => resolve(String(res.statusCode)));
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          if (!answered) resolve(err.code ?? err.message);
        });
        req.end(body);
      });
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    assert.deepEqual(outcomes, { 413: 15 }, 'every client read the answer; none saw a reset first');
  });

  it('a readiness check that throws or hangs answers 503 within about a second', async () => {
    let mode: 'throw' | 'hang' = 'throw';
    const inst = await start((_q, s) => s.end(), {
      ready: () =>
        mode === 'throw' ? Promise.reject(new Error('store down')) : new Promise<boolean>(() => {}),
    });
    assert.equal((await fetch(`${inst.url}/readyz`)).status, 503);
    mode = 'hang';
    const t0 = Date.now();
    assert.equal((await fetch(`${inst.url}/readyz`)).status, 503);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('drain: in-flight requests finish, /readyz is 503 on a live connection, new connections are refused, close runs once', async () => {
    let closes = 0;
    const inst = await start(
      (req, res) => {
        if (req.url === '/slow') return void setTimeout(() => res.end('done'), 500);
        res.end('ok');
      },
      { close: () => void closes++ },
    );
    const slow = fetch(`${inst.url}/slow`).then((r) => r.text());
    await sleep(50);
    let draining!: Promise<void>;
    // A request already on its way (its head half sent) when the drain begins.
    const probe = rawExchange(inst.port, 'GET /readyz HTTP/1.1\r\nHost: x\r\n', async () => {
      await sleep(50);
      draining = inst.drain();
      assert.equal(inst.draining, true);
      await sleep(50);
      return '\r\n';
    });
    const answer = await probe;
    assert.match(answer, /^HTTP\/1\.1 503/);
    assert.match(answer, /"status":"draining"/);
    assert.match(answer, /connection: close/i);
    assert.match(answer, /x-stateline-instance: x1/i);
    await assert.rejects(fetch(`${inst.url}/`), 'no new connection once draining');
    assert.equal(await slow, 'done');
    await draining;
    assert.equal(await inst.drain().then(() => closes), 1);
    assert.equal(inst.inflight, 0);
  });

  it('drain: an open WebSocket does not hold it; close runs (to say goodbye), then a socket it left is cut', async () => {
    const order: string[] = [];
    const said: { socket?: net.Socket } = {};
    const inst = await start((_req, res) => res.end('ok'), {
      drainTimeout: 60_000,
      // The app's close (a realtime hub's) says goodbye on one socket and leaves the other open.
      close: () => {
        order.push('close');
        said.socket?.end('bye');
      },
    });
    const sockets: net.Socket[] = [];
    inst.server.on('upgrade', (_req, socket: net.Socket) => {
      sockets.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    const upgrade = async () => {
      const c = net.connect(inst.port, '127.0.0.1');
      const seen: string[] = [];
      c.on('data', (d) => seen.push(d.toString()));
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      while (seen.length === 0) await sleep(10);
      return { closed, seen };
    };
    const a = await upgrade();
    const b = await upgrade();
    said.socket = sockets[0];
    const t0 = Date.now();
    // Before the fix the drain waited for the WebSockets, which only the app's close would end.
    let timer: NodeJS.Timeout | undefined;
    const held = await Promise.race([
      inst.drain().then(() => void order.push('drained')),
      new Promise<'held'>((r) => (timer = setTimeout(() => r('held'), 3000))),
    ]).finally(() => clearTimeout(timer));
    assert.notEqual(held, 'held', `the drain waited ${Date.now() - t0} ms for open WebSockets`);
    assert.deepEqual(order, ['close', 'drained']);
    await Promise.all([a.closed, b.closed]);
    assert.match(a.seen.join(''), /bye$/);
    assert.doesNotMatch(b.seen.join(''), /bye/);
  });

  it('takes over an existing http.Server (frameworks that own theirs)', async () => {
    const server = http.createServer((_req, res) => res.end('framework'));
    const inst = await start(server);
    assert.equal(inst.server, server);
    const res = await fetch(`${inst.url}/x`);
    assert.equal(await res.text(), 'framework');
    assert.equal(res.headers.get('x-stateline-instance'), 'x1');
    assert.equal((await fetch(`${inst.url}/healthz`)).status, 200);
  });

  it('close: closables in order, each bounded; a throw or a hang does not stop the next; the drain rejects with the first failure', async () => {
    const done: string[] = [];
    const inst = await runInstance((_q, s) => s.end(), {
      id: 'x2',
      port: 0,
      exit: false,
      closeTimeout: 200,
      close: [
        { close: () => void done.push('sessions') },
        () => Promise.reject(new Error('bus refused')),
        { close: () => new Promise(() => done.push('log (hangs)')) },
        async () => void done.push('store'),
      ],
    });
    const t0 = Date.now();
    await assert.rejects(inst.drain(), /bus refused/);
    assert.deepEqual(done, ['sessions', 'log (hangs)', 'store']);
    assert.ok(Date.now() - t0 < 1500, 'the hanging close was given up on after closeTimeout');
  });

  it('close: a closable that hangs alone fails the drain with SL_ERR_INTERNAL naming it', async () => {
    const inst = await runInstance((_q, s) => s.end(), {
      id: 'x3',
      port: 0,
      exit: false,
      closeTimeout: 50,
      close: { close: () => new Promise(() => {}) },
    });
    await assert.rejects(inst.drain(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SL_ERR_INTERNAL');
      assert.match(err.message, /close 1 of 1 did not finish within 50 ms/);
      return true;
    });
  });
});
