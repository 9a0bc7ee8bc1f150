/**
 * The lab's `errors.retryable` counter: a 5xx or a lost answer counts there only for requests a
 * proxy may retry on another instance (idempotent methods, an Idempotency-Key), which is what
 * `--proxy haproxy` runs are held to (0 through an instance kill).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Agent } from 'undici';
import { HttpClient, RESENT, SAFE_ERRORS } from '../src/run/http-client.js';
import { mulberry32 } from '../src/run/prng.js';
import { Recorder } from '../src/run/recorder.js';

const server = createServer((req, res) => {
  if (req.url === '/reset') return void req.socket.destroy();
  res.statusCode = 503;
  res.end('{}');
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
const dispatcher = new Agent();
after(async () => {
  server.close();
  await dispatcher.close();
});

describe('errors.retryable', () => {
  it('counts failed GET, PUT and keyed POST, not a POST without a key', async () => {
    const rec = new Recorder();
    const http = new HttpClient({ base, dispatcher, random: mulberry32(1), rec });
    await http.request('POST', '/login', { json: {} });
    await http.request('POST', '/reset');
    assert.equal(rec.counterValues()[SAFE_ERRORS], undefined);
    await http.request('GET', '/cart');
    await http.request('PUT', '/reset');
    await http.request('POST', '/orders', { headers: { 'idempotency-key': 'k1' } });
    assert.equal(rec.counterValues()[SAFE_ERRORS], 3);
    assert.equal(rec.errors, 5);
    // The PUT was sent twice (closed unanswered both times) and counted once.
    assert.equal(rec.counterValues()[RESENT], 1);
    rec.destroy();
  });
});

/**
 * HAProxy's way with a keep-alive connection whose request failed on every instance it tried:
 * it closes the connection without an answer (a 502 only on a connection's first request). This
 * stand-in does that to the second request of every connection; `/partial` instead gets a head
 * and half its body before the close.
 */
const closing = net.createServer((socket) => {
  socket.on('error', () => {});
  let n = 0;
  let data = '';
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('latin1');
    for (let end = data.indexOf('\r\n\r\n'); end >= 0; end = data.indexOf('\r\n\r\n')) {
      const head = data.slice(0, end);
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (data.length < end + 4 + length) return;
      data = data.slice(end + 4 + length);
      if (head.includes(' /partial ')) {
        socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{"a":');
        return;
      }
      if (++n === 2) return void socket.destroy();
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}');
    }
  });
});
await new Promise<void>((r) => closing.listen(0, '127.0.0.1', r));
const closingBase = `http://127.0.0.1:${(closing.address() as net.AddressInfo).port}`;
after(() => closing.close());

describe('a keep-alive connection closed without an answer', () => {
  it('a safe or keyed request is sent once more, as browsers do; a POST without a key is not', async () => {
    const rec = new Recorder();
    const one = new Agent({ connections: 1 });
    const http = new HttpClient({ base: closingBase, dispatcher: one, random: mulberry32(1), rec });
    try {
      assert.equal((await http.request('GET', '/cart'))?.status, 200);
      // Each one the second request on its connection: closed unanswered, sent again on a new
      // connection (where it is the first).
      assert.equal((await http.request('GET', '/cart'))?.status, 200);
      assert.equal((await http.request('PUT', '/cart'))?.status, 200);
      assert.equal(
        (await http.request('POST', '/orders', { json: {}, headers: { 'idempotency-key': 'k1' } }))?.status,
        200,
      );
      assert.equal(rec.counterValues()[RESENT], 3);
      assert.equal(rec.errors, 0);
      assert.equal(rec.counterValues()[SAFE_ERRORS], undefined);
      // A POST without a key may have taken effect: the user sees the failure.
      assert.equal(await http.request('POST', '/cart/items', { json: {} }), null);
      assert.equal(rec.counterValues()[RESENT], 3);
      assert.equal(rec.errors, 1);
      assert.equal(rec.counterValues()[SAFE_ERRORS], undefined);
    } finally {
      rec.destroy();
      await one.close();
    }
  });

  it('a request whose answer had begun is not sent again', async () => {
    const rec = new Recorder();
    const http = new HttpClient({ base: closingBase, dispatcher, random: mulberry32(1), rec });
    assert.equal(await http.request('GET', '/partial'), null);
    assert.equal(rec.counterValues()[RESENT], undefined);
    assert.equal(rec.counterValues()[SAFE_ERRORS], 1);
    rec.destroy();
  });
});
