/**
 * The Redis Bus, on one server or on a Redis Cluster. Channel names are `${prefix}${channel}`, and
 * all handlers of a channel share one Redis subscription.
 *
 * One server: PUBLISH on one connection, SUBSCRIBE on a second, dedicated one (a subscribed
 * connection can run nothing else); node-redis re-subscribes by itself after a reconnect.
 * Cluster: sharded pub/sub. SPUBLISH goes to the master owning the channel's slot and SSUBSCRIBE is
 * held on that master's pub/sub connection, so channels spread over the masters by slot and a
 * message never crosses the cluster bus. When Redis moves a slot it drops the subscriptions of its
 * channels, and node-redis 5 does not follow them (its cluster waits for `server-sunsubscribe`, its
 * client emits `sharded-channel-moved`: redis/node-redis#3311, fixed upstream by #3313). So this bus subscribes every channel it holds again, every
 * {@link RESUBSCRIBE_MS} and whenever the link comes back after a node was lost: a no-op for a
 * subscription still in place, a MOVED-guided SSUBSCRIBE on the new owner for one that was dropped.
 * Messages published in between are missed, as the at-most-once contract allows.
 * Either way `onConnectionChange(true)` fires only once the subscriptions are active.
 * A single-server bus registers its url and prefix (internal/redis-publish-route.ts), so a Redis
 * Log on the same url can publish its messages from the append script (`Log.publisherFor`).
 */
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import {
  connectRedisClient,
  connectRedisCluster,
  connectRedisSentinel,
  type RedisLink,
  type RedisSubscriber,
} from '../internal/redis-connect.js';
import { setRedisPublishRoute } from '../internal/redis-publish-route.js';
import { safeCall } from './memory-bus.js';
import { resolveLogger, type Logger } from '../logger.js';
import type {
  Bus,
  BusHandler,
  RedisBusOptions,
  RedisClusterBusOptions,
  RedisSentinelBusOptions,
} from './types.js';

/** How often a cluster bus re-checks its sharded subscriptions (a moved slot heals within this). */
const RESUBSCRIBE_MS = 1000;

interface Channel {
  handlers: Set<BusHandler>;
  /** Settles when Redis confirmed the SUBSCRIBE. */
  active: Promise<void>;
}

class RedisBus implements Bus {
  private readonly channels = new Map<string, Channel>();
  private readonly listeners = new Set<(connected: boolean) => void>();
  private connected = true;
  private readonly offLinks: Array<() => void>;
  /** Bumped on every transition, so a slow re-subscribe cannot report a link that dropped again. */
  private generation = 0;
  private readonly reconcile: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;

  constructor(
    readonly backend: 'redis' | 'redis-cluster' | 'redis-sentinel',
    private readonly pub: RedisLink,
    private readonly sub: RedisLink & RedisSubscriber,
    private readonly prefix: string,
    private readonly guard: CallGuard,
    private readonly log: Logger,
  ) {
    const update = () => {
      const up = this.pub.connected && this.sub.connected;
      const gen = ++this.generation;
      if (!up || backend === 'redis') return this.setConnected(up);
      void this.resubscribe().then(() => {
        if (gen === this.generation) this.setConnected(true);
      });
    };
    this.offLinks =
      pub === sub
        ? [pub.onConnectionChange(update)]
        : [pub.onConnectionChange(update), sub.onConnectionChange(update)];
    if (backend === 'redis-cluster') {
      this.reconcile = setInterval(() => {
        if (this.connected && this.channels.size > 0) void this.resubscribe();
      }, RESUBSCRIBE_MS);
      this.reconcile.unref();
    }
  }

