/**
 * The multi-instance scenario, run on every Log + Bus pairing (redis, postgres, sqlite + ipc):
 * 3 hub instances in separate processes, 30 clients (the Node client) in one room spread over
 * them, 5 senders posting 200 messages each (1,000 in all). Every client must receive every
 * message exactly once, in offset order: offsets 1…1000 with no hole and no repeat, every
 * `sender:n` text once, and the client saw no duplicate and no gap on the wire. The chaos
 * variant SIGKILLs one instance (holding a third of the clients and one sender) after ~300
 * messages; its clients reconnect to the others and resume from their last offset.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { IpcRelay } from '../../src/bus/index.js';
import {
  connect,
  type MessageFrame,
  type RealtimeClient,
  type WebSocketConstructor,
} from '../../src/realtime/client.js';
import { eventually, sleep } from '../support/free-port.js';
import { killAll, startInstances, type Instance, type InstanceConfig } from './instances.js';

const CLIENTS = 30;
const SENDERS = 5;
const PER_SENDER = 200;
const TOTAL = SENDERS * PER_SENDER;
const ROOM = 'lobby';

export interface Backend {
  /** Config for the instances (fresh prefixes / files per call). */
  config(): InstanceConfig;
  relay?: IpcRelay;
}

interface Received {
  client: RealtimeClient;
  messages: MessageFrame[];
}

async function scenario(backend: Backend, chaos: boolean): Promise<void> {
  const instances = await startInstances(3, backend.config(), backend.relay);
  const clients: Received[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const home = i % 3;
      // Each client prefers its own instance and falls back to the others in turn.
      const urls = [0, 1, 2].map((k) => instances[(home + k) % 3]!.url);
      const client = connect(urls, {
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        minDelay: 50,
        maxDelay: 500,
      });
      const r: Received = { client, messages: [] };
      client.on('message', (m) => r.messages.push(m));
      clients.push(r);
    }
    await Promise.all(clients.map((c) => c.client.join(ROOM, { since: 0 })));
    // Presence crosses instances: everyone sees all 30.
    await eventually(() => clients.every((c) => c.client.members(ROOM).length === CLIENTS), 10_000);

    let sent = 0;
    let killed: Promise<void> | undefined;
    const victim: Instance = instances[2]!;
    const sender = async (s: number) => {
      const c = clients[s]!.client; // senders 0…4 live on instances 0, 1, 2, 0, 1
      const inFlight: Promise<MessageFrame>[] = [];
      for (let k = 0; k < PER_SENDER; k++) {
        inFlight.push(c.send(ROOM, `${s}:${k}`));
        sent++;
        if (chaos && !killed && sent >= 300) killed = victim.kill();
        if (inFlight.length >= 10) await inFlight.shift();
        if (k % 20 === 0) await sleep(5); // let the senders interleave
      }
      await Promise.all(inFlight);
    };
    await Promise.all(Array.from({ length: SENDERS }, (_, s) => sender(s)));
    await killed;

    await eventually(() => clients.every((c) => c.messages.length >= TOTAL), 30_000, 50).catch(() => {
      const counts = clients.map((c) => c.messages.length);
      throw new Error(`not every client got ${TOTAL} messages: ${counts.join(',')}`);
    });
    await sleep(200); // anything extra (a duplicate) would arrive now
    const expected = new Set(
      Array.from({ length: TOTAL }, (_, i) => `${Math.floor(i / PER_SENDER)}:${i % PER_SENDER}`),
    );
    for (const [i, c] of clients.entries()) {
      const offsets = c.messages.map((m) => m.offset);
      assert.deepEqual(
        offsets,
        Array.from({ length: TOTAL }, (_, k) => k + 1),
        `client ${i}: offsets 1…${TOTAL} in order`,
      );
      const texts = c.messages.map((m) => m.text);
      assert.equal(new Set(texts).size, TOTAL, `client ${i}: no message stored twice`);
      assert.deepEqual(new Set(texts), expected, `client ${i}: every message`);
      assert.equal(c.client.stats.duplicates, 0, `client ${i}: no duplicate on the wire`);
      assert.equal(c.client.stats.gaps, 0, `client ${i}: no gap on the wire`);
    }
    if (chaos) {
      const moved = clients.filter((_, i) => i % 3 === 2);
      assert.ok(
        moved.every((c) => c.client.stats.reconnects >= 1),
        'the victim’s clients reconnected elsewhere',
      );
    }
  } finally {
    for (const c of clients) c.client.close();
    await Promise.all(instances.map((x) => x.kill()));
  }
}

/**
 * Registers the two scenarios for one backend.
 *
 * @example
 * ```ts
 * runMultiInstance('redis', () => ({ config: () => ({ log: …, bus: … }) }), await needService('redis'));
 * ```
 */
export function runMultiInstance(
  name: string,
  backend: () => Backend | Promise<Backend>,
  skip: string | false,
): void {
  describe(`realtime hub, 3 instances on ${name}`, { skip }, () => {
    after(killAll);
    it(
      `${CLIENTS} clients get ${TOTAL} messages from ${SENDERS} senders exactly once, in offset order`,
      { timeout: 60_000 },
      async () => {
        await scenario(await backend(), false);
      },
    );
    it(
      'the same while one instance is SIGKILLed mid-stream: zero lost, zero duplicated',
      { timeout: 60_000 },
      async () => {
        await scenario(await backend(), true);
      },
    );
  });
}
