/**
 * The `ipc:` bus. Variant chosen: both, because each covers what the other cannot.
 * 1. The conformance suite where every Bus from make() lives in a REAL forked child (it runs
 *    createBus('ipc:') there) and this test process is the supervisor running attachIpcRelay();
 *    a small proxy forwards the suite's calls to the child over the same IPC channel (test commands
 *    carry `fx`, bus traffic `$sl`). Buses alternate between two children, so the suite's "two
 *    buses" are two processes and every message really crosses child → relay → child.
 * 2. The conformance suite on relay.bus() endpoints, the supervisor's own Bus; it also runs the
 *    suite's throwing-handler case inside IpcBus itself (in variant 1 the handlers run here).
 * Then process-level tests: 3 children exchanging bursts (every child gets every message, its own
 * included, in per-publisher order), relay filtering proven by spying on what reaches each child,
 * an exited child leaving the relay, no parent, a parent without relay, and a parent going away.
 */
import assert from 'node:assert/strict';
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { attachIpcRelay, type Bus, type BusHandler, type IpcRelay } from '../../src/bus/index.js';
import { safeCall } from '../../src/bus/memory-bus.js';
import { ERROR_CATALOGUE, StatelineError, isStatelineError, type ErrorCode } from '../../src/errors.js';
import { eventually, sleep } from '../support/free-port.js';
import { uniquePrefix } from '../support/services.js';
import { runBusConformance } from './bus.case.js';

