import { randomUUID } from 'node:crypto';
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import { withTimeout } from '../internal/timeout.js';
import { safeCall } from './memory-bus.js';
import { resolveLogger, type Logger } from '../logger.js';
import type { Bus, BusHandler, IpcBusOptions } from './types.js';

/**
 * What travels over the IPC channel. The `$sl: 'bus'` marker lets other traffic share the channel.
 * Child → relay: `hello`, `sub`, `unsub` (each answered by `ack` with the same id) and `pub`;
 * relay → child: `ack` and `msg`. Channels are already prefixed.
 */
export type IpcBusMessage =
  | { $sl: 'bus'; op: 'hello' | 'sub' | 'unsub'; ch: string; id: string }
  | { $sl: 'bus'; op: 'pub' | 'msg'; ch: string; msg: string }
  | { $sl: 'bus'; op: 'ack'; id: string };

/**
 * True when an IPC message is Stateline bus traffic.
 *
 * @example
 * ```ts
 * process.on('message', (m) => { if (!isIpcBusMessage(m)) handleMyOwnMessage(m); });
 * ```
 */
export function isIpcBusMessage(m: unknown): m is IpcBusMessage {
  return typeof m === 'object' && m !== null && (m as { $sl?: unknown }).$sl === 'bus';
}

/** How an IpcBus reaches the relay: over this child's IPC channel, or directly inside the relay. */
export interface IpcLink {
  readonly connected: boolean;
  /** `hello`/`sub`/`unsub` resolve once the relay applied them; `pub` once the message left. */
  send(op: 'hello' | 'sub' | 'unsub' | 'pub', ch: string, msg?: string): Promise<void>;
  close(): void;
}

/** What a link calls back into: a message for a (prefixed) channel, or a connection change. */
export interface IpcSink {
  deliver(ch: string, msg: string): void;
  connection(up: boolean): void;
}

const gone = (cause?: unknown) =>
  new StatelineError('SL_ERR_BUS_UNAVAILABLE', 'ipc bus: the parent process is gone (IPC channel closed)', {
    cause,
  });

/**
 * The `ipc:` bus on either side of the relay; the link decides how requests travel. Made by
 * {@link openIpcBus} in a child and by `IpcRelay.bus()` in the supervisor.
 *
 * @example
 * ```ts
 * const bus = await createBus('ipc:'); // an IpcBus in a child of `stateline up`
 * bus.onConnectionChange((up) => { if (!up) log.warn('supervisor gone: bus messages are lost'); });
 * ```
 */
export class IpcBus implements Bus {
  readonly backend = 'ipc' as const;
  private readonly handlers = new Map<string, Set<BusHandler>>();
  private readonly listeners = new Set<(connected: boolean) => void>();
  private readonly prefix: string;
  private readonly guard: CallGuard;
  private readonly link: IpcLink;
  private readonly log: Logger;

  constructor(
    connect: (sink: IpcSink) => IpcLink,
    options: Omit<IpcBusOptions, 'type'> = {},
    label = 'ipc bus',
  ) {
    this.prefix = options.prefix ?? 'sl:';
    this.guard = new CallGuard('SL_ERR_BUS_UNAVAILABLE', label, options.timeout ?? 2000);
    this.log = resolveLogger(options.logger, label);
    this.link = connect({
      deliver: (ch, msg) => {
        for (const h of [...(this.handlers.get(ch) ?? [])])
          safeCall(h, msg, ch.slice(this.prefix.length), this.log);
      },
      connection: (up) => {
        for (const l of [...this.listeners]) {
          try {
            l(up);
          } catch (err) {
            this.log.warn({ err }, 'stateline ipc bus connection listener threw');
          }
        }
      },
    });
  }

  /** Resolves once a relay answered; used on open to fail fast when the parent runs none. */
  ready(): Promise<void> {
    return this.guard.run('connect', () => this.link.send('hello', ''));
  }

