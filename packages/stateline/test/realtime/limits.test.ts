/**
 * Must show 2 (in one process): slow-consumer policies, size and rate limits, bad input, and
 * authentication (rooms that need a session, hubs that need one, Origin checks). In every case
 * the hub keeps running and the other sockets in the room are unaffected.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { StatelineError, isStatelineError } from '../../src/errors.js';
import { createHub, type Hub } from '../../src/realtime/index.js';
import { CLOSE_CODES } from '../../src/realtime/protocol.js';
import { createSessions } from '../../src/session/index.js';
import type { SessionManager } from '../../src/session/types.js';
import { eventually, sleep } from '../support/free-port.js';
import { Jar, request } from '../session/client.js';
import { Harness } from './harness.js';
import { RawClient } from './raw-client.js';

/**
 * Server-side posts at about one per ms, so the healthy client (in this process) reads between
 * fan-out batches: it must never be the one that falls behind.
 */
async function publishPaced(hub: Hub, room: string, n: number, text: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    await hub.publish(room, text);
    await sleep(1);
  }
}

const offsets = (c: RawClient) => c.of('message').map((m) => m.offset as number);

describe('realtime limits', () => {
  const h = new Harness();
  after(() => h.close());

  describe('slow consumers', () => {
    // 2,000 messages of 8 KiB (16 MB) cannot all sit in the kernel buffers of a socket nobody reads.
    const N = 2000;
    const TEXT = 'x'.repeat(8 * 1024);

    it("'disconnect': the stalled socket is closed with 4507, a healthy one in the room gets everything", async () => {
      const { hub, port, url } = await h.start({ queueLimit: 50, slowConsumer: 'disconnect' });
      const healthy = h.client(url);
      const got: number[] = [];
      healthy.on('message', (m) => got.push(m.offset));
      await healthy.join('slow-d', { since: 0 });
      const stalled = await RawClient.connect(port);
      stalled.send({ type: 'join', room: 'slow-d' });
      await stalled.until(() => stalled.of('joined').length === 1);
      stalled.pause();
      const publishing = publishPaced(hub, 'slow-d', N, TEXT);
      await eventually(() => hub.stats.slowConsumers === 1, 20_000);
      // Read again at once: the hub destroys a closed socket that has not taken its close frame
      // within 5 s, and on a loaded machine the rest of the publishing can take longer than that.
      stalled.resume();
      await publishing;
      await eventually(() => got.length === N, 20_000);
      assert.deepEqual(
        got,
        Array.from({ length: N }, (_, i) => i + 1),
      );
      await stalled.until(() => stalled.ended || stalled.closeCode !== undefined, 15_000);
      assert.equal(stalled.closeCode, CLOSE_CODES.SLOW_CONSUMER);
      assert.equal(stalled.closeReason, 'SL_ERR_REALTIME_SLOW_CONSUMER');
      assert.ok(offsets(stalled).length < N, 'it did not get everything before it was cut off');
      assert.equal(hub.stats.dropped, 0);
    });

    it("'drop-oldest': the stalled socket stays open, loses the oldest waiting messages and still gets the newest", async () => {
      const { hub, port, url } = await h.start({ queueLimit: 50, slowConsumer: 'drop-oldest' });
      const healthy = h.client(url);
      const got: number[] = [];
      healthy.on('message', (m) => got.push(m.offset));
      await healthy.join('slow-o', { since: 0 });
      const stalled = await RawClient.connect(port);
      stalled.send({ type: 'join', room: 'slow-o' });
      await stalled.until(() => stalled.of('joined').length === 1);
      stalled.pause();
      await publishPaced(hub, 'slow-o', N, TEXT);
      await eventually(() => got.length === N, 20_000);
      assert.equal(healthy.stats.reconnects, 0, 'the healthy client was never cut off');
      assert.ok(hub.stats.dropped > 0, 'frames were dropped');
      stalled.resume();
      await stalled.until(() => offsets(stalled).at(-1) === N, 15_000);
      const seen = offsets(stalled);
      assert.ok(seen.length < N, 'some messages were dropped');
      assert.equal(
        seen.length + hub.stats.dropped,
        N,
        'every message was either delivered or counted as dropped',
      );
      assert.ok(
        seen.every((o, i) => i === 0 || o > seen[i - 1]!),
        'what it got is in offset order',
      );
      assert.equal(stalled.closeCode, undefined, 'still open');
      assert.equal(hub.stats.slowConsumers, 0);
      stalled.close();
    });
  });

  describe('size and rate limits, bad input', () => {
    it('a frame over maxMessageBytes closes with 4413; over the hard cap ws refuses it with 1009; others are unaffected', async () => {
      const { port, url, hub } = await h.start({ maxMessageBytes: 1024 });
      const bystander = h.client(url);
      const got: string[] = [];
      bystander.on('message', (m) => got.push(m.text));
      await bystander.join('size');
      const big = await RawClient.connect(port);
      big.send({ type: 'join', room: 'size' });
      await big.until(() => big.of('joined').length === 1);
      big.send({ type: 'send', room: 'size', id: 'a', text: 'y'.repeat(2000) });
      await big.until(() => big.closeCode !== undefined);
      assert.equal(big.closeCode, CLOSE_CODES.MESSAGE_TOO_LARGE);
      assert.equal(big.closeReason, 'SL_ERR_REALTIME_MESSAGE_TOO_LARGE');
      const huge = await RawClient.connect(port);
      huge.sendFrame(Buffer.alloc(70 * 1024, 0x20));
      await huge.until(() => huge.closeCode !== undefined);
      assert.equal(huge.closeCode, CLOSE_CODES.FRAME_TOO_LARGE);
      // The client library refuses before sending when it knows the limit: no close.
      const careful = h.client(url, { maxMessageBytes: 1024 });
      await careful.join('size');
      await assert.rejects(careful.send('size', 'z'.repeat(2000)), (e) =>
        isStatelineError(e, 'SL_ERR_REALTIME_MESSAGE_TOO_LARGE'),
      );
      assert.equal(careful.stats.reconnects, 0);
      // When it does not, the hub's 4413 rejects that send (never resent), and the client reconnects.
      const careless = h.client(url);
      await careless.join('size');
      await assert.rejects(careless.send('size', 'z'.repeat(2000)), (e) =>
        isStatelineError(e, 'SL_ERR_REALTIME_MESSAGE_TOO_LARGE'),
      );
      await careless.send('size', 'still fine');
      assert.equal(careless.stats.reconnects, 1);
      await bystander.send('size', 'bystander unaffected');
      await eventually(() => got.length === 2);
      assert.deepEqual(got, ['still fine', 'bystander unaffected']);
      assert.equal(bystander.stats.reconnects, 0);
      assert.equal(hub.stats.appended, 2, 'nothing oversized was stored');
    });

    it('a flood gets error frames with retryAfter, then a close with 4429; a polite client in the room is unaffected', async () => {
      const { port, url, hub } = await h.start({ rateLimit: { messages: 5, per: 1000, burst: 5 } });
      const polite = h.client(url);
      const got: string[] = [];
      polite.on('message', (m) => got.push(m.text));
      await polite.join('rate');
      const flood = await RawClient.connect(port);
      flood.send({ type: 'join', room: 'rate' }); // token 1
      await flood.until(() => flood.of('joined').length === 1);
      for (let i = 0; i < 4; i++) flood.send({ type: 'send', room: 'rate', id: `ok${i}`, text: `ok${i}` }); // tokens 2-5
      for (let i = 0; i < 3; i++) flood.send({ type: 'send', room: 'rate', id: `no${i}`, text: `no${i}` });
      await flood.until(() => flood.of('error').length === 3);
      for (const e of flood.of('error')) {
        assert.equal(e.code, 'SL_ERR_REALTIME_RATE_LIMITED');
        assert.equal(e.room, 'rate');
        assert.ok((e.retryAfter as number) > 0 && (e.retryAfter as number) <= 1000);
      }
      assert.deepEqual(
        flood.of('error').map((e) => e.id),
        ['no0', 'no1', 'no2'],
      );
      for (let i = 0; i < 20 && flood.closeCode === undefined; i++) flood.send({ type: 'ping' });
      await flood.until(() => flood.closeCode !== undefined);
      assert.equal(flood.closeCode, CLOSE_CODES.RATE_LIMITED);
      await polite.send('rate', 'after the flood');
      await eventually(() => got.includes('after the flood'));
      assert.deepEqual(
        got.filter((t) => t.startsWith('no')),
        [],
        'refused sends were not stored',
      );
      assert.equal(got.filter((t) => t.startsWith('ok')).length, 4);
      assert.equal(hub.stats.appended, 5);
    });

    it('the client library waits retryAfter and resends a rate-limited message', async () => {
      const { url } = await h.start({ rateLimit: { messages: 10, per: 500, burst: 3 } });
      const c = h.client(url);
      await c.join('rate2');
      const sent = await Promise.all(Array.from({ length: 8 }, (_, i) => c.send('rate2', `m${i}`)));
      assert.deepEqual(sent.map((m) => m.text).sort(), Array.from({ length: 8 }, (_, i) => `m${i}`).sort());
      assert.ok(c.stats.resent > 0, 'some were refused and resent');
      assert.equal(new Set(sent.map((m) => m.offset)).size, 8);
    });

    it('malformed JSON, unknown types, invalid fields, binary frames and unjoined sends get error frames; the socket stays open', async () => {
      const { port, url, hub } = await h.start();
      const other = h.client(url);
      await other.join('bad');
      const c = await RawClient.connect(port);
      const bad: Array<[string | Buffer, string]> = [
        ['{not json', 'SL_ERR_REALTIME_BAD_FRAME'],
        ['[1,2]', 'SL_ERR_REALTIME_BAD_FRAME'],
        ['{"type":"dance"}', 'SL_ERR_REALTIME_BAD_FRAME'],
        ['{"type":"join","room":"no spaces"}', 'SL_ERR_REALTIME_BAD_FRAME'],
        ['{"type":"join","room":"bad","since":-1}', 'SL_ERR_REALTIME_BAD_FRAME'],
        ['{"type":"send","room":"bad","id":"","text":"x"}', 'SL_ERR_REALTIME_BAD_FRAME'],
        ['{"type":"send","room":"bad","id":"x","text":42}', 'SL_ERR_REALTIME_BAD_FRAME'],
        ['{"type":"send","room":"bad","id":"x","text":"not joined"}', 'SL_ERR_REALTIME_NOT_JOINED'],
      ];
      for (const [frame] of bad) c.sendFrame(Buffer.from(frame));
      c.sendFrame(Buffer.from([1, 2, 3]), 2);
      await c.until(() => c.of('error').length === bad.length + 1);
      assert.deepEqual(
        c.of('error').map((e) => e.code),
        [...bad.map(([, code]) => code), 'SL_ERR_REALTIME_BAD_FRAME'],
      );
      c.send({ type: 'ping' });
      await c.until(() => c.of('pong').length === 1);
      assert.equal(c.closeCode, undefined);
      await other.send('bad', 'unaffected');
      assert.equal(hub.stats.appended, 1);
      c.close();
    });

    it('a socket may join at most maxRoomsPerSocket rooms', async () => {
      const { port } = await h.start({ maxRoomsPerSocket: 2 });
      const c = await RawClient.connect(port);
      for (const room of ['r1', 'r2', 'r3']) c.send({ type: 'join', room });
      await c.until(() => c.of('joined').length === 2 && c.of('error').length === 1);
      assert.equal(c.of('error')[0]!.code, 'SL_ERR_REALTIME_TOO_MANY_ROOMS');
      assert.equal(c.of('error')[0]!.room, 'r3');
      c.close();
    });
  });

  describe('authentication', () => {
    let sessions: SessionManager;
    let cookie: string;
    before(async () => {
      sessions = await createSessions({ strategy: 'server', store: 'memory:', keys: ['k'.repeat(32)] });
      const jar = new Jar();
      await request(sessions, jar, (s) => s.login('alice'));
      cookie = jar.header()!;
    });
    after(() => sessions.close());

    it('a room that needs a session refuses anonymous joins; a logged-in socket joins and sends as its user', async () => {
      const { url, port } = await h.start({
        sessions,
        rooms: (name) =>
          name === 'staff' ? { anonymous: false } : name === 'hall' ? { anonymous: true } : null,
      });
      const anon = await RawClient.connect(port);
      anon.send({ type: 'join', room: 'staff' });
      anon.send({ type: 'join', room: 'hall' });
      anon.send({ type: 'join', room: 'nowhere' });
      await anon.until(() => anon.of('error').length === 2 && anon.of('joined').length === 1);
      assert.deepEqual(
        anon.of('error').map((e) => [e.room, e.code]),
        [
          ['staff', 'SL_ERR_REALTIME_UNAUTHENTICATED'],
          ['nowhere', 'SL_ERR_REALTIME_FORBIDDEN'],
        ],
      );
      anon.send({ type: 'send', room: 'staff', id: 'sneak', text: 'let me in' });
      await anon.until(() => anon.of('error').length === 3);
      assert.equal(anon.of('error')[2]!.code, 'SL_ERR_REALTIME_NOT_JOINED');

      const alice = h.client(url, { headers: { cookie } });
      await alice.join('staff', { since: 0 });
      const m = await alice.send('staff', 'hello staff');
      assert.equal(m.from, 'alice');
      // The client library gives up on a room refused for good.
      const anonClient = h.client(url);
      await assert.rejects(anonClient.join('staff'), (e) =>
        isStatelineError(e, 'SL_ERR_REALTIME_UNAUTHENTICATED'),
      );
      anon.close();
    });

    it('canJoin / canSend policies refuse with SL_ERR_REALTIME_FORBIDDEN', async () => {
      const { url } = await h.start({
        sessions,
        rooms: () => ({
          anonymous: true,
          canJoin: async (who) => who.userId !== 'mallory',
          canSend: (who) => who.userId === 'alice',
        }),
      });
      const reader = h.client(url);
      await reader.join('news');
      await assert.rejects(reader.send('news', 'hi'), (e) =>
        isStatelineError(e, 'SL_ERR_REALTIME_FORBIDDEN'),
      );
      const alice = h.client(url, { headers: { cookie } });
      await alice.join('news');
      assert.equal((await alice.send('news', 'announcement')).from, 'alice');
    });

    it('a room policy that throws refuses that join with SL_ERR_INTERNAL and nothing else', async () => {
      const { port } = await h.start({
        maxRoomsPerSocket: 1,
        rooms: (name) => {
          if (name === 'broken') throw new Error('policy bug');
          return { anonymous: true };
        },
      });
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on('warning', onWarning);
      const c = await RawClient.connect(port);
      c.send({ type: 'join', room: 'broken' });
      await c.until(() => c.of('error').length === 1);
      assert.deepEqual(
        [c.of('error')[0]!.code, c.of('error')[0]!.message],
        ['SL_ERR_INTERNAL', 'Something went wrong inside the server'],
      );
      // The failed join does not hold the socket's only room slot.
      c.send({ type: 'join', room: 'fine' });
      await c.until(() => c.of('joined').length === 1);
      await eventually(() => warnings.some((w) => w.includes('policy bug')));
      process.off('warning', onWarning);
      c.close();
    });

    it('a hub with anonymous: false closes sockets without a session with 4401 (and the client stops)', async () => {
      const { port, url } = await h.start({ sessions, anonymous: false });
      const anon = await RawClient.connect(port);
      await anon.until(() => anon.closeCode !== undefined);
      assert.equal(anon.closeCode, CLOSE_CODES.UNAUTHENTICATED);
      const client = h.client(url);
      const errors: unknown[] = [];
      client.on('error', (e) => errors.push(e));
      await assert.rejects(client.join('x'), (e) => isStatelineError(e, 'SL_ERR_REALTIME_UNAUTHENTICATED'));
      await sleep(300);
      assert.equal(client.stats.reconnects, 0, 'no reconnect loop');
      const alice = h.client(url, { headers: { cookie } });
      await alice.join('x');
    });

    it('browser upgrades from another Origin are refused with 403 (same-host by default, or the allow-list)', async () => {
      const { port } = await h.start();
      await assert.rejects(RawClient.connect(port, { headers: { Origin: 'https://evil.example' } }), /403/);
      await RawClient.connect(port, { headers: { Origin: `http://127.0.0.1:${port}` } }).then((c) =>
        c.close(),
      );
      const listed = await h.start({ origins: ['https://app.example'] });
      await RawClient.connect(listed.port, { headers: { Origin: 'https://app.example' } }).then((c) =>
        c.close(),
      );
      await assert.rejects(
        RawClient.connect(listed.port, { headers: { Origin: `http://127.0.0.1:${listed.port}` } }),
        /403/,
      );
    });

    it('an unreachable session store answers the upgrade with 503, and the hub keeps serving', async () => {
      const broken = {
        load: () => Promise.reject(new StatelineError('SL_ERR_STORE_UNAVAILABLE', 'down')),
      } as unknown as SessionManager;
      const server = http.createServer();
      const hub = await createHub({ server, log: h.log, bus: h.bus(), sessions: broken });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      await assert.rejects(RawClient.connect(port), / 503 /);
      // Another path on a server where the hub is the only upgrade listener: 404, not a hang.
      await assert.rejects(RawClient.connect(port, { path: '/elsewhere' }), /404/);
      const ws = new WebSocket(`ws://127.0.0.1:${port}/realtime`);
      const status = await new Promise<number>((r) =>
        ws.on('unexpected-response', (_req, res) => r(res.statusCode ?? 0)),
      );
      assert.equal(status, 503);
      await hub.close();
      server.close();
    });
  });
});