  /** Subscribes every held channel again; one that fails now is retried at the next pass. */
  private resubscribe(): Promise<void> {
    const names = [...this.channels.keys()];
    this.reconciling ??= Promise.all(
      names.map((name) => this.sub.subscribe(name, this.dispatch).catch(() => {})),
    ).then(async () => {
      this.reconciling = undefined;
      // A channel removed meanwhile must not stay subscribed on the server.
      const gone = names.filter((n) => !this.channels.has(n));
      if (!this.guard.isClosed)
        await Promise.all(gone.map((n) => this.sub.unsubscribe(n, this.dispatch).catch(() => {})));
    });
    return this.reconciling;
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
      this.pub.command(name, [this.sub.publishCommand, name, message]).then(() => undefined),
    );
  }

  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    return this.guard.run('subscribe', async () => {
      const name = this.prefix + channel;
      // A handler object per call, so subscribing the same function twice yields two removable entries.
      const wrapped: BusHandler = (m, c) => handler(m, c);
      if (!this.sub.canSubscribe) {
        throw new StatelineError(
          'SL_ERR_BUS_UNAVAILABLE',
          `${this.backend} bus: not connected, cannot subscribe`,
        );
      }
      let ch = this.channels.get(name);
      if (!ch) {
        const created: Channel = {
          handlers: new Set(),
          active: this.sub.subscribe(name, this.dispatch),
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
    await this.guard.run('unsubscribe', () => this.sub.unsubscribe(name, this.dispatch)).catch(() => {});
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    clearInterval(this.reconcile);
    for (const off of this.offLinks) off();
    this.listeners.clear();
    this.channels.clear();
    await Promise.all(this.pub === this.sub ? [this.pub.close()] : [this.pub.close(), this.sub.close()]);
  }
}

/**
 * Opens a Redis Bus: on one server (two connections: publish and subscribe) or, with
 * `type: 'redis-cluster'`, on a Redis Cluster with sharded pub/sub. Rejects with
 * `SL_ERR_BUS_UNAVAILABLE` when the server cannot be reached within `timeout`; once open it
 * reconnects and re-subscribes by itself. Usually reached through `createBus`.
 *
 * @example
 * ```ts
 * const bus = await openRedisBus({ type: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'app:' });
 * bus.onConnectionChange((up) => console.log(up ? 'bus back' : 'bus lost: messages may be missed'));
 * const sharded = await openRedisBus({ type: 'redis-cluster', nodes: ['redis://10.0.0.1:7000'] });
 * const failover = await openRedisBus({ type: 'redis-sentinel', sentinels: ['10.0.0.1:26379'], name: 'mymaster' });
 * ```
 */
export async function openRedisBus(
  options: RedisBusOptions | RedisClusterBusOptions | RedisSentinelBusOptions,
): Promise<Bus> {
  const timeout = options.timeout ?? 2000;
  const label = `${options.type} bus`;
  const guard = new CallGuard('SL_ERR_BUS_UNAVAILABLE', label, timeout);
  const prefix = options.prefix ?? 'sl:';
  const log = resolveLogger(options.logger, label);
  const o = { code: 'SL_ERR_BUS_UNAVAILABLE', label, timeout, logger: log } as const;
  if (options.type === 'redis-cluster') {
    const link = await connectRedisCluster(options.nodes, o);
    return new RedisBus('redis-cluster', link, link, prefix, guard, log);
  }
  if (options.type === 'redis-sentinel') {
    // One sentinel client: commands on its pool, subscriptions on its pub/sub connection (both follow a promotion).
    const link = await connectRedisSentinel(options, o);
    return new RedisBus('redis-sentinel', link, link, prefix, guard, log);
  }
  if (typeof options.url !== 'string' || !options.url) {
    throw new StatelineError('SL_ERR_INVALID_OPTION', 'redis bus needs a url such as redis://127.0.0.1:6379');
  }
  const pub = await connectRedisClient(options.url, o);
  try {
    const bus = new RedisBus('redis', pub, await connectRedisClient(options.url, o), prefix, guard, log);
    // A Redis Log on this url may publish for this Bus from its append script (one round trip).
    setRedisPublishRoute(bus, { url: options.url, prefix, closed: () => guard.isClosed });
    return bus;
  } catch (err) {
    await pub.close();
    throw err;
  }
}
