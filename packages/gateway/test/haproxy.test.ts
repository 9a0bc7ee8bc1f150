import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import { createGateway, exportHaproxy } from '../src/index.js';
import { startBackends, type Backend } from './support/backend.js';
import { Client, tally, waitFor, type Reply } from './support/client.js';
import { HAPROXY, freePort, needBinary, startHaproxy } from './support/proxies.js';

/** One set of options for both proxies: what the built-in gateway runs, HAProxy gets exported. */
const HEALTH = { path: '/healthz', interval: 200, timeout: 300, rise: 1, fall: 2 };

interface Front {
  base: string;
  stop(): Promise<void>;
}

async function builtIn(backends: Backend[]): Promise<Front> {
  const gw = createGateway({ balance: 'sticky', health: HEALTH });
  for (const b of backends) gw.add({ id: b.id, url: b.url });
  const { port } = await gw.listen(0, '127.0.0.1');
  await waitFor(() => gw.instances().every((i) => i.state === 'up'));
  return { base: `http://127.0.0.1:${port}`, stop: () => gw.close() };
}

/** HAProxy running the exported configuration for instances on loopback ports, on a free port. */
async function exported(balance: 'sticky' | 'round-robin', instances: { id: string; port: number }[]) {
  const port = await freePort();
  const config = exportHaproxy({
    balance,
    host: '127.0.0.1',
    port,
    health: HEALTH,
    instances: instances.map((i) => ({ id: i.id, address: `127.0.0.1:${i.port}` })),
  });
  return { port, proxy: await startHaproxy(config, port) };
}

async function haproxy(backends: Backend[]): Promise<Front> {
  const { port, proxy } = await exported('sticky', backends);
  const base = `http://127.0.0.1:${port}`;
  // Servers start "up" in HAProxy; wait until it answers through them.
  const probe = new Client(base);
  await waitFor(async () => (await probe.send('/')).status === 200, 5000, 'haproxy answering');
  await probe.close();
  return { base, stop: () => proxy.stop() };
}

/**
 * The same assertions against either front: new clients are spread; a client sticks to its
 * instance for 200 requests; once that instance dies its requests go to another one with no error
 * and stick there, the cookie rewritten.
 */
async function stickyAndFailover(start: (backends: Backend[]) => Promise<Front>): Promise<void> {
  const backends = await startBackends(3);
  const front = await start(backends);
  const clients = [new Client(front.base, true), new Client(front.base, true), new Client(front.base, true)];
  try {
    const first = await Promise.all(clients.map((c) => c.send('/')));
    assert.equal(
      new Set(first.map((r) => r.instance)).size,
      3,
      `new clients spread: ${JSON.stringify(tally(first))}`,
    );
    for (const [k, r] of first.entries()) {
      assert.equal(clients[k]!.cookies.get('sl.route'), r.instance, 'the cookie names the instance');
      const cookie = r.setCookie.find((c) => c.startsWith('sl.route='))!;
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Lax/i);
      assert.match(cookie, /path=\//i);
    }
    const c = clients[0]!;
    const pinned = first[0]!.instance!;
    const replies: Reply[] = [];
    for (let k = 0; k < 200; k++) replies.push(await c.send('/'));
    assert.deepEqual(tally(replies), { [pinned]: 200 }, 'sticks for 200 requests');

    await backends.find((b) => b.id === pinned)!.kill();
    const after: Reply[] = [];
    for (let k = 0; k < 50; k++) after.push(await c.send('/'));
    assert.ok(
      after.every((r) => r.status === 200),
      `no client-visible error: ${JSON.stringify(after.map((r) => r.status))}`,
    );
    const moved = after[0]!.instance!;
    assert.notEqual(moved, pinned);
    assert.deepEqual(tally(after), { [moved]: 50 }, 'sticks to the new instance');
    assert.equal(c.cookies.get('sl.route'), moved, 'the cookie was rewritten');
  } finally {
    await Promise.all(clients.map((x) => x.close()));
    await front.stop();
    await Promise.all(backends.map((b) => b.kill().catch(() => {})));
  }
}

describe('sticky routing and failover: built-in gateway and HAProxy with the exported config', () => {
  test('built-in gateway', () => stickyAndFailover(builtIn));
  test('HAProxy (exportHaproxy)', { skip: needBinary(HAPROXY, 'haproxy') }, () => stickyAndFailover(haproxy));
});

/**
 * A server that answers `/healthz` and resets every other request once it has the whole of it,
 * as an instance killed while the request waits in its socket does. `heads` resolves each time a
 * request head arrives without its body (a proxy that forwarded the head before the body came).
 */
async function resettingServer(): Promise<{
  port: number;
  hits: number;
  onHead: (f: () => void) => void;
  close(): void;
}> {
  let onHead = () => {};
  const state = { hits: 0 };
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let data = '';
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (data.startsWith('GET /healthz')) {
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
        return;
      }
      const length = Number(/content-length: *(\d+)/i.exec(data.slice(0, end))?.[1] ?? 0);
      if (data.length - end - 4 < length) return void onHead();
      state.hits++;
      socket.resetAndDestroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get hits() {
      return state.hits;
    },
    onHead: (f) => (onHead = f),
    close: () => server.close(),
  };
}

/** One POST on its own connection, its body sent once `release` says so; the status line back. */
function postInTwoParts(port: number, release: (send: () => void) => void): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let answer = '';
    c.on('error', () => {});
    c.on('data', (d: Buffer) => (answer += d.toString()));
    c.on('close', () => resolve(answer.split('\r\n')[0] || 'closed without an answer'));
    c.write(
      'POST /orders HTTP/1.1\r\nhost: shop\r\nidempotency-key: k1\r\ncontent-type: application/json\r\n' +
        'content-length: 2\r\nconnection: close\r\n\r\n',
    );
    let sent = false;
    release(() => {
      if (!sent) c.write('{}');
      sent = true;
    });
  });
}

describe(
  'HAProxy (exportHaproxy) retries a keyed request whose instance dies',
  { skip: needBinary(HAPROXY, 'haproxy') },
  () => {
    test('also when the body reached HAProxy after the head', async () => {
      const bad = await resettingServer();
      const good = createHttpServer((req, res) => {
        req.resume();
        req.on('end', () => res.end('good'));
      });
      await new Promise<void>((r) => good.listen(0, '127.0.0.1', r));
      const { port, proxy } = await exported('round-robin', [
        { id: 'bad', port: bad.port },
        { id: 'good', port: (good.address() as net.AddressInfo).port },
      ]);
      try {
        const answers: string[] = [];
        // Round-robin: of four requests, two start on the resetting instance.
        for (let k = 0; k < 4; k++) {
          answers.push(
            await postInTwoParts(port, (send) => {
              // The body goes once an instance has the head alone (HAProxy forwarded it without
              // waiting), or after 200 ms when none does (HAProxy holds the head for the body).
              bad.onHead(send);
              setTimeout(send, 200);
            }),
          );
        }
        assert.ok(bad.hits >= 1, 'the resetting instance got a request');
        // Without "option http-buffer-request" HAProxy connects as soon as it has the head, cannot
        // replay a request it did not have whole, and answers 502.
        assert.deepEqual(answers, Array(4).fill('HTTP/1.1 200 OK'));
      } finally {
        await proxy.stop();
        bad.close();
        good.close();
      }
    });
  },
);
