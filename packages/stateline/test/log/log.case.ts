/**
 * The Log conformance suite: every backend runs exactly these tests.
 * `make(prefix, retention)` must open a new Log (a new connection where there are connections).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryBus } from '../../src/bus/index.js';
import type { Bus } from '../../src/bus/types.js';
import { isStatelineError } from '../../src/errors.js';
import { fillAppendMessage, type AppendMessage, type Log, type Retention } from '../../src/log/index.js';
import { eventually, sleep } from '../support/free-port.js';
import { uniquePrefix } from '../support/services.js';

export interface LogCase {
  backend: string;
  make: (prefix: string, retention?: Retention) => Promise<Log>;
  /** The backend keeps state per object (memory): "two connections" share one object. */
  perObjectState?: string;
  /** Opens a Bus on the Log's own server (prefix given), for `publisherFor`; default a memory Bus. */
  bus?: (prefix: string) => Promise<Bus>;
  /** `publisherFor` must give a publisher for that Bus (the Log publishes in its append call). */
  publishes?: boolean;
  skip?: string | false;
}

export function runLogConformance(c: LogCase): void {
  describe(`Log conformance [${c.backend}]`, { skip: c.skip || undefined }, () => {
    const opened: Log[] = [];
    const open = async (retention?: Retention, prefix = uniquePrefix(`log-${c.backend}`)) => {
      const l = await c.make(prefix, retention);
      opened.push(l);
      return l;
    };
    after(async () => {
      for (const l of opened) await l.close();
    });

    it(`[${c.backend}] append gives offsets 1, 2, 3 in one epoch; read returns them in order`, async () => {
      const log = await open();
      const t0 = Date.now();
      const r = [await log.append('s', 'a'), await log.append('s', 'b'), await log.append('s', 'c')];
      assert.deepEqual(
        r.map((x) => x.offset),
        [1, 2, 3],
      );
      assert.equal(new Set(r.map((x) => x.epoch)).size, 1);
      assert.ok(r[0]!.at >= t0 - 1000 && r[0]!.at <= Date.now() + 1000);
      const all = await log.read('s', 0);
      assert.equal(all.epoch, r[0]!.epoch);
      assert.equal(all.head, 3);
      assert.equal(all.complete, true);
      assert.deepEqual(
        all.entries.map((e) => [e.offset, e.data]),
        [
          [1, 'a'],
          [2, 'b'],
          [3, 'c'],
        ],
      );
      assert.equal(all.entries[0]!.at, r[0]!.at);
      const tail = await log.read('s', 2);
      assert.deepEqual(
        tail.entries.map((e) => e.data),
        ['c'],
      );
      assert.deepEqual((await log.read('s', 3)).entries, []);
      assert.deepEqual(
        (await log.read('s', 0, { limit: 2 })).entries.map((e) => e.offset),
        [1, 2],
      );
    });

    it(`[${c.backend}] streams are independent and a new stream reads empty with an epoch`, async () => {
      const log = await open();
      await log.append('one', 'x');
      assert.equal((await log.append('two', 'y')).offset, 1);
      const fresh = await log.read('never', 0);
      assert.deepEqual([fresh.entries, fresh.head, fresh.complete], [[], 0, true]);
      assert.ok(fresh.epoch.length > 0);
      const first = await log.append('never', 'z');
      assert.equal(first.epoch, fresh.epoch, 'the epoch given on first read is the one appends use');
    });

    it(`[${c.backend}] 200 concurrent appends through two connections get unique consecutive offsets`, async () => {
      const prefix = uniquePrefix(`log-${c.backend}`);
      const a = await open(undefined, prefix);
      const b = c.perObjectState ? a : await open(undefined, prefix);
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).append('race', `m${i}`)),
      );
      assert.deepEqual(
        results.map((r) => r.offset).sort((x, y) => x - y),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      const read = await a.read('race', 0, { limit: 500 });
      assert.deepEqual(
        read.entries.map((e) => e.offset),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      const byOffset = new Map(results.map((r, i) => [r.offset, `m${i}`]));
      for (const e of read.entries) assert.equal(e.data, byOffset.get(e.offset));
    });

    it(`[${c.backend}] retention by count trims the oldest and reports the gap to readers behind it`, async () => {
      const log = await open({ maxCount: 5 });
      for (let i = 1; i <= 12; i++) await log.append('r', `m${i}`);
      const all = await log.read('r', 0);
      assert.deepEqual(
        all.entries.map((e) => e.offset),
        [8, 9, 10, 11, 12],
      );
      assert.equal(all.complete, false);
      assert.equal(all.head, 12);
      assert.equal((await log.read('r', 7)).complete, true);
      assert.equal((await log.read('r', 6)).complete, false);
      assert.deepEqual(
        (await log.read('r', 10)).entries.map((e) => e.data),
        ['m11', 'm12'],
      );
    });

    it(`[${c.backend}] retention by age drops old entries`, async () => {
      const log = await open({ maxAge: 300 });
      await log.append('age', 'old');
      await sleep(500);
      const fresh = await log.append('age', 'new');
      const read = await log.read('age', 0);
      assert.deepEqual(
        read.entries.map((e) => e.data),
        ['new'],
      );
      assert.equal(read.complete, false);
      assert.equal((await log.read('age', 1)).complete, true);
      assert.equal(fresh.offset, 2);
    });

    it(`[${c.backend}] a reader from another epoch gets the history from the start, marked incomplete`, async () => {
      const log = await open();
      await log.append('e', 'a');
      const { epoch } = await log.append('e', 'b');
      assert.equal((await log.read('e', 1, { epoch })).complete, true);
      const stale = await log.read('e', 1, { epoch: 'some-other-epoch' });
      assert.equal(stale.complete, false);
      assert.equal(stale.epoch, epoch);
      assert.deepEqual(
        stale.entries.map((e) => e.data),
        ['a', 'b'],
      );
    });

    it(`[${c.backend}] a keyed append is stored once: a retry with its key returns the first entry`, async () => {
      const log = await open();
      const first = await log.append('k', 'hello', { key: 'alice:1' });
      assert.equal(first.duplicate, false);
      await log.append('k', 'plain');
      const again = await log.append('k', 'hello (retried)', { key: 'alice:1' });
      assert.deepEqual(again, { ...first, duplicate: true }, 'same offset, epoch and time');
      const other = await log.append('k', 'bye', { key: 'alice:2' });
      assert.deepEqual([other.offset, other.duplicate], [3, false]);
      const read = await log.read('k', 0);
      assert.deepEqual(
        read.entries.map((e) => [e.offset, e.data]),
        [
          [1, 'hello'],
          [2, 'plain'],
          [3, 'bye'],
        ],
      );
      assert.equal(read.head, 3);
      assert.equal((await log.append('k2', 'x', { key: 'alice:1' })).duplicate, false, 'keys are per stream');
    });

    it(`[${c.backend}] 40 concurrent appends with one key through two connections store one entry`, async () => {
      const prefix = uniquePrefix(`log-${c.backend}`);
      const a = await open(undefined, prefix);
      const b = c.perObjectState ? a : await open(undefined, prefix);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append('once', `try ${i}`, { key: 'k' })),
      );
      assert.equal(results.filter((r) => !r.duplicate).length, 1, 'exactly one append stored');
      assert.equal(new Set(results.map((r) => r.offset)).size, 1);
      const read = await a.read('once', 0);
      assert.equal(read.entries.length, 1);
      assert.equal(read.head, 1);
    });

    it(`[${c.backend}] a key is forgotten with its entry when retention removes it`, async () => {
      const log = await open({ maxCount: 2 });
      const first = await log.append('kr', 'a', { key: 'x' });
      assert.equal((await log.append('kr', 'a', { key: 'x' })).offset, first.offset, 'still held');
      await log.append('kr', 'b');
      await log.append('kr', 'c');
      const after = await log.append('kr', 'a', { key: 'x' });
      assert.deepEqual([after.offset, after.duplicate], [4, false], 'trimmed: appended anew');
      assert.deepEqual(
        (await log.read('kr', 0)).entries.map((e) => e.data),
        ['c', 'a'],
      );
    });

    const isFenced = (e: unknown) => isStatelineError(e, 'SL_ERR_LOG_FENCED');
    const datas = async (log: Log, stream: string) => (await log.read(stream, 0)).entries.map((e) => e.data);

    it(`[${c.backend}] a fenced append below the stream's fence is refused, a higher one raises it`, async () => {
      const log = await open();
      await log.append('f', 'a', { fence: 2 });
      await assert.rejects(log.append('f', 'old', { fence: 1 }), isFenced);
      await log.append('f', 'b', { fence: 2 });
      await log.append('f', 'c', { fence: 3 });
      await assert.rejects(log.append('f', 'old', { fence: 2 }), isFenced);
      await assert.rejects(log.append('f', 'old', { fence: 2, key: 'k1' }), isFenced);
      await log.append('f', 'plain');
      assert.deepEqual(await datas(log, 'f'), ['a', 'b', 'c', 'plain'], 'refused appends stored nothing');
      await assert.rejects(log.append('f', 'x', { fence: -1 }), (e) =>
        isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
      );
      await assert.rejects(log.append('f', 'x', { fence: 1.5 }), (e) =>
        isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
      );
    });

    it(`[${c.backend}] fence() raises the fence without appending; seen through another connection`, async () => {
      const prefix = uniquePrefix(`log-${c.backend}`);
      const a = await open(undefined, prefix);
      const b = c.perObjectState ? a : await open(undefined, prefix);
      await a.append('g', 'by-3', { fence: 3 });
      await b.fence('g', 5);
      await b.fence('g', 5);
      await assert.rejects(a.append('g', 'by-4', { fence: 4 }), isFenced);
      await assert.rejects(a.fence('g', 4), isFenced);
      const r = await b.append('g', 'by-5', { fence: 5, key: 'once' });
      assert.equal((await b.append('g', 'by-5', { fence: 5, key: 'once' })).offset, r.offset);
      assert.deepEqual(await datas(a, 'g'), ['by-3', 'by-5']);
      await a.fence('never-written', 1);
      await assert.rejects(a.append('never-written', 'x', { fence: 0 }), isFenced);
    });

    it(`[${c.backend}] once fence() resolved, no append of the older writer lands (racing writers)`, async () => {
      const prefix = uniquePrefix(`log-${c.backend}`);
      const old = await open(undefined, prefix);
      const next = c.perObjectState ? old : await open(undefined, prefix);
      let fencedAt = Infinity;
      const writes = Array.from({ length: 60 }, async (_, i) => {
        await sleep(i % 20);
        const started = Date.now();
        try {
          await old.append('h', `old-${i}`, { fence: 1 });
          return { started, ok: true };
        } catch (e) {
          assert.ok(isFenced(e), String(e));
          return { started, ok: false };
        }
      });
      await sleep(8);
      await next.fence('h', 2);
      fencedAt = Date.now();
      const results = await Promise.all(writes);
      await next.append('h', 'new', { fence: 2 });
      assert.ok(
        results.every((r) => !r.ok || r.started <= fencedAt),
        'an append started after the fence landed',
      );
      assert.equal((await datas(next, 'h')).at(-1), 'new');
      assert.equal(
        (await datas(next, 'h')).filter((d) => d.startsWith('old-')).length,
        results.filter((r) => r.ok).length,
      );
      await assert.rejects(old.append('h', 'late', { fence: 1 }), isFenced);
    });

    it(`[${c.backend}] trim removes a prefix, keys with it; offsets go on; a fenced trim below the fence is refused`, async () => {
      const log = await open();
      for (let i = 1; i <= 5; i++) await log.append('t', `m${i}`, { key: `k${i}` });
      await log.trim('t', 3);
      const after3 = await log.read('t', 0);
      assert.deepEqual(
        after3.entries.map((e) => e.offset),
        [4, 5],
      );
      assert.equal(after3.complete, false, 'a reader behind the trim has a gap');
      assert.equal((await log.read('t', 3)).complete, true);
      const again = await log.append('t', 'm1', { key: 'k1' });
      assert.deepEqual([again.offset, again.duplicate], [6, false], 'a trimmed key is forgotten');
      await log.trim('t', 2);
      assert.deepEqual(
        (await log.read('t', 0)).entries.map((e) => e.offset),
        [4, 5, 6],
        'trimming less is a no-op',
      );
      await log.fence('t', 5);
      await assert.rejects(log.trim('t', 5, { fence: 4 }), isFenced);
      assert.deepEqual(
        (await log.read('t', 0)).entries.map((e) => e.offset),
        [4, 5, 6],
      );
      await log.trim('t', 1000, { fence: 5 });
      // Never past the newest (NATS keeps the newest message: it carries the fence).
      assert.ok((await log.read('t', 0)).entries.every((e) => e.offset === 6));
      // 7 here; a NATS fence message took a sequence of its own.
      assert.ok((await log.append('t', 'next')).offset >= 7);
      await assert.rejects(log.trim('t', -1), (e) => isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'));
    });

    it(`[${c.backend}] publisherFor: none for a Bus it cannot publish on${c.publishes ? '' : ' (this Log: any Bus)'}`, async () => {
      const log = await open();
      assert.equal(log.publisherFor?.(new MemoryBus({ hub: {} })), undefined, 'a memory Bus');
      if (c.publishes || !c.bus) return;
      const bus = await c.bus(uniquePrefix(`log-${c.backend}-bus`));
      try {
        assert.equal(log.publisherFor?.(bus), undefined, 'append, then bus.publish');
      } finally {
        await bus.close();
      }
    });

    it(
      `[${c.backend}] publisherFor: the message goes out once its entry is stored, never for a duplicate or a refused append`,
      {
        skip: c.publishes ? undefined : 'this Log publishes on no Bus',
      },
      async () => {
        const busPrefix = uniquePrefix(`log-${c.backend}-bus`);
        const log = await open();
        const bus = await c.bus!(busPrefix);
        const listener = await c.bus!(busPrefix);
        try {
          const publish = log.publisherFor?.(bus);
          assert.ok(publish, 'a publisher for a Bus on the same server');
          const got: Array<{ message: string; stored: number[] }> = [];
          await listener.subscribe('room', (message) => {
            const r = { message, stored: [] as number[] };
            got.push(r);
            // Read on receipt: the entry is already there.
            void log.read('s', 0).then((read) => r.stored.push(...read.entries.map((e) => e.offset)));
          });
          const m = (tag: string): AppendMessage => ({
            channel: 'room',
            text: [`${tag}[`, ',', ',', ']'],
            fields: ['epoch', 'offset', 'at'],
          });
          const first = await publish('s', 'one', m('a'), { key: 'k1' });
          assert.equal(first.duplicate, false);
          const again = await publish('s', 'one again', m('dup'), { key: 'k1' });
          assert.deepEqual([again.duplicate, again.offset], [true, first.offset]);
          await log.fence('s', 5);
          await assert.rejects(publish('s', 'old writer', m('fenced'), { fence: 3 }), (e) =>
            isStatelineError(e, 'SL_ERR_LOG_FENCED'),
          );
          await assert.rejects(publish('s', 'x', { channel: 'room', text: ['a'], fields: ['offset'] }), (e) =>
            isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
          );
          const second = await publish('s', 'two', m('b'), { fence: 5 });
          // One channel keeps its order: once `b` is in, nothing published before it is missing.
          await eventually(() => got.length >= 2 && got.every((g) => g.stored.length > 0));
          assert.deepEqual(
            got.map((g) => g.message),
            [fillAppendMessage(m('a'), first), fillAppendMessage(m('b'), second)],
          );
          assert.deepEqual(JSON.parse(got[1]!.message.slice(1)), [second.epoch, second.offset, second.at]);
          assert.ok(got[0]!.stored.includes(first.offset) && got[1]!.stored.includes(second.offset));
          assert.deepEqual(
            (await log.read('s', 0)).entries.map((e) => e.data),
            ['one', 'two'],
            'the refused calls stored nothing',
          );
          await bus.close();
          await assert.rejects(publish('s', 'late', m('c')), (e) => isStatelineError(e, 'SL_ERR_CLOSED'));
        } finally {
          await bus.close();
          await listener.close();
        }
      },
    );

    it(`[${c.backend}] bad arguments are refused and a closed log refuses calls`, async () => {
      const log = await c.make(uniquePrefix(`log-${c.backend}`));
      await assert.rejects(log.read('x', -1), (e) => isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'));
      await assert.rejects(log.read('x', 0, { limit: 0 }), (e) =>
        isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
      );
      for (const key of ['', 'k'.repeat(201), 'a\u0000b', 7 as unknown as string])
        await assert.rejects(log.append('x', 'y', { key }), (e) =>
          isStatelineError(e, 'SL_ERR_INVALID_ARGUMENT'),
        );
      assert.equal((await log.read('x', 0)).head, 0, 'nothing appended by a refused call');
      await log.close();
      await assert.rejects(log.append('x', 'y'), (e) => isStatelineError(e, 'SL_ERR_CLOSED'));
      await log.close();
    });
  });
}
