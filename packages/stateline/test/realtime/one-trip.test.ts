/**
 * A room whose Log can publish on its Bus (Redis Log + Redis Bus on one url) stores and announces
 * a message in ONE Redis call: no `log.append`, no `bus.publish` of the message. With any other
 * pairing (here the same server under another url spelling) it appends, then publishes. Either
 * way every member, on both instances, gets each message once, in offset order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBus } from '../../src/bus/index.js';
import type { Bus } from '../../src/bus/types.js';
import { createLog, fillAppendMessage } from '../../src/log/index.js';
import { decodeBus, encodeBus, messageJson, messageTemplate, storedData } from '../../src/realtime/codec.js';
import type { Log } from '../../src/log/types.js';
import type { MessageFrame } from '../../src/realtime/client.js';
import { Counter, Registry } from 'prom-client';
import { instrumentBus } from '../../src/metrics/instrument-bus.js';
import { eventually } from '../support/free-port.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { Harness } from './harness.js';

const skip = await needService('redis');
cleanUpAfter('redis', skip);

/** Counts the Log appends, and the Bus publishes (all, and of stored messages `m…`) made through them. */
function spy(log: Log, bus: Bus): { appends: number; messages: number; all: number } {
  const n = { appends: 0, messages: 0, all: 0 };
  const append = log.append.bind(log);
  log.append = (...args) => (n.appends++, append(...args));
  const publish = bus.publish.bind(bus);
  bus.publish = (channel, message) => {
    n.all++;
    if (message.startsWith('m')) n.messages++;
    return publish(channel, message);
  };
  return n;
}

async function scenario(
  busUrl: string,
  wrap: (bus: Bus) => Bus = (bus) => bus,
): Promise<{ appends: number; messages: number; all: number }> {
  const prefix = uniquePrefix('rt-one-trip');
  const h = new Harness();
  const opened: Array<Log | Bus> = [];
  try {
    const open = async () => {
      const log = await createLog({ type: 'redis', url: REDIS_URL, prefix });
      const bus = wrap(await createBus({ type: 'redis', url: busUrl, prefix }));
      opened.push(log, bus);
      return { log, bus };
    };
    const a = await open();
    const b = await open();
    const counts = spy(a.log, a.bus);
    const runA = await h.start(a);
    const runB = await h.start(b);
    const got = new Map<string, MessageFrame[]>();
    const clients = ['a', 'b'].map((name) => {
      const c = h.client(name === 'a' ? runA.url : runB.url);
      got.set(name, []);
      c.on('message', (m) => got.get(name)!.push(m));
      return c;
    });
    await Promise.all(clients.map((c) => c.join('chat')));
    for (const text of ['one', 'two', 'three']) await clients[0]!.send('chat', text);
    await runA.hub.publish('chat', 'four');
    for (const name of ['a', 'b']) await eventually(() => got.get(name)!.length >= 4).catch(() => {}); // the assertion below tells
    for (const name of ['a', 'b']) {
      assert.deepEqual(
        got.get(name)!.map((m) => [m.offset, m.text]),
        [
          [1, 'one'],
          [2, 'two'],
          [3, 'three'],
          [4, 'four'],
        ],
        `instance ${name}'s member`,
      );
    }
    return counts;
  } finally {
    await h.close();
    for (const o of opened) await o.close();
  }
}

describe('realtime: the message template a Log fills', () => {
  it('filled with the entry, it is byte for byte the `m` payload the Bus subscribers decode', () => {
    const cases = [
      { room: 'chat', from: 'alice', id: 'm1', text: 'hello' },
      { room: 'r.é-1', from: 'bö"b\\', id: 'x\ny', text: '"quoted"\n\u2028 and ]\n{' },
    ];
    for (const c of cases) {
      const data = storedData(c);
      const r = {
        offset: 41,
        epoch: '0d6e4c1b-3f0a-4b8e-9a51-2c7d9e0f1a2b',
        at: 1_764_777_000_123,
        duplicate: false,
      };
      const frame = messageJson(c.room, r.offset, r.at, data);
      const wire = fillAppendMessage(messageTemplate(`rt:${c.room}`, c.room, c.from, c.id, data), r);
      assert.equal(
        wire,
        encodeBus({ kind: 'm', epoch: r.epoch, offset: r.offset, from: c.from, id: c.id, frame }),
      );
      assert.deepEqual(decodeBus(wire), {
        kind: 'm',
        epoch: r.epoch,
        offset: r.offset,
        from: c.from,
        id: c.id,
        frame,
      });
      assert.deepEqual(JSON.parse(frame), { type: 'message', offset: 41, at: r.at, ...c });
    }
  });
});

describe('realtime: append and publish in one round trip', { skip: skip || undefined }, () => {
  it('Redis Log + Redis Bus on one url: the append script carries the message to the other instance', async () => {
    const { appends, messages } = await scenario(REDIS_URL);
    assert.deepEqual({ appends, messages }, { appends: 0, messages: 0 });
  });

  it("a Bus wrapped for metrics keeps the one round trip, and its counter counts the script's publishes", async () => {
    const registry = new Registry();
    let n = 0;
    const counters: Counter[] = [];
    const counter = () => new Counter({ name: `c${n++}`, help: 'count', registers: [registry] });
    const wrap = (bus: Bus) => {
      const m = { publishes: counter(), errors: counter(), deliveries: counter() };
      counters.push(m.publishes);
      return instrumentBus(bus, m);
    };
    const { appends, messages, all } = await scenario(REDIS_URL, wrap);
    assert.deepEqual({ appends, messages }, { appends: 0, messages: 0 });
    // Instance a's counter: what went through its Bus (presence, joins) and its four messages.
    const counted = (await counters[0]!.get()).values[0]?.value ?? 0;
    assert.equal(counted, all + 4);
  });

  it('another pairing (a Bus url spelled otherwise): append, then publish, same deliveries', async () => {
    const { appends, messages } = await scenario(`${REDIS_URL}/0`);
    assert.deepEqual({ appends, messages }, { appends: 4, messages: 4 });
  });
});
