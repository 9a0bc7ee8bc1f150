import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../src/index.js';
import { createGateway } from '../src/index.js';
import { BIG_BYTES, startBackends, type Backend } from './support/backend.js';
import { Client, gatewayFor, sleep, waitFor } from './support/client.js';

/** Sends raw bytes and collects everything the gateway answers until it closes the connection. */
function raw(
  port: number,
  bytes: string | Buffer,
  { closeAfterMs }: { closeAfterMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(bytes);
    if (closeAfterMs !== undefined) setTimeout(() => socket.destroy(), closeAfterMs);
  });
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
}

/** The body of a raw answer, de-chunked when it came chunked. */
function bodyOf(answer: string): string {
  const split = answer.indexOf('\r\n\r\n');
  let rest = answer.slice(split + 4);
  if (!/transfer-encoding: chunked/i.test(answer.slice(0, split))) return rest;
  let out = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 4 + size);
  }
}

function problemOf(answer: string): { code: string; status: number } {
  return JSON.parse(bodyOf(answer)) as { code: string; status: number };
}

describe('bad input', () => {
  let backends: Backend[];
  let gw: Gateway;
  let base: string;
  let port: number;
  before(async () => {
    backends = await startBackends(2);
    ({ gw, base } = await gatewayFor(backends, { balance: 'round-robin' }));
    port = Number(new URL(base).port);
  });
  after(async () => {
    await gw.close();
    await Promise.all(backends.map((b) => b.kill()));
  });

  test('a malformed request line gets a 400 problem and the connection closes', async () => {
    const answer = await raw(port, 'HELLO THERE\r\n\r\n');
    assert.equal(statusOf(answer), 400);
    assert.match(answer, /content-type: application\/problem\+json/);
    assert.match(answer, /connection: close/);
    assert.equal(problemOf(answer).code, 'SL_ERR_BAD_REQUEST');
  });

  test('headers over the limit get 431', async () => {
    const answer = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(statusOf(answer), 431);
    assert.equal(problemOf(answer).code, 'SL_ERR_REQUEST_HEADERS_TOO_LARGE');
  });

  test('bad framing: invalid Content-Length, both framings, an unknown coding', async () => {
    for (const head of [
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    ]) {
      const answer = await raw(port, head);
      assert.equal(statusOf(answer), 400, head);
      assert.equal(problemOf(answer).code, 'SL_ERR_BAD_REQUEST');
    }
  });

  test('targets: absolute-form is relayed as a path, "*" and a missing Host are refused', async () => {
    const abs = await raw(
      port,
      'GET http://example.test/headers?x=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n',
    );
    assert.equal(statusOf(abs), 200);
    assert.ok(backends.some((b) => b.hits.some((s) => s.url === '/headers?x=1')));
    const star = await raw(port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(statusOf(star), 400);
    const noHost = await raw(port, 'GET / HTTP/1.1\r\n\r\n');
    assert.equal(statusOf(noHost), 400);
    assert.match(problemOf(noHost).code, /SL_ERR_BAD_REQUEST/);
  });

  test('hop-by-hop headers stop at the gateway; X-Forwarded-* are added', async () => {
    const answer = await raw(
      port,
      'GET /hop HTTP/1.1\r\nHost: gw.test\r\nConnection: close, x-secret\r\nX-Secret: 1\r\nTE: trailers\r\n' +
        'Keep-Alive: timeout=9\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n\r\n',
    );
    assert.equal(statusOf(answer), 200);
    const head = answer.slice(0, answer.indexOf('\r\n\r\n')).toLowerCase();
    const seen = JSON.parse(bodyOf(answer)) as Record<string, string>;
    assert.equal(seen['x-secret'], undefined, "named by the client's Connection header");
    assert.equal(seen.te, undefined);
    assert.equal(seen['keep-alive'], undefined);
    assert.equal(seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http', 'never trusted from the client');
    assert.equal(seen['x-forwarded-host'], 'gw.test');
    assert.equal(seen.host, 'gw.test', 'Host is passed on');
    assert.doesNotMatch(head, /x-internal/, "named by the instance's Connection header");
    assert.doesNotMatch(head, /keep-alive: timeout=5/);
    assert.match(head, /x-stateline-instance: b\d/);
  });

  test("proof: the gateway sets its own header on every forwarded request and drops a client's copy", async () => {
    const proven = await gatewayFor(backends, {
      balance: 'round-robin',
      proof: { header: 'X-Stateline-Gateway', value: 'a-secret-of-the-cluster-0123' },
    });
    try {
      const answer = await raw(
        Number(new URL(proven.base).port),
        'GET /hop HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\nX-Stateline-Gateway: forged-by-the-client\r\n\r\n',
      );
      assert.equal(statusOf(answer), 200);
      const seen = JSON.parse(bodyOf(answer)) as Record<string, string>;
      assert.equal(seen['x-stateline-gateway'], 'a-secret-of-the-cluster-0123', "only the gateway's value");
    } finally {
      await proven.gw.close();
    }
    assert.throws(
      () => createGateway({ proof: { header: 'X-Stateline-Gateway', value: 'short' } }),
      /SL_ERR_INVALID_OPTION|proof\.value/,
    );
  });

  test('a chunked request body arrives whole', async () => {
    const body = 'a'.repeat(5000);
    const answer = await raw(
      port,
      `POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n${(2500).toString(16)}\r\n${body.slice(0, 2500)}\r\n${(2500).toString(16)}\r\n${body.slice(2500)}\r\n0\r\n\r\n`,
    );
    assert.equal(statusOf(answer), 200);
    assert.match(answer, /x-body-bytes: 5000/);
  });

  test('a client leaving mid-upload or mid-response breaks nothing and frees the instance', async () => {
    // Mid-upload: 10 of 1,000 announced bytes, then gone (buffered path) — and with a large body (streaming path).
    await raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789', {
      closeAfterMs: 30,
    });
    await raw(port, `PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n${'z'.repeat(100_000)}`, {
      closeAfterMs: 50,
    });
    // Mid-response: the instance is streaming for two seconds; the client leaves after 100 ms.
    const before = backends.reduce((n, b) => n + b.streamsClosedEarly, 0);
    const answer = await raw(port, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n', { closeAfterMs: 100 });
    assert.equal(statusOf(answer), 200);
    await waitFor(
      () => backends.reduce((n, b) => n + b.streamsClosedEarly, 0) === before + 1,
      2000,
      'upstream aborted',
    );
    await waitFor(() => gw.instances().every((i) => i.inflight === 0), 2000, 'nothing left in flight');
    const c = new Client(base);
    const ok = await c.send('/');
    assert.equal(ok.status, 200);
    await c.close();
  });

  test('a slow client gets the whole response (backpressure)', async () => {
    const socket = net.connect(port, '127.0.0.1');
    socket.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    socket.pause();
    await sleep(300);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.resume();
    await new Promise((r) => socket.on('close', r));
    const answer = Buffer.concat(chunks).toString('latin1');
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    assert.match(answer, new RegExp(`content-length: ${BIG_BYTES}`, 'i'));
    assert.equal(body.length, BIG_BYTES);
    assert.ok(/^y+$/.test(body));
  });
});
