/**
 * The NATS Bus: core NATS subjects (no JetStream), at-most-once like every Bus. A channel is the
 * subject `${prefix}bus.${channel}`, each part escaped into a single token (`subjectToken`), so a
 * channel name can hold any character without becoming a wildcard. All handlers of a channel
 * share one NATS subscription; the client re-subscribes by itself after a reconnect.
 *
 * Core NATS publish is fire-and-forget; `publish` resolves only once a PING/PONG round trip that
 * followed the message came back, i.e. the server has taken it (as Redis' PUBLISH reply says).
 * Round trips are shared: every publish waiting at a time rides on one PING.
 */
import type { Subscription } from '@nats-io/transport-node';
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import { connectNats, subjectToken, type NatsLink } from '../internal/nats-connect.js';
import { safeCall } from './memory-bus.js';
import { resolveLogger, type Logger } from '../logger.js';
import type { Bus, BusHandler, NatsBusOptions } from './types.js';

interface Channel {
  handlers: Set<BusHandler>;
  sub: Subscription;
  /** Settles once the server has the subscription. */
  active: Promise<void>;
}

class NatsBus implements Bus {
  readonly backend = 'nats' as const;
  private readonly channels = new Map<string, Channel>();
  private readonly base: string;
  /** The PING now on the wire, and the one that will follow it for publishes made meanwhile. */
  private flushing: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly link: NatsLink,
    prefix: string,
    private readonly guard: CallGuard,
    private readonly log: Logger,
  ) {
    this.base = prefix === '' ? 'bus.' : `${subjectToken(prefix)}bus.`;
  }

  private subject(channel: string): string {
    return this.base + subjectToken(channel);
  }

  /** Resolves once the server has processed everything written before this call. */
  private confirm(): Promise<void> {
    if (!this.flushing) {
      const f = this.link.nc.flush().finally(() => {
        if (this.flushing === f) this.flushing = undefined;
      });
      this.flushing = f;
      return f;
    }
    // A PING already sent does not cover what was written after it: wait for the next one.
    this.queued ??= this.flushing
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        return this.confirm();
      });
    return this.queued;
  }

  private down(op: string): StatelineError {
    return new StatelineError('SL_ERR_BUS_UNAVAILABLE', `nats bus: not connected, cannot ${op}`);
  }

  publish(channel: string, message: string): Promise<void> {
    return this.guard.run('publish', () => {
      if (!this.link.connected) throw this.down('publish');
      this.link.nc.publish(this.subject(channel), message);
      return this.confirm();
    });
  }

  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    return this.guard.run('subscribe', async () => {
      if (!this.link.connected) throw this.down('subscribe');
      const subject = this.subject(channel);
      // A handler object per call, so subscribing the same function twice yields two removable entries.
      const wrapped: BusHandler = (m, c) => handler(m, c);
      let ch = this.channels.get(subject);
      if (!ch) {
        const handlers = new Set<BusHandler>();
        const sub = this.link.nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err) return;
            const text = msg.string();
            for (const h of [...handlers]) safeCall(h, text, channel, this.log);
          },
        });
        const created: Channel = { handlers, sub, active: this.confirm() };
        ch = created;
        this.channels.set(subject, created);
        created.active.catch(() => {
          if (this.channels.get(subject) === created) {
            this.channels.delete(subject);
            sub.unsubscribe();
          }
        });
      }
      ch.handlers.add(wrapped);
      try {
        await ch.active;
      } catch (err) {
        ch.handlers.delete(wrapped);
        throw err;
      }
      let removed = false;
      return () => {
        if (removed) return Promise.resolve();
        removed = true;
        this.remove(subject, wrapped);
        return Promise.resolve();
      };
    });
  }

  private remove(subject: string, handler: BusHandler): void {
    const ch = this.channels.get(subject);
    if (!ch || !ch.handlers.delete(handler) || ch.handlers.size > 0) return;
    this.channels.delete(subject);
    // The client sends UNSUB when it can; delivery already stopped (the handler set is empty).
    if (!this.guard.isClosed && !this.link.nc.isClosed()) ch.sub.unsubscribe();
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.link.onConnectionChange(listener);
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    this.channels.clear();
    await this.link.close();
  }
}

/**
 * Opens a NATS Bus on core NATS subjects. Rejects with `SL_ERR_BUS_UNAVAILABLE` when no server
 * answers within `timeout`; once open it reconnects and re-subscribes by itself. Usually reached
 * through `createBus('nats://127.0.0.1:4222')`.
 *
 * @example
 * ```ts
 * const bus = await openNatsBus({ type: 'nats', url: 'nats://127.0.0.1:4222', prefix: 'app:' });
 * await bus.subscribe('revoked', (sid) => denyList.add(sid));
 * await bus.publish('revoked', 'sid-42'); // subject app:bus.revoked
 * ```
 */
export async function openNatsBus(options: NatsBusOptions): Promise<Bus> {
  const timeout = options.timeout ?? 2000;
  if (typeof options.url !== 'string' || !options.url) {
    throw new StatelineError('SL_ERR_INVALID_OPTION', 'nats bus needs a url such as nats://127.0.0.1:4222');
  }
  const log = resolveLogger(options.logger, 'nats bus');
  const link = await connectNats(options.url, {
    code: 'SL_ERR_BUS_UNAVAILABLE',
    label: 'nats bus',
    timeout,
    logger: log,
  });
  return new NatsBus(
    link,
    options.prefix ?? 'sl:',
    new CallGuard('SL_ERR_BUS_UNAVAILABLE', 'nats bus', timeout),
    log,
  );
}
