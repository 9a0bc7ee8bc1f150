/**
 * Batch frames: under load a flush that carries several messages goes to a client that asked for
 * batches (`?batch=1`, as the client library does) as ONE frame holding a JSON array of `message`
 * frames, built once and shared by every such socket; a quiet room's lone message and clients
 * that did not ask still get single frames. Offsets, resume and the slow-consumer bounds hold.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Connection, Outgoing } from '../../src/realtime/connection.js';
import { FanOut } from '../../src/realtime/fan-out.js';
import type { Member } from '../../src/realtime/membership.js';
import type { Hub } from '../../src/realtime/index.js';
import type { MessageFrame } from '../../src/realtime/protocol.js';
import { CLOSE_CODES } from '../../src/realtime/protocol.js';
import { batchFrame, textFrame } from '../../src/realtime/ws-frame.js';
import { eventually, sleep } from '../support/free-port.js';
import { Harness } from './harness.js';
import { RawClient } from './raw-client.js';

const seq = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const offsets = (c: RawClient) => c.of('message').map((m) => m.offset as number);

/** Publishes `bursts` × `size` messages; each burst in one turn, so its deliveries share a flush. */
async function publishBursts(hub: Hub, room: string, bursts: number, size: number, text = 'm') {
  for (let b = 0; b < bursts; b++) {
    await Promise.all(Array.from({ length: size }, (_, i) => hub.publish(room, `${text}${b}-${i}`)));
    await sleep(1);
  }
}

/** The payload of an unmasked frame built by textFrame/batchFrame, checking its header. */
function payloadOf(frame: Buffer): string {
  assert.equal(frame[0], 0x81, 'FIN + text');
  const n7 = frame[1]! & 0x7f;
  const [len, off] =
    n7 < 126 ? [n7, 2] : n7 === 126 ? [frame.readUInt16BE(2), 4] : [Number(frame.readBigUInt64BE(2)), 10];
  assert.equal(frame.length, off + len, 'the length field matches the payload');
  return frame.subarray(off).toString('utf8');
}

