import type { Logger } from '../logger.js';
/** One record as a Store holds it. `value` is opaque to the Store (Stateline writes JSON). */
export interface StoredRecord {
  value: string;
  /** Starts at 1 on `create`, grows by one on every successful `update`. `touch` leaves it alone. */
  version: number;
  /** Epoch milliseconds after which the record is gone, or `null` for never. */
  expiresAt: number | null;
}

/** The typed outcome of `create`: an existing live key is never overwritten. */
export type CreateResult = { ok: true; version: number } | { ok: false; reason: 'exists' };

/**
 * The typed outcome of `update`: `missing` when the key is absent, expired or deleted (update never
 * creates), `conflict` with the current version when `ifVersion` did not match.
 */
export type UpdateResult =
  | { ok: true; version: number }
  | { ok: false; reason: 'conflict'; version: number }
  | { ok: false; reason: 'missing' };

export interface CreateOptions {
  /** Time to live in ms; omitted or `null`: never expires. */
  ttl?: number | null;
}

export interface UpdateOptions {
  /** Compare-and-set: write only when the stored version equals this. */
  ifVersion?: number;
  /** New time to live in ms; omitted keeps the current expiry, `null` removes it. */
  ttl?: number | null;
  /**
   * With `ifVersion`: the value stored at that version, exactly as `get` returned it with that
   * version. A backend may then send only the part that differs (Redis splices it into the stored
   * value after the same version check, and writes `value` whole when the stored value's length
   * is not `previous`'s); the others ignore it.
   */
  previous?: string;
}

/** A member of a per-owner index, e.g. one session of a user. */
export interface IndexEntry {
  member: string;
  expiresAt: number | null;
}

export type StoreBackend =
  'memory' | 'sqlite' | 'redis' | 'redis-cluster' | 'redis-sentinel' | 'postgres' | 'memcached';

/**
 * The only thing a strategy needs from a database. Every method either resolves or rejects with a
 * `StatelineError` (`SL_ERR_STORE_UNAVAILABLE` when the server cannot be reached within `timeout`).
 *
 * @example
 * ```ts
 * const store = await createStore('redis://127.0.0.1:6379');
 * await store.create('cart:1', '[]', { ttl: 60_000 });
 * const rec = await store.get('cart:1');
 * const res = await store.update('cart:1', '["apple"]', { ifVersion: rec!.version });
 * if (!res.ok && res.reason === 'conflict') { ... read again and retry ... }
 * ```
 */
export interface Store {
  readonly backend: StoreBackend;
  /** The live record, or `null` when absent or expired. */
  get(key: string): Promise<StoredRecord | null>;
  /** Insert-if-absent. */
  create(key: string, value: string, options?: CreateOptions): Promise<CreateResult>;
  /** Compare-and-set when `ifVersion` is given; never creates. */
  update(key: string, value: string, options?: UpdateOptions): Promise<UpdateResult>;
  /** True when a live record was removed. */
  delete(key: string): Promise<boolean>;
  /** Sets a new expiry (`null`: never) without changing value or version; false when missing. */
  touch(key: string, ttl: number | null): Promise<boolean>;
  /** Adds or refreshes `member` under `owner`, live until `expiresAt` (`null`: until removed). */
  indexAdd(owner: string, member: string, expiresAt: number | null): Promise<void>;
  /** The live members of `owner`; expired members are pruned by the call itself. */
  indexMembers(owner: string): Promise<IndexEntry[]>;
  indexRemove(owner: string, member: string): Promise<void>;
  /** Releases connections; later calls reject with `SL_ERR_CLOSED`. */
  close(): Promise<void>;
}

/** Options every Store backend accepts. */
export interface CommonStoreOptions {
  /** Prepended to every key (default `'sl:'`). */
  prefix?: string;
  /** Longest wait for the server on any call, in ms (default 2000). */
  timeout?: number;
  /** Where this backend reports what it cannot throw to a caller (default: process warnings; see `stateline/logger`). */
  logger?: Logger;
}

export interface MemoryStoreOptions extends CommonStoreOptions {
  type: 'memory';
  /** Clock, for tests. */
  now?: () => number;
  /** Most records kept; past it the least recently used record is evicted (default: unbounded). */
  maxEntries?: number;
}
export interface SqliteStoreOptions extends CommonStoreOptions {
  type: 'sqlite';
  /** Database file; `:memory:` for a private in-process database. */
  path: string;
}
export interface RedisStoreOptions extends CommonStoreOptions {
  type: 'redis';
  url: string;
}
export interface RedisClusterStoreOptions extends CommonStoreOptions {
  type: 'redis-cluster';
  /** Seed nodes, e.g. `['redis://127.0.0.1:7000']`. */
  nodes: string[];
}
/**
 * One Redis primary with replicas watched by Redis Sentinel: the primary is found through the
 * sentinels and followed when they promote a replica.
 */
export interface RedisSentinelStoreOptions extends CommonStoreOptions {
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
export interface PostgresStoreOptions extends CommonStoreOptions {
  type: 'postgres';
  url: string;
  /** Connection pool size (default 10). */
  poolSize?: number;
}

/**
 * memcached, one server or several (keys spread by consistent hashing in the client). A cache, not a
 * database: items may be evicted under memory pressure and a lost server loses its items.
 */
export interface MemcachedStoreOptions extends CommonStoreOptions {
  type: 'memcached';
  /** `host:port` of every server, e.g. `['127.0.0.1:11211']`. */
  servers: string[];
  /** The servers' item size (`memcached -I`), in bytes (default 1 MiB); larger records are refused. */
  itemSize?: number;
  /** Connections per server (default 10). */
  poolSize?: number;
}

/** A Store chosen by an options object; the `type` literal picks the backend. */
export type StoreOptions =
  | MemoryStoreOptions
  | SqliteStoreOptions
  | RedisStoreOptions
  | RedisClusterStoreOptions
  | RedisSentinelStoreOptions
  | PostgresStoreOptions
  | MemcachedStoreOptions;

/** A URL string (`memory:`, `sqlite:<path>`, `redis://…`, `redis-cluster://h:p,h:p`, `redis+sentinel://h:p[,h:p]/name`, `postgres://…`, `memcached://h:p[,h:p…]`) or options. */
export type StoreSpec = string | StoreOptions;