const FIXTURE = new URL('./fixtures/ipc-bus-child.ts', import.meta.url).pathname;
const children: ChildProcess[] = [];
const spawnChild = (mode: string) => {
  const c = fork(FIXTURE, [mode], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(c);
  return c;
};
/** Resolves on the child's `{ fx: 'ready' }`; bus envelopes (`$sl`) may arrive before it. */
const readyOf = (c: ChildProcess) =>
  new Promise<void>((r) => {
    const on = (m: FromChild) => m.fx === 'ready' && (c.off('message', on), r());
    c.on('message', on);
  });
const exited = (c: ChildProcess) =>
  c.exitCode !== null
    ? Promise.resolve(c.exitCode)
    : new Promise<number | null>((r) => c.once('exit', (code) => r(code)));

type FromChild = {
  fx?: string;
  req?: number;
  ok?: boolean;
  value?: unknown;
  code?: string;
  message?: string;
  hid?: number;
  channel?: string;
  ch?: string;
  bus?: number;
  up?: boolean;
};

let nextHid = 0;

/** Drives one fixture child: calls run there, handler deliveries come back here. */
class FixtureChild {
  readonly proc: ChildProcess;
  readonly ready: Promise<unknown>;
  /** Prefixed channels of every bus envelope the relay forwarded to this child (after `spy`). */
  readonly raw: string[] = [];
  readonly handlers = new Map<number, BusHandler>();
  readonly conn = new Map<number, Set<(up: boolean) => void>>();
  private req = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(relay: IpcRelay) {
    this.proc = spawnChild('serve');
    relay.add(this.proc);
    this.ready = readyOf(this.proc);
    this.proc.on('message', (m: FromChild) => {
      if (m.fx === 'res') {
        const p = this.pending.get(m.req!);
        this.pending.delete(m.req!);
        if (m.ok) p?.resolve(m.value);
        else
          p?.reject(
            m.code && m.code in ERROR_CATALOGUE
              ? new StatelineError(m.code as ErrorCode, `in the child: ${m.message}`)
              : new Error(m.message),
          );
      } else if (m.fx === 'got') {
        const h = this.handlers.get(m.hid!);
        if (h) safeCall(h, m.message!, m.channel!);
      } else if (m.fx === 'raw') this.raw.push(m.ch!);
      else if (m.fx === 'conn') for (const l of this.conn.get(m.bus!) ?? []) l(m.up!);
    });
  }

  call(op: string, args: Record<string, unknown> = {}): Promise<unknown> {
    const req = ++this.req;
    return new Promise((resolve, reject) => {
      this.pending.set(req, { resolve, reject });
      this.proc.send({ fx: 'call', req, op, ...args });
    });
  }

  async open(prefix: string): Promise<ProxyBus> {
    await this.ready;
    return new ProxyBus(this, Number(await this.call('open', { prefix })));
  }
}

/** A Bus whose every call runs on a real `ipc:` bus inside a child process. */
class ProxyBus implements Bus {
  readonly backend = 'ipc' as const;
  constructor(
    private readonly child: FixtureChild,
    readonly id: number,
  ) {}

  async publish(channel: string, message: string): Promise<void> {
    await this.child.call('pub', { bus: this.id, channel, message });
  }

  async subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    const hid = ++nextHid;
    this.child.handlers.set(hid, handler);
    await this.child.call('sub', { bus: this.id, channel, hid });
    return async () => {
      await this.child.call('unsub', { hid });
      this.child.handlers.delete(hid); // after: deliveries sent before the unsubscribe still arrive first
    };
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    let set = this.child.conn.get(this.id);
    if (!set) this.child.conn.set(this.id, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  async close(): Promise<void> {
    await this.child.call('close', { bus: this.id });
  }
}

const relay = attachIpcRelay();
let pair: FixtureChild[] | undefined;
let made = 0;
after(async () => {
  relay.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
  await Promise.all(children.map(exited));
});

runBusConformance({
  backend: 'ipc',
  make: (prefix) => {
    pair ??= [new FixtureChild(relay), new FixtureChild(relay)];
    return pair[made++ % 2]!.open(prefix);
  },
});

runBusConformance({ backend: 'ipc-relay', make: async (prefix) => relay.bus({ prefix }) });

describe('ipc bus across processes [ipc]', () => {
  it('[ipc] 3 children: every child gets every message, its own included, in per-publisher order; unsubscribed channels are not forwarded; an exited child leaves', async () => {
    const own = attachIpcRelay();
    try {
      const prefix = uniquePrefix('ipc-three');
      const kids = [new FixtureChild(own), new FixtureChild(own), new FixtureChild(own)];
      const buses = await Promise.all(kids.map((k) => k.open(prefix)));
      assert.equal(own.size, 3);
      const got = kids.map(() => [] as string[]);
      const offs = await Promise.all(buses.map((b, i) => b.subscribe('all', (m) => got[i]!.push(m))));
      await Promise.all(kids.map((k) => k.call('spy')));

      await Promise.all(
        buses.map((b, i) => kids[i]!.call('burst', { bus: b.id, channel: 'all', tag: `p${i}`, count: 30 })),
      );
      await eventually(() => got.every((g) => g.length === 90), 5000);
      for (const g of got) {
        for (const p of ['p0', 'p1', 'p2']) {
          const mine = g.filter((m) => m.startsWith(`${p}:`));
          assert.deepEqual(
            mine,
            Array.from({ length: 30 }, (_, n) => `${p}:${n}`),
          );
        }
      }

      // Nobody subscribed to 'nobody'; a later marker on 'all' from the same publisher arrives
      // after anything forwarded before it, so once all have the marker nothing can still come.
      await buses[0]!.publish('nobody', 'lost');
      await offs[1]!(); // child 1 no longer listens on 'all'
      await buses[0]!.publish('all', 'marker');
      await eventually(() => got[0]!.includes('marker') && got[2]!.includes('marker'), 3000);
      await sleep(100);
      const forwarded = (k: FixtureChild, ch: string) => k.raw.filter((c) => c === prefix + ch).length;
      assert.deepEqual(
        kids.map((k) => forwarded(k, 'nobody')),
        [0, 0, 0],
        'no child was sent the channel nobody subscribed to',
      );
      assert.deepEqual(
        kids.map((k) => forwarded(k, 'all')),
        [91, 90, 91],
        'the marker was not sent to the child that unsubscribed',
      );
      assert.ok(!got[1]!.includes('marker'));

      await kids[2]!.call('exit');
      await exited(kids[2]!.proc);
      await eventually(() => own.size === 2, 3000);
      await buses[1]!.publish('all', 'after-exit');
      await eventually(() => got[0]!.includes('after-exit'), 3000);
    } finally {
      own.close();
    }
  });

  it('[ipc] many buses in one child share its IPC channel: each handler gets each message once, closing some keeps the rest', async () => {
    pair ??= [new FixtureChild(relay), new FixtureChild(relay)];
    const kid = pair[1]!;
    const prefix = uniquePrefix('ipc-many');
    const buses = await Promise.all(Array.from({ length: 12 }, () => kid.open(prefix)));
    const got = buses.map(() => [] as string[]);
    await Promise.all(buses.map((b, i) => b.subscribe('fan', (m) => got[i]!.push(m))));
    await relay.bus({ prefix }).publish('fan', 'one');
    await eventually(() => got.every((g) => g.length === 1), 3000);
    for (const b of buses.slice(1)) await b.close();
    await relay.bus({ prefix }).publish('fan', 'two');
    await eventually(() => got[0]!.length === 2, 3000);
    await sleep(100);
    assert.deepEqual(got[0], ['one', 'two'], 'the relay still forwards to the child for its one open bus');
    assert.ok(
      got.slice(1).every((g) => g.length === 1),
      'closed buses hear nothing more',
    );
    assert.deepEqual(
      await kid.call('warnings'),
      [],
      'no MaxListenersExceededWarning or other warnings in the child',
    );
    await buses[0]!.close();
  });

  it('[ipc] the supervisor’s relay.bus() and a child bus talk both ways', async () => {
    pair ??= [new FixtureChild(relay), new FixtureChild(relay)];
    const prefix = uniquePrefix('ipc-mixed');
    const child = await pair[0]!.open(prefix);
    const parent = relay.bus({ prefix });
    const inChild: string[] = [];
    const inParent: string[] = [];
    await child.subscribe('c', (m) => inChild.push(m));
    await parent.subscribe('c', (m) => inParent.push(m));
    await parent.publish('c', 'from-parent');
    await child.publish('c', 'from-child');
    await eventually(() => inChild.length === 2 && inParent.length === 2, 3000);
    assert.deepEqual(inChild.sort(), ['from-child', 'from-parent']);
    assert.deepEqual(inParent.sort(), ['from-child', 'from-parent']);
    await child.close();
    await parent.close();
  });

  it('[ipc] createBus("ipc:") without an IPC channel rejects with SL_ERR_BUS_UNAVAILABLE naming attachIpcRelay', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', FIXTURE, 'noparent']);
    const out = JSON.parse(stdout.trim()) as { code: string; message: string };
    assert.equal(out.code, 'SL_ERR_BUS_UNAVAILABLE');
    assert.match(out.message, /attachIpcRelay/);
    assert.match(out.message, /stateline up/);
  });

  it('[ipc] a child whose parent runs no relay gets SL_ERR_BUS_UNAVAILABLE, not a silent bus', async () => {
    const c = spawnChild('norelay');
    const result = await new Promise<FromChild>((r) =>
      c.on('message', (m: FromChild) => m.fx === 'result' && r(m)),
    );
    assert.equal(result.code, 'SL_ERR_BUS_UNAVAILABLE');
    assert.match(result.message!, /attachIpcRelay/);
    assert.equal(await exited(c), 0);
  });

  it('[ipc] when the parent goes away the child sees onConnectionChange(false), publish rejects, and nothing crashes', async () => {
    const c = spawnChild('orphan');
    relay.add(c);
    const before = relay.size;
    await readyOf(c);
    c.disconnect();
    assert.equal(
      await exited(c),
      0,
      'exit code 0: connection lost was reported and publish rejected with SL_ERR_BUS_UNAVAILABLE',
    );
    assert.equal(relay.size, before - 1);
  });

  it('[ipc] a closed relay refuses new work and its buses report the connection lost', async () => {
    const own = attachIpcRelay();
    const bus = own.bus();
    const changes: boolean[] = [];
    bus.onConnectionChange((up) => changes.push(up));
    await bus.publish('x', 'fine');
    own.close();
    assert.deepEqual(changes, [false]);
    await assert.rejects(bus.publish('x', 'y'), (err) => isStatelineError(err, 'SL_ERR_BUS_UNAVAILABLE'));
    assert.throws(
      () => own.bus(),
      (err) => isStatelineError(err, 'SL_ERR_CLOSED'),
    );
    await bus.close();
  });
});
