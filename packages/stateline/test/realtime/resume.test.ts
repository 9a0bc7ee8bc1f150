/**
 * Ordering, resume and dedup in one process (several hub instances sharing a memory Log and Bus):
 * the race between a history read and live delivery, resume on another instance after a crash,
 * duplicate sends, trimmed history and a lost history (new epoch), and the Bus losing messages
 * (gaps filled from the Log, a message stored but never announced, payloads too large for the Bus).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Bus, BusHandler } from '../../src/bus/types.js';
import { StatelineError } from '../../src/errors.js';
import { MemoryLog } from '../../src/log/index.js';
import type { AppendOptions, AppendResult, Log, ReadOptions, ReadResult } from '../../src/log/types.js';
import type { MessageFrame } from '../../src/realtime/protocol.js';
import { eventually, sleep } from '../support/free-port.js';
import { Harness } from './harness.js';
import { RawClient } from './raw-client.js';

const seq = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const yieldIo = () => new Promise((r) => setImmediate(r));

/** A Log whose whole history can be lost at once, as a Redis without persistence restarting. */
class LosableLog implements Log {
  readonly backend = 'memory' as const;
  inner = new MemoryLog();
  append(stream: string, data: string, options?: AppendOptions): Promise<AppendResult> {
    return this.inner.append(stream, data, options);
  }
  fence(stream: string, fence: number): Promise<void> {
    return this.inner.fence(stream, fence);
  }
  trim(stream: string, through: number, options?: { fence?: number }): Promise<void> {
    return this.inner.trim(stream, through, options);
  }
  read(stream: string, since: number, options?: ReadOptions): Promise<ReadResult> {
    return this.inner.read(stream, since, options);
  }
  lose(): void {
    this.inner = new MemoryLog();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A Log whose reads answer late (the result is taken first, then held 0-4 ms), as a remote Log
 * does: live messages stored meanwhile reach the hub before the read's answer, the race a resume
 * must get right.
 */
class SlowReadLog extends MemoryLog {
  override async read(stream: string, since: number, options?: ReadOptions): Promise<ReadResult> {
    const r = await super.read(stream, since, options);
    await sleep(Math.random() * 4);
    return r;
  }
}

/** A Bus that loses what `drop` says (at-most-once, made visible) or refuses large payloads. */
class LossyBus implements Bus {
  readonly backend = 'memory' as const;
  dropped = 0;
  constructor(
    private readonly inner: Bus,
    private readonly drop: (message: string) => boolean,
    private readonly maxPayload = Infinity,
  ) {}
  async publish(channel: string, message: string): Promise<void> {
    if (message.length > this.maxPayload)
      throw new StatelineError('SL_ERR_BUS_PAYLOAD_TOO_LARGE', `${message.length} bytes`);
    if (this.drop(message)) {
      this.dropped++;
      return;
    }
    return this.inner.publish(channel, message);
  }
  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    return this.inner.subscribe(channel, handler);
  }
  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.inner.onConnectionChange(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('realtime resume and ordering', () => {
  const harnesses: Harness[] = [];
  const harness = (options?: ConstructorParameters<typeof Harness>[0]) => {
    const h = new Harness(options);
    harnesses.push(h);
    return h;
  };
  after(async () => {
    for (const h of harnesses) await h.close();
  });

  it('history read vs live delivery: resumes over and over while 600 messages flow, each contiguous, never a gap or a repeat', async () => {
    const h = harness({ log: new SlowReadLog() });
    const one = await h.start();
    const two = await h.start();
    let publishing = true;
    const N = 600;
    let rounds = 0;
    const producer = (async () => {
      for (let i = 0; i < N; i++) {
        await (i % 2 ? one : two).hub.publish('race', `m${i}`);
        await (i % 20 === 0 ? sleep(2) : yieldIo());
        // Keep pace with the resuming reader, so the race is exercised at least N/30 times
        // however fast this machine publishes.
        while (i % 30 === 29 && rounds < (i + 1) / 30) await sleep(1);
      }
      publishing = false;
    })();
    let last = 0;
    let epoch: string | undefined;
    while (publishing || last < N) {
      const c = await RawClient.connect((rounds % 2 ? one : two).port);
      c.send({ type: 'join', room: 'race', since: last, ...(epoch && { epoch }) });
      await sleep(Math.random() * 15);
      // Once the producer is done, wait for the tail, unless an earlier round already had it all
      // (the producer may finish while that round's client is open).
      if (!publishing && last < N)
        await c.until(() => (c.of('message').at(-1)?.offset as number | undefined) === N);
      c.close();
      const joined = c.of('joined')[0];
      if (joined) {
        assert.equal(joined.recovered, true);
        epoch = joined.epoch as string;
      }
      const got = c.of('message').map((m) => m.offset as number);
      assert.deepEqual(
        got,
        seq(last + 1, last + got.length),
        `round ${rounds}: resumed from ${last} contiguously`,
      );
      last += got.length;
      rounds++;
    }
    await producer;
    assert.equal(last, N);
    assert.ok(rounds >= 20, `${rounds} resumes`);
  });

  it('a client resumes on another instance after its instance crashes: every message once, in order', async () => {
    const h = harness();
    const one = await h.start({ rateLimit: false });
    const two = await h.start({ rateLimit: false });
    const reader = h.client([one.url, two.url]);
    const got: MessageFrame[] = [];
    reader.on('message', (m) => got.push(m));
    await reader.join('crash', { since: 0 });
    const sender = h.client(two.url);
    await sender.join('crash');
    const sending = (async () => {
      for (let i = 0; i < 300; i++) {
        await sender.send('crash', `m${i}`);
        if (i === 100) await h.crash(one);
      }
    })();
    await sending;
    await eventually(() => got.length >= 300);
    await sleep(50);
    assert.deepEqual(
      got.map((m) => m.offset),
      seq(1, 300),
    );
    assert.deepEqual(
      got.map((m) => m.text),
      seq(0, 299).map((i) => `m${i}`),
    );
    assert.equal(reader.stats.reconnects, 1);
    assert.equal(reader.stats.duplicates, 0);
  });

  it('a send repeated with the same id is stored once, also when the repeat reaches another instance', async () => {
    const h = harness();
    const one = await h.start();
    const two = await h.start();
    const watcher = h.client(one.url);
    const got: MessageFrame[] = [];
    watcher.on('message', (m) => got.push(m));
    await watcher.join('dedup');
    const first = await RawClient.connect(one.port, { path: '/realtime?anon=same-sender-1' });
    first.send({ type: 'join', room: 'dedup' });
    await first.until(() => first.of('joined').length === 1);
    first.send({ type: 'send', room: 'dedup', id: 'x1', text: 'once' });
    first.send({ type: 'send', room: 'dedup', id: 'x1', text: 'once' }); // while the first is being stored
    await first.until(() => first.of('message').length === 1);
    first.send({ type: 'send', room: 'dedup', id: 'x1', text: 'once' }); // after
    const again = await RawClient.connect(two.port, { path: '/realtime?anon=same-sender-1' });
    again.send({ type: 'join', room: 'dedup', since: 0 });
    await again.until(() => again.of('message').length === 1);
    again.send({ type: 'send', room: 'dedup', id: 'x1', text: 'once' }); // the retry after a reconnect elsewhere
    // Another sender may use the same id: ids are per sender.
    const other = await RawClient.connect(two.port, { path: '/realtime?anon=other-sender-1' });
    other.send({ type: 'join', room: 'dedup' });
    await other.until(() => other.of('joined').length === 1);
    other.send({ type: 'send', room: 'dedup', id: 'x1', text: 'not a duplicate' });
    await eventually(() => got.length === 2);
    await sleep(100);
    assert.deepEqual(
      got.map((m) => [m.offset, m.from, m.text]),
      [
        [1, 'anon:same-sender-1', 'once'],
        [2, 'anon:other-sender-1', 'not a duplicate'],
      ],
    );
    assert.equal(one.hub.stats.duplicates + two.hub.stats.duplicates, 3);
    for (const c of [first, again, other]) c.close();
  });

  it('a send stored by an instance that died before announcing it is stored once when resent to another', async () => {
    const h = harness();
    // The first instance stores but never announces (it "dies" right after its Log append); no
    // heartbeat catch-up runs during the test, so the second one has not read the entry yet.
    const mute = new LossyBus(h.bus(), (m) => m.startsWith('m') || m.startsWith('h'));
    const one = await h.start({ bus: mute, heartbeat: 60_000 });
    const two = await h.start({ heartbeat: 60_000 });
    const watcher = h.client(two.url);
    const got: MessageFrame[] = [];
    watcher.on('message', (m) => got.push(m));
    await watcher.join('orphan');
    const first = await RawClient.connect(one.port, { path: '/realtime?anon=orphan-sender' });
    first.send({ type: 'join', room: 'orphan' });
    await first.until(() => first.of('joined').length === 1);
    first.send({ type: 'send', room: 'orphan', id: 'm1', text: 'hello' });
    await eventually(async () => (await h.log.read('rt:orphan', 0)).head === 1);
    first.close();
    assert.equal(got.length, 0, 'the second instance has not heard of it');
    // The client's retry reaches the second instance before it has read the entry.
    const retry = await RawClient.connect(two.port, { path: '/realtime?anon=orphan-sender' });
    retry.send({ type: 'join', room: 'orphan' });
    await retry.until(() => retry.of('joined').length === 1);
    retry.send({ type: 'send', room: 'orphan', id: 'm1', text: 'hello' });
    await eventually(() => got.length === 1);
    await sleep(100);
    assert.equal((await h.log.read('rt:orphan', 0)).head, 1, 'stored once');
    assert.deepEqual(
      got.map((m) => [m.offset, m.text]),
      [[1, 'hello']],
      'and delivered from the Log',
    );
    assert.equal(two.hub.stats.duplicates, 1);
    retry.close();
  });

  it('joins: no since is live only; since 0 is all retained history; position() resumes a later client', async () => {
    const h = harness();
    const { url, hub } = await h.start();
    for (let i = 1; i <= 5; i++) await hub.publish('hist', `h${i}`);
    const live = h.client(url);
    const liveGot: number[] = [];
    live.on('message', (m) => liveGot.push(m.offset));
    const j = await live.join('hist');
    assert.deepEqual([j.offset, j.recovered], [5, true]);
    const all = h.client(url);
    const allGot: number[] = [];
    all.on('message', (m) => allGot.push(m.offset));
    await all.join('hist', { since: 0 });
    await hub.publish('hist', 'h6');
    await eventually(() => allGot.length === 6 && liveGot.length === 1);
    assert.deepEqual(liveGot, [6]);
    assert.deepEqual(allGot, seq(1, 6));
    const pos = all.position('hist')!;
    all.close();
    await hub.publish('hist', 'h7');
    const later = h.client(url);
    const laterGot: number[] = [];
    later.on('message', (m) => laterGot.push(m.offset));
    await later.join('hist', { since: pos.offset, epoch: pos.epoch });
    await eventually(() => laterGot.length === 1);
    assert.deepEqual(laterGot, [7]);
  });

  it('history trimmed past since: recovered false, the client gets what is retained and counts no gap', async () => {
    const h = harness({ retention: { maxCount: 10 } });
    const { url, hub } = await h.start();
    for (let i = 1; i <= 30; i++) await hub.publish('trim', `t${i}`);
    const c = h.client(url);
    const got: number[] = [];
    c.on('message', (m) => got.push(m.offset));
    const joined = await c.join('trim', { since: 5 });
    assert.equal(joined.recovered, false);
    await eventually(() => got.length === 10);
    assert.deepEqual(got, seq(21, 30));
    assert.equal(c.stats.gaps, 0);
    const fine = h.client(url);
    assert.equal((await fine.join('trim', { since: 25 })).recovered, true);
  });

  it('a lost history (new epoch): joined members get joined {recovered: false} again and the new offsets from 1', async () => {
    const log = new LosableLog();
    const h = harness({ log });
    const one = await h.start();
    const two = await h.start();
    const c = h.client(one.url);
    const got: MessageFrame[] = [];
    const joins: Array<{ epoch: string; recovered: boolean }> = [];
    c.on('message', (m) => got.push(m));
    c.on('joined', (j) => joins.push({ epoch: j.epoch, recovered: j.recovered }));
    await c.join('epoch', { since: 0 });
    for (let i = 1; i <= 3; i++) await one.hub.publish('epoch', `old${i}`);
    await eventually(() => got.length === 3);
    const old = c.position('epoch')!;
    log.lose();
    await two.hub.publish('epoch', 'new1');
    await two.hub.publish('epoch', 'new2');
    await eventually(() => got.length === 5);
    assert.deepEqual(
      got.map((m) => `${m.offset}:${m.text}`),
      ['1:old1', '2:old2', '3:old3', '1:new1', '2:new2'],
    );
    assert.equal(joins.length, 2);
    assert.equal(joins[1]!.recovered, false);
    assert.notEqual(joins[1]!.epoch, joins[0]!.epoch);
    assert.equal(c.stats.duplicates, 0);
    // A client coming back with the old epoch gets the new history from its start.
    const back = h.client(two.url);
    const backGot: string[] = [];
    back.on('message', (m) => backGot.push(m.text));
    const j = await back.join('epoch', { since: old.offset, epoch: old.epoch });
    assert.equal(j.recovered, false);
    await eventually(() => backGot.length === 2);
    assert.deepEqual(backGot, ['new1', 'new2']);
  });

  it('the Bus losing messages: gaps are filled from the Log, in order, for every instance', async () => {
    const h = harness();
    let n = 0;
    const lossy = new LossyBus(h.bus(), (m) => m.startsWith('m') && ++n % 3 === 0);
    const sender = await h.start({ bus: lossy, reorderWait: 20 });
    const other = await h.start();
    const c = h.client(other.url);
    const got: number[] = [];
    c.on('message', (m) => got.push(m.offset));
    await c.join('lossy', { since: 0 });
    for (let i = 0; i < 60; i++) await sender.hub.publish('lossy', `m${i}`);
    await eventually(() => got.length === 60);
    assert.deepEqual(got, seq(1, 60));
    assert.ok(lossy.dropped >= 19);
    assert.ok(other.hub.stats.gapReads > 0);
    assert.equal(c.stats.gaps, 0);
  });

  it('a message stored but never announced (its publisher died) is delivered by the heartbeat catch-up', async () => {
    const h = harness();
    let drop = false;
    const mute = new LossyBus(h.bus(), (m) => drop && m.startsWith('m'));
    const sender = await h.start({ bus: mute, heartbeat: 100 });
    const other = await h.start({ heartbeat: 100 });
    const c = h.client(other.url);
    const got: string[] = [];
    c.on('message', (m) => got.push(m.text));
    await c.join('mute');
    await sender.hub.publish('mute', 'heard');
    await eventually(() => got.length === 1);
    drop = true;
    await sender.hub.publish('mute', 'never announced');
    await eventually(() => got.length === 2, 2000);
    assert.deepEqual(got, ['heard', 'never announced']);
  });

  it('a message too large for the Bus travels as a pointer and is read from the Log', async () => {
    const h = harness();
    const small = new LossyBus(h.bus(), () => false, 300);
    const sender = await h.start({ bus: small });
    const other = await h.start({ bus: new LossyBus(h.bus(), () => false, 300) });
    const c = h.client(other.url);
    const got: string[] = [];
    c.on('message', (m) => got.push(m.text));
    await c.join('big');
    const text = 'b'.repeat(1000);
    await sender.hub.publish('big', 'small');
    await sender.hub.publish('big', text);
    await eventually(() => got.length === 2, 2000);
    assert.deepEqual(got, ['small', text]);
    assert.equal(c.stats.gaps, 0);
  });

  it('hub.publish posts from the server side, as "system" unless told otherwise', async () => {
    const h = harness();
    const { url, hub } = await h.start();
    const c = h.client(url);
    const got: MessageFrame[] = [];
    c.on('message', (m) => got.push(m));
    await c.join('sys');
    const r = await hub.publish('sys', 'deploy done');
    await hub.publish('sys', 'hi', { from: 'bot', id: 'b-1' });
    await hub.publish('sys', 'hi', { from: 'bot', id: 'b-1' }).catch(() => undefined);
    await eventually(() => got.length >= 2);
    assert.deepEqual(
      got.map((m) => [m.offset, m.from, m.text]),
      [
        [r.offset, 'system', 'deploy done'],
        [r.offset + 1, 'bot', 'hi'],
      ],
    );
    await assert.rejects(hub.publish('not a room', 'x'), /invalid room name/);
  });
});
