/**
 * The Redis Bus: PUBLISH on one connection, SUBSCRIBE on a second, dedicated one (a subscribed
 * connection can run nothing else). Channel names are `${prefix}${channel}`. All handlers of a
 * channel share one Redis subscription; node-redis re-subscribes by itself after a reconnect, and
 * `onConnectionChange(true)` fires only once both connections are back and that is done.
 */
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import { connectRedisClient, type RedisClientLink } from '../internal/redis-connect.js';
import { safeCall } from './memory-bus.js';
import { resolveLogger, type Logger } from '../logger.js';
import type { Bus, BusHandler, RedisBusOptions } from './types.js';

interface Channel {
  handlers: Set<BusHandler>;
  /** Settles when Redis confirmed the SUBSCRIBE. */
  active: Promise<void>;
}

class RedisBus implements Bus {
  readonly backend = 'redis' as const;
  private readonly channels = new Map<string, Channel>();
  private readonly listeners = new Set<(connected: boolean) => void>();
  private connected = true;
  private readonly offLinks: Array<() => void>;

  constructor(
    private readonly pub: RedisClientLink,
    private readonly sub: RedisClientLink,
    private readonly prefix: string,
    private readonly guard: CallGuard,
    private readonly log: Logger,
  ) {
    const update = () => this.setConnected(this.pub.connected && this.sub.connected);
    this.offLinks = [pub.onConnectionChange(update), sub.onConnectionChange(update)];
  }

  private setConnected(up: boolean): void {
    if (up === this.connected || this.guard.isClosed) return;
    this.connected = up;
    for (const l of [...this.listeners]) {
      try {
        l(up);
      } catch (err) {
        this.log.warn({ err }, 'stateline redis bus connection listener threw');
      }
    }
  }

  /** The one node-redis listener for every channel: fans out to this bus's handlers. */
  private readonly dispatch = (message: string, name: string): void => {
    const ch = this.channels.get(name);
    if (!ch) return;
    const channel = name.slice(this.prefix.length);
    for (const h of [...ch.handlers]) safeCall(h, message, channel, this.log);
  };

  publish(channel: string, message: string): Promise<void> {
    const name = this.prefix + channel;
    return this.guard.run('publish', () =>
      this.pub.command(name, ['PUBLISH', name, message]).then(() => undefined),
    );
  }

  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    return this.guard.run('subscribe', async () => {
      const name = this.prefix + channel;
      // A handler object per call, so subscribing the same function twice yields two removable entries.
      const wrapped: BusHandler = (m, c) => handler(m, c);
      if (!this.sub.client.isReady) {
        throw new StatelineError('SL_ERR_BUS_UNAVAILABLE', 'redis bus: not connected, cannot subscribe');
      }
      let ch = this.channels.get(name);
      if (!ch) {
        const created: Channel = {
          handlers: new Set(),
          active: this.sub.client.subscribe(name, this.dispatch),
        };
        ch = created;
        this.channels.set(name, created);
        created.active.catch(() => {
          // A failed SUBSCRIBE leaves nothing behind; the caller sees the error below.
          if (this.channels.get(name) === created) this.channels.delete(name);
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
      return async () => {
        if (removed) return;
        removed = true;
        await this.remove(name, wrapped);
      };
    });
  }

  private async remove(name: string, handler: BusHandler): Promise<void> {
    const ch = this.channels.get(name);
    if (!ch || !ch.handlers.delete(handler) || ch.handlers.size > 0) return;
    this.channels.delete(name);
    if (this.guard.isClosed) return;
    // Delivery already stopped (the map is the filter); UNSUBSCRIBE only frees the server side,
    // so a server that is down does not make removing a handler fail.
    await this.guard
      .run('unsubscribe', () => this.sub.client.unsubscribe(name, this.dispatch))
      .catch(() => {});
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    for (const off of this.offLinks) off();
    this.listeners.clear();
    this.channels.clear();
    await Promise.all([this.pub.close(), this.sub.close()]);
  }
}

/**
 * Opens a Redis Bus (two connections: publish and subscribe). Rejects with
 * `SL_ERR_BUS_UNAVAILABLE` when the server cannot be reached within `timeout`; once open it
 * reconnects and re-subscribes by itself. Usually reached through `createBus`.
 *
 * @example
 * ```ts
 * const bus = await openRedisBus({ type: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'app:' });
 * bus.onConnectionChange((up) => console.log(up ? 'bus back' : 'bus lost: messages may be missed'));
 * ```
 */
export async function openRedisBus(options: RedisBusOptions): Promise<Bus> {
  const timeout = options.timeout ?? 2000;
  if (typeof options.url !== 'string' || !options.url) {
    throw new StatelineError('SL_ERR_INVALID_OPTION', 'redis bus needs a url such as redis://127.0.0.1:6379');
  }
  const log = resolveLogger(options.logger, 'redis bus');
  const o = { code: 'SL_ERR_BUS_UNAVAILABLE', label: 'redis bus', timeout, logger: log } as const;
  const pub = await connectRedisClient(options.url, o);
  let sub: RedisClientLink;
  try {
    sub = await connectRedisClient(options.url, o);
  } catch (err) {
    await pub.close();
    throw err;
  }
  return new RedisBus(
    pub,
    sub,
    options.prefix ?? 'sl:',
    new CallGuard('SL_ERR_BUS_UNAVAILABLE', 'redis bus', timeout),
    log,
  );
}