  publish(channel: string, message: string): Promise<void> {
    return this.guard.run('publish', () => this.link.send('pub', this.prefix + channel, message));
  }

  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    const name = this.prefix + channel;
    const wrapped: BusHandler = (m, c) => handler(m, c);
    // Listen before asking: Node emits each IPC message on its own tick, ahead of promise
    // continuations, so a message right behind the relay's ack must already find the handler.
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(wrapped);
    // The relay counts one subscription per handler.
    return this.guard
      .run('subscribe', () => this.link.send('sub', name))
      .then(
        () => {
          let active = true;
          return async () => {
            if (!active) return;
            active = false;
            // Locally gone at once; telling the relay only saves it forwarding, so failures are ignored.
            if (this.drop(name, wrapped))
              await this.guard.run('unsubscribe', () => this.link.send('unsub', name)).catch(() => {});
          };
        },
        (err: unknown) => {
          // A timed-out 'sub' may still reach the relay: balance it so the relay's count stays right.
          if (this.drop(name, wrapped) && this.link.connected) this.link.send('unsub', name).catch(() => {});
          throw err;
        },
      );
  }

  /** Removes one handler; false when it was already gone (unsubscribed, or the bus closed). */
  private drop(name: string, handler: BusHandler): boolean {
    const set = this.handlers.get(name);
    if (!set?.delete(handler)) return false;
    if (set.size === 0) this.handlers.delete(name);
    return true;
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    const unsubs = [...this.handlers].flatMap(([name, set]) => [...set].map(() => name));
    this.handlers.clear();
    this.listeners.clear();
    if (this.link.connected) {
      const sent = Promise.all(unsubs.map((name) => this.link.send('unsub', name).catch(() => {})));
      await withTimeout(sent, this.guard.timeout, () => gone()).catch(() => {});
    }
    this.link.close();
  }
}

/** Child links in this process; one pair of `process` listeners serves them all. */
const receivers = new Set<{ message(m: IpcBusMessage): void; disconnect(): void }>();
const onProcessMessage = (m: unknown) => {
  if (isIpcBusMessage(m)) for (const r of [...receivers]) r.message(m);
};
const onProcessDisconnect = () => {
  for (const r of [...receivers]) r.disconnect();
};

/** The link of a forked child: requests go to the parent over `process.send`. */
function childLink(sink: IpcSink): IpcLink {
  const tag = randomUUID();
  let n = 0;
  let up = true;
  const pending = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  const settleAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const receiver = {
    message(m: IpcBusMessage) {
      if (m.op === 'msg') sink.deliver(m.ch, m.msg);
      else if (m.op === 'ack') {
        pending.get(m.id)?.resolve();
        pending.delete(m.id);
      }
    },
    disconnect() {
      up = false;
      settleAll(gone());
      sink.connection(false);
    },
  };
  if (receivers.size === 0) {
    process.on('message', onProcessMessage);
    process.on('disconnect', onProcessDisconnect);
  }
  receivers.add(receiver);
  return {
    get connected() {
      return up && process.connected;
    },
    send(op, ch, msg) {
      return new Promise<void>((resolve, reject) => {
        if (!up || !process.connected || !process.send) return reject(gone());
        const id = op === 'pub' ? '' : `${tag}:${++n}`;
        const envelope: IpcBusMessage =
          op === 'pub' ? { $sl: 'bus', op, ch, msg: msg ?? '' } : { $sl: 'bus', op, ch, id };
        if (id) pending.set(id, { resolve, reject });
        const done = (err: Error | null) => {
          if (err) {
            pending.delete(id);
            reject(gone(err));
          } else if (!id) resolve();
        };
        try {
          process.send(envelope, undefined, undefined, done);
        } catch (err) {
          done(err instanceof Error ? err : new Error(String(err)));
        }
      });
    },
    close() {
      up = false;
      receivers.delete(receiver);
      // Without listeners the IPC channel no longer keeps this process alive.
      if (receivers.size === 0) {
        process.off('message', onProcessMessage);
        process.off('disconnect', onProcessDisconnect);
      }
      settleAll(new StatelineError('SL_ERR_CLOSED', 'ipc bus was closed'));
    },
  };
}

/**
 * Opens the `ipc:` bus in a process forked by a parent that runs {@link attachIpcRelay}
 * (as `stateline up` does). Without an IPC channel, or when no relay answers within `timeout`,
 * it rejects with `SL_ERR_BUS_UNAVAILABLE`.
 *
 * @example
 * ```ts
 * const bus = await openIpcBus({ prefix: 'shop:' }); // usually: await createBus('ipc:')
 * await bus.subscribe('revoked', (sid) => denyList.add(sid));
 * ```
 */
export async function openIpcBus(options: Omit<IpcBusOptions, 'type'> = {}): Promise<IpcBus> {
  if (typeof process.send !== 'function' || !process.connected) {
    throw new StatelineError(
      'SL_ERR_BUS_UNAVAILABLE',
      'the ipc: bus needs a parent process running attachIpcRelay() (e.g. `stateline up`), and this process has no IPC channel',
    );
  }
  const bus = new IpcBus(childLink, options);
  try {
    await bus.ready();
  } catch (cause) {
    await bus.close();
    throw new StatelineError(
      'SL_ERR_BUS_UNAVAILABLE',
      'no relay answered on the IPC channel: the parent process must run attachIpcRelay() (e.g. `stateline up`)',
      { cause },
    );
  }
  return bus;
}