describe('realtime batch frames', () => {
  const h = new Harness();
  after(() => h.close());

  it('batchFrame: one text frame holding the JSON array of the frames, for every length encoding', () => {
    for (const size of [1, 100, 40_000, 70_000]) {
      const items = [{ a: 'x'.repeat(size) }, { b: 2 }, { c: 'é' }];
      const frame = batchFrame(items.map((o) => textFrame(JSON.stringify(o))));
      assert.deepEqual(JSON.parse(payloadOf(frame)), items, `items of ${size} bytes`);
    }
    assert.deepEqual(JSON.parse(payloadOf(batchFrame([textFrame('{"only":1}')]))), [{ only: 1 }]);
  });

  it('FanOut: one shared batch frame to the sockets that read batches and need all of it; the others get single frames', async () => {
    const writes: Record<string, Array<{ kind: string; frame: Buffer; n: number }>> = {};
    const fake = (name: string, batches: boolean) => {
      writes[name] = [];
      return {
        batches,
        writeShared(frame: Buffer, count: number, to: number) {
          writes[name]!.push({ kind: 'shared', frame, n: count });
          return to;
        },
        writeBatch(batch: readonly Outgoing[], last: number) {
          for (const o of batch)
            if (o.offset > last) {
              writes[name]!.push({ kind: 'single', frame: o.frame, n: 1 });
              last = o.offset;
            }
          return last;
        },
      } as unknown as Connection;
    };
    const member = (conn: Connection, last: number): Member => ({
      conn,
      last,
      catching: null,
      overflow: false,
      restart: false,
      joined: true,
    });
    const members = new Map<Connection, Member>();
    for (const [name, batches, last] of [
      ['a', true, 0],
      ['b', true, 0],
      ['behind-edge', true, 2], // already has offset 2 (from the Log): gets 3 and 4 singly
      ['old', false, 0],
    ] as const) {
      const conn = fake(name, batches);
      members.set(conn, member(conn, last));
    }
    const fanOut = new FanOut(members, 10, 100);
    const frames = [1, 2, 3, 4].map((o) => textFrame(JSON.stringify({ type: 'message', offset: o })));
    frames.forEach((f, i) => fanOut.push(i + 1, f));
    await new Promise((r) => setImmediate(r));
    assert.equal(writes.a!.length, 1);
    assert.equal(writes.a![0]!.kind, 'shared');
    assert.equal(writes.a![0]!.n, 4);
    assert.equal(writes.b![0]!.frame, writes.a![0]!.frame, 'the same Buffer for every socket');
    assert.deepEqual(
      (JSON.parse(payloadOf(writes.a![0]!.frame)) as Array<{ offset: number }>).map((m) => m.offset),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      writes['behind-edge']!.map((w) => [w.kind, w.frame]),
      [
        ['single', frames[2]],
        ['single', frames[3]],
      ],
    );
    assert.deepEqual(
      writes.old!.map((w) => w.kind),
      ['single', 'single', 'single', 'single'],
    );
    for (const m of members.values()) assert.equal(m.last, 4);
    // A lone message (the quiet path) is a single frame for everyone.
    await sleep(15);
    const lone = textFrame(JSON.stringify({ type: 'message', offset: 5 }));
    fanOut.push(5, lone);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      writes.a!.slice(1).map((w) => [w.kind, w.frame]),
      [['single', lone]],
    );
  });

  it('under load the client library and raw ?batch=1 sockets get batch frames, others single frames: all in order, once each', async () => {
    const { hub, port, url } = await h.start({ flushInterval: 20 });
    const lib = h.client(url);
    const got: MessageFrame[] = [];
    lib.on('message', (m) => got.push(m));
    await lib.join('burst');
    const batcher = await RawClient.connect(port, { path: '/realtime?batch=1' });
    const single = await RawClient.connect(port);
    for (const c of [batcher, single]) {
      c.send({ type: 'join', room: 'burst' });
      await c.until(() => c.of('joined').length === 1);
    }
    const N = 10 * 20;
    await publishBursts(hub, 'burst', 10, 20);
    await batcher.until(() => offsets(batcher).length >= N);
    await single.until(() => offsets(single).length >= N);
    await eventually(() => got.length >= N);
    await sleep(50);
    assert.deepEqual(offsets(batcher), seq(1, N));
    assert.deepEqual(offsets(single), seq(1, N));
    assert.deepEqual(
      got.map((m) => m.offset),
      seq(1, N),
    );
    assert.deepEqual(
      got.map((m) => m.text),
      seq(0, 9).flatMap((b) => seq(0, 19).map((i) => `m${b}-${i}`)),
    );
    assert.ok(batcher.batches.length > 0, 'batch frames were sent');
    assert.ok(
      batcher.batches.every((b) => b.length > 1),
      'a batch frame holds several messages',
    );
    assert.ok(batcher.batches.length < N / 2, `${batcher.batches.length} batch frames for ${N} messages`);
    assert.deepEqual(single.batches, [], 'a socket that did not ask gets no batch frame');
    assert.equal(lib.stats.duplicates, 0);
    assert.equal(hub.stats.deliveries, 3 * N, 'deliveries count messages, not frames');
    // Quiet again: a lone message is written as a single frame at once.
    await sleep(50);
    const frames = batcher.batches.length;
    await hub.publish('burst', 'lone');
    await batcher.until(() => offsets(batcher).length === N + 1);
    assert.equal(batcher.batches.length, frames);
    batcher.close();
    single.close();
  });

  it('resume across a batch boundary: a join since an offset inside a batch, and a crash between batches, give every later message once', async () => {
    const one = await h.start({ flushInterval: 20, rateLimit: false });
    const two = await h.start({ flushInterval: 20, rateLimit: false });
    const reader = h.client([one.url, two.url]);
    const got: MessageFrame[] = [];
    reader.on('message', (m) => got.push(m));
    await reader.join('resume-b', { since: 0 });
    const batcher = await RawClient.connect(one.port, { path: '/realtime?batch=1' });
    batcher.send({ type: 'join', room: 'resume-b' });
    await batcher.until(() => batcher.of('joined').length === 1);
    await publishBursts(two.hub, 'resume-b', 5, 20);
    await batcher.until(() => offsets(batcher).length >= 100);
    assert.ok(batcher.batches.length > 0, 'batch frames were sent');
    // An offset in the middle of the first batch frame: resuming from it gives exactly the rest.
    const firstBatch = batcher.batches[0]!.map((m) => m.offset as number);
    const mid = firstBatch[Math.floor(firstBatch.length / 2)]!;
    assert.ok(mid < firstBatch.at(-1)!, 'mid is inside the batch');
    const late = await RawClient.connect(two.port, { path: '/realtime?batch=1' });
    late.send({ type: 'join', room: 'resume-b', since: mid, epoch: batcher.of('joined')[0]!.epoch });
    await late.until(() => offsets(late).at(-1) === 100);
    assert.deepEqual(offsets(late), seq(mid + 1, 100));
    // The reader's instance dies between bursts; it resumes on the other from its last offset.
    await eventually(() => got.length >= 100);
    await h.crash(one);
    await publishBursts(two.hub, 'resume-b', 5, 20);
    await eventually(() => got.length >= 200, 15_000);
    await sleep(50);
    assert.deepEqual(
      got.map((m) => m.offset),
      seq(1, 200),
    );
    assert.equal(reader.stats.reconnects, 1);
    assert.equal(reader.stats.duplicates, 0);
    late.close();
  });

  describe('slow consumers reading batches', () => {
    // 100 bursts of 20 × 8 KiB (16 MB): more than the kernel buffers of a socket nobody reads.
    const BURSTS = 100;
    const SIZE = 20;
    const N = BURSTS * SIZE;
    const TEXT = 'x'.repeat(8 * 1024);

    it("'drop-oldest': queueLimit counts the messages inside batch frames; what is not delivered is counted as dropped", async () => {
      const { hub, port, url } = await h.start({ queueLimit: 50, slowConsumer: 'drop-oldest' });
      const healthy = h.client(url);
      const got: number[] = [];
      healthy.on('message', (m) => got.push(m.offset));
      await healthy.join('slow-bo', { since: 0 });
      const stalled = await RawClient.connect(port, { path: '/realtime?batch=1' });
      stalled.send({ type: 'join', room: 'slow-bo' });
      await stalled.until(() => stalled.of('joined').length === 1);
      stalled.pause();
      await publishBursts(hub, 'slow-bo', BURSTS, SIZE, TEXT);
      await eventually(() => got.length === N, 30_000);
      assert.deepEqual(got, seq(1, N));
      assert.ok(hub.stats.dropped > 0, 'messages were dropped');
      stalled.resume();
      await stalled.until(() => offsets(stalled).at(-1) === N, 15_000);
      const seen = offsets(stalled);
      assert.ok(stalled.batches.length > 0, 'it was sent batch frames');
      assert.equal(seen.length + hub.stats.dropped, N, 'every message delivered or counted as dropped');
      assert.ok(
        seen.every((o, i) => i === 0 || o > seen[i - 1]!),
        'in offset order',
      );
      assert.equal(stalled.closeCode, undefined, 'still open');
      stalled.close();
    });

    it("'disconnect': a stalled batch reader is closed with 4507; the healthy client gets everything", async () => {
      const { hub, port, url } = await h.start({ queueLimit: 50, slowConsumer: 'disconnect' });
      const healthy = h.client(url);
      const got: number[] = [];
      healthy.on('message', (m) => got.push(m.offset));
      await healthy.join('slow-bd', { since: 0 });
      const stalled = await RawClient.connect(port, { path: '/realtime?batch=1' });
      stalled.send({ type: 'join', room: 'slow-bd' });
      await stalled.until(() => stalled.of('joined').length === 1);
      stalled.pause();
      const publishing = publishBursts(hub, 'slow-bd', BURSTS, SIZE, TEXT);
      await eventually(() => hub.stats.slowConsumers === 1, 30_000);
      stalled.resume();
      await publishing;
      await eventually(() => got.length === N, 30_000);
      assert.deepEqual(got, seq(1, N));
      await stalled.until(() => stalled.ended || stalled.closeCode !== undefined, 15_000);
      assert.equal(stalled.closeCode, CLOSE_CODES.SLOW_CONSUMER);
      assert.ok(offsets(stalled).length < N);
      assert.equal(hub.stats.dropped, 0);
    });
  });
});
