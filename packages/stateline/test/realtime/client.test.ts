/**
 * The client (`stateline/realtime/client`): backoff with jitter, the browser WebSocket API only,
 * the default `ws` in Node, failover across URLs, unconfirmed sends kept across a reconnect and
 * never sent twice when the history shows them stored, ping timeouts, and close().
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { isStatelineError } from '../../src/errors.js';
import { MemoryLog } from '../../src/log/index.js';
import type { AppendResult } from '../../src/log/types.js';
import {
  backoff,
  connect,
  type WebSocketConstructor,
  type WebSocketLike,
} from '../../src/realtime/client.js';
import { CLOSE_CODES } from '../../src/realtime/protocol.js';
import { eventually, freePort, sleep } from '../support/free-port.js';
import { Harness, type Running } from './harness.js';

/** Exposes only what a browser's WebSocket has (no EventEmitter, no headers, no ping). */
class BrowserLikeWebSocket implements WebSocketLike {
  static made = 0;
  private readonly ws: WebSocket;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(url: string, ...rest: unknown[]) {
    assert.equal(rest.length, 0, 'a browser WebSocket gets no options');
    BrowserLikeWebSocket.made++;
    this.ws = new WebSocket(url);
    this.ws.addEventListener('open', (e) => this.onopen?.(e));
    this.ws.addEventListener('message', (e) => this.onmessage?.({ data: e.data }));
    this.ws.addEventListener('close', (e) => this.onclose?.({ code: e.code, reason: e.reason }));
    this.ws.addEventListener('error', (e) => this.onerror?.(e));
  }
  get readyState(): number {
    return this.ws.readyState;
  }
  send(data: string): void {
    this.ws.send(data);
  }
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}

describe('realtime client', () => {
  const h = new Harness();
  after(() => h.close());

  it('backoff doubles from minDelay up to maxDelay, with jitter in the upper half', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const cap = Math.min(10_000, 100 * 2 ** attempt);
      assert.equal(
        backoff(attempt, 100, 10_000, () => 0),
        cap / 2,
      );
      assert.equal(
        backoff(attempt, 100, 10_000, () => 1),
        cap,
      );
    }
    const spread = new Set(Array.from({ length: 50 }, () => backoff(5, 100, 10_000)));
    assert.ok(spread.size > 10, 'delays are spread out');
    assert.ok([...spread].every((d) => d >= 1600 && d <= 3200));
  });

  it('runs on the browser WebSocket API alone', async () => {
    const { url } = await h.start();
    const a = connect(url, { WebSocket: BrowserLikeWebSocket as unknown as WebSocketConstructor });
    const b = connect(url, { WebSocket: BrowserLikeWebSocket as unknown as WebSocketConstructor });
    const got: string[] = [];
    b.on('message', (m) => got.push(m.text));
    await a.join('browser');
    await b.join('browser');
    await a.send('browser', 'from a browser');
    await eventually(() => got.length === 1);
    assert.deepEqual(got, ['from a browser']);
    assert.equal(BrowserLikeWebSocket.made, 2);
    a.close();
    b.close();
  });

  it('uses ws by default in Node', async () => {
    const { url } = await h.start();
    const c = connect(url);
    await c.join('default');
    assert.equal((await c.send('default', 'ok')).text, 'ok');
    c.close();
  });

  it('fails over to the next URL, and keeps unconfirmed sends until they are stored', async () => {
    const dead = `ws://127.0.0.1:${await freePort()}/realtime`;
    const { url } = await h.start();
    const c = h.client([dead, url]);
    const closes: number[] = [];
    c.on('close', (e) => closes.push(e.reconnectIn!));
    const sent = c.send('fo', 'x').catch((e: unknown) => e);
    assert.ok(isStatelineError(await sent, 'SL_ERR_REALTIME_NOT_JOINED'), 'send before join is refused');
    const joined = c.join('fo');
    const pending = [c.join('fo').then(() => c.send('fo', 'queued while connecting'))];
    await joined;
    assert.equal((await pending[0])!.text, 'queued while connecting');
    assert.ok(closes.length >= 1, 'the dead URL was tried first');
    assert.ok(closes.every((d) => d >= 10 && d <= 200));
  });

  it('a send stored just before its instance died is not sent again: the resumed history confirms it', async () => {
    let crashOnAppend: Running | undefined;
    const log = new (class extends MemoryLog {
      override async append(stream: string, data: string): Promise<AppendResult> {
        const r = await super.append(stream, data);
        const victim = crashOnAppend;
        crashOnAppend = undefined;
        if (victim) for (const s of victim.sockets) s.destroy(); // stored, but nobody hears of it here
        return r;
      }
    })();
    const hx = new Harness({ log });
    try {
      const one = await hx.start();
      const two = await hx.start();
      const c = hx.client([one.url, two.url]);
      await c.join('once', { since: 0 });
      crashOnAppend = one;
      const m = await c.send('once', 'exactly once');
      assert.equal(m.offset, 1);
      assert.equal(c.stats.reconnects, 1);
      assert.equal(c.stats.resent, 0, 'the history showed it stored');
      const all = await log.read('rt:once', 0);
      assert.equal(all.entries.length, 1);
    } finally {
      await hx.close();
    }
  });

  it('a link that stops answering is closed with 4000 after pingTimeout and reconnected', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    let connections = 0;
    wss.on('connection', () => connections++); // accepts, then never answers anything
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const c = connect(url, { pingInterval: 100, pingTimeout: 100, minDelay: 20, maxDelay: 50 });
    const codes: number[] = [];
    c.on('close', (e) => codes.push(e.code));
    await eventually(() => connections >= 2, 3000);
    assert.equal(codes[0], CLOSE_CODES.CLIENT_TIMEOUT);
    c.close();
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.close();
  });

  it('close() rejects pending joins and sends with SL_ERR_CLOSED and stops reconnecting', async () => {
    const c = h.client(`ws://127.0.0.1:${await freePort()}/realtime`);
    const join = c.join('x').catch((e: unknown) => e);
    c.close();
    assert.ok(isStatelineError(await join, 'SL_ERR_CLOSED'));
    await assert.rejects(c.send('x', 'late'), (e) => isStatelineError(e, 'SL_ERR_CLOSED'));
    const opened = c.stats.reconnects;
    await sleep(100);
    assert.equal(c.stats.reconnects, opened);
  });
});
