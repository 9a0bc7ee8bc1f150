import type { Logger } from '../logger.js';
/** Receives one message: the payload and the channel it came on. */
export type BusHandler = (message: string, channel: string) => void;

export type BusBackend =
  'memory' | 'ipc' | 'redis' | 'redis-cluster' | 'redis-sentinel' | 'postgres' | 'nats';

/**
 * Publish/subscribe between instances. Delivery is at-most-once: a message published while a
 * subscriber is disconnected is gone. Anything that must not be lost goes through a Store or Log.
 * Every subscriber of a channel receives each message, the publishing process's own included.
 *
 * @example
 * ```ts
 * const bus = await createBus('redis://127.0.0.1:6379');
 * const off = await bus.subscribe('invalidate', (msg) => cache.delete(msg));
 * await bus.publish('invalidate', 'session:42');
 * await off();
 * ```
 */
export interface Bus {
  readonly backend: BusBackend;
  /** Resolves once the backend accepted the message; rejects with `SL_ERR_BUS_UNAVAILABLE` when down. */
  publish(channel: string, message: string): Promise<void>;
  /** Resolves when the subscription is active; the returned function removes this one handler. */
  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>>;
  /**
   * Called with `false` when the connection to the backend is lost (messages may be missed from
   * now on) and `true` when it is back and subscriptions are active again. Returns an unsubscribe.
   */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  close(): Promise<void>;
}

export interface CommonBusOptions {
  /** Prepended to every channel (default `'sl:'`). */
  prefix?: string;
  /** Longest wait for the server on any call, in ms (default 2000). */
  timeout?: number;
  /** Where this backend reports what it cannot throw to a caller (default: process warnings; see `stateline/logger`). */
  logger?: Logger;
}

export interface MemoryBusOptions extends CommonBusOptions {
  type: 'memory';
  /** Buses made with the same hub object talk to each other (default: one hub per process). */
  hub?: object;
}
export interface IpcBusOptions extends CommonBusOptions {
  type: 'ipc';
}
export interface RedisBusOptions extends CommonBusOptions {
  type: 'redis';
  url: string;
}
/** Sharded pub/sub (SPUBLISH/SSUBSCRIBE): each channel lives on the master that owns its slot. */
export interface RedisClusterBusOptions extends CommonBusOptions {
  type: 'redis-cluster';
  /** Seed nodes, e.g. `['redis://127.0.0.1:7000']`; the topology is discovered from them. */
  nodes: string[];
}
/**
 * One Redis primary with replicas watched by Redis Sentinel: the primary is found through the
 * sentinels and followed when they promote a replica.
 */
export interface RedisSentinelBusOptions extends CommonBusOptions {
  type: 'redis-sentinel';
  /** Sentinels as `host:port`, e.g. `['10.0.0.1:26379', '10.0.0.2:26379']`. */
  sentinels: string[];
  /** The master name the sentinels monitor (`sentinel monitor <name> …`). */
  name: string;
  /** ACL user on the data nodes. */
  username?: string;
  /** Password on the data nodes. */
  password?: string;
}
export interface PostgresBusOptions extends CommonBusOptions {
  type: 'postgres';
  url: string;
}

/** Core NATS subjects (`${prefix}bus.${channel}`); `url` may list servers: `nats://h1:4222,h2:4222`. */
export interface NatsBusOptions extends CommonBusOptions {
  type: 'nats';
  url: string;
}

export type BusOptions =
  | MemoryBusOptions
  | IpcBusOptions
  | RedisBusOptions
  | RedisClusterBusOptions
  | RedisSentinelBusOptions
  | PostgresBusOptions
  | NatsBusOptions;

/** `memory:`, `ipc:`, `redis://…`, `redis-cluster://h:p,h:p`, `redis+sentinel://h:p[,h:p]/name`, `postgres://…`, `nats://…`, or options. */
export type BusSpec = string | BusOptions;
