import type { Bus } from '../bus/types.js';
import type { Logger } from '../logger.js';
/** One message in a stream. Offsets start at 1 and grow by one per append within an epoch. */
export interface LogEntry {
  offset: number;
  data: string;
  /** Append time, epoch ms. */
  at: number;
}

export interface AppendResult {
  offset: number;
  epoch: string;
  at: number;
  /**
   * True when an entry with the same `key` was already in the stream: nothing was appended and
   * `offset`/`at` are that entry's.
   */
  duplicate: boolean;
}

export interface AppendOptions {
  /**
   * Makes the append idempotent: while an entry appended with this key is still in the stream
   * (not removed by retention, same epoch), another append with it stores nothing and returns that
   * entry's offset. Checked atomically with the append, so two writers racing with one key store
   * one entry. 1–200 characters.
   */
  key?: string;
  /**
   * The writer's fencing token (a non-negative integer, e.g. an owner's lease epoch). The stream
   * keeps the highest fence it has accepted: an append with a lower one is refused with
   * `SL_ERR_LOG_FENCED`, a higher one raises it, both atomically with the append. Appends without
   * a fence are never refused.
   */
  fence?: number;
}

/**
 * A value an {@link AppendPublisher} fills into the message it publishes: the new entry's `offset`
 * or `at` as a decimal integer, its `epoch` as a JSON string (quoted).
 */
export type AppendField = 'offset' | 'epoch' | 'at';

/**
 * A Bus message published with an append, as a template: `text[0]`, then the value of
 * `fields[0]`, then `text[1]`, and so on (`text` holds one element more than `fields`).
 */
export interface AppendMessage {
  /** The Bus channel (the Bus's own prefix is added, as `bus.publish` would). */
  channel: string;
  text: readonly string[];
  fields: readonly AppendField[];
}

/**
 * Appends like {@link Log.append} and, when an entry was appended (not a duplicate, not fenced),
 * publishes `message` on the Bus it was made for in the same server call: the entry is stored
 * before the message is sent, and a failed call published nothing that was not stored. The
 * message is delivered at most once, like any Bus message.
 */
export type AppendPublisher = (
  stream: string,
  data: string,
  message: AppendMessage,
  options?: AppendOptions,
) => Promise<AppendResult>;

export interface ReadOptions {
  /** Most entries to return (default 100, at most 10,000). */
  limit?: number;
  /** The epoch the reader's `since` belongs to; a different current epoch means its offsets are void. */
  epoch?: string;
}

export interface ReadResult {
  /** The stream's current epoch. A stream that has never been written gets one on first read. */
  epoch: string;
  /** Entries with `offset > since` (or from the start when the epoch changed), oldest first. */
  entries: LogEntry[];
  /** The newest offset ever appended in this epoch (0 when none). */
  head: number;
  /**
   * True when nothing the reader has not seen was lost: the epoch matched (or none was given) and
   * retention did not trim any entry after `since`. False tells the reader it has a gap.
   */
  complete: boolean;
}

export interface Retention {
  /** Keep at most this many entries per stream (default 10,000). */
  maxCount?: number;
  /** Drop entries older than this many ms (default: no age limit). */
  maxAge?: number;
}

export type LogBackend =
  'memory' | 'sqlite' | 'redis' | 'redis-cluster' | 'redis-sentinel' | 'postgres' | 'nats';

/**
 * A per-stream ordered append-only log with monotonically increasing offsets. The epoch is a
 * random id given to a stream's history: when that history is lost (the server restarted without
 * persistence, the stream was deleted), the stream starts over under a new epoch, so a reader's
 * old offsets can never be mistaken for new ones.
 *
 * @example
 * ```ts
 * const log = await createLog({ type: 'redis', url: 'redis://127.0.0.1:6379', retention: { maxCount: 1000 } });
 * const { offset, epoch } = await log.append('room:lobby', JSON.stringify({ text: 'hi' }));
 * const { entries, complete } = await log.read('room:lobby', offset - 1, { epoch });
 * // A retried append with the same key stores nothing and gives the first one's offset:
 * const again = await log.append('room:lobby', JSON.stringify({ text: 'hi' }), { key: 'alice:m1' });
 * // Fencing: once epoch 4 fenced the stream, a writer still on epoch 3 is refused (SL_ERR_LOG_FENCED).
 * await log.fence('entity:drop:sku-1', 4);
 * await log.append('entity:drop:sku-1', '{"m":"buy"}', { fence: 3 }).catch((err) => console.log(err.code));
 * ```
 */
export interface Log {
  readonly backend: LogBackend;
  append(stream: string, data: string, options?: AppendOptions): Promise<AppendResult>;
  /**
   * Raises the stream's fence to `fence` without appending, so a writer with a lower fence is
   * refused from now on (a new owner calls it when it takes over). Refused with `SL_ERR_LOG_FENCED`
   * when the stream already holds a higher fence; the same fence again is accepted.
   */
  fence(stream: string, fence: number): Promise<void>;
  /**
   * Removes the entries up to offset `through` (never past the newest), as retention would: a
   * reader behind them then reads `complete: false`. With `fence`, refused (`SL_ERR_LOG_FENCED`)
   * like an append when the stream holds a higher fence. An entity trims behind each snapshot.
   */
  trim(stream: string, through: number, options?: { fence?: number }): Promise<void>;
  /** Entries after `since` (0: from the beginning). */
  read(stream: string, since: number, options?: ReadOptions): Promise<ReadResult>;
  /**
   * Optional: an {@link AppendPublisher} that appends and publishes on `bus` in ONE round trip,
   * when this Log can publish on that Bus itself (the Redis Log, with a Redis Bus opened on the
   * same `url`); `undefined` (or no method) otherwise: append, then `bus.publish`.
   */
  publisherFor?(bus: Bus): AppendPublisher | undefined;
  close(): Promise<void>;
}

export interface CommonLogOptions {
  /** Prepended to every stream name (default `'sl:'`). */
  prefix?: string;
  /** Longest wait for the server on any call, in ms (default 2000). */
  timeout?: number;
  /** Where this backend reports what it cannot throw to a caller (default: process warnings; see `stateline/logger`). */
  logger?: Logger;
  retention?: Retention;
}

export interface MemoryLogOptions extends CommonLogOptions {
  type: 'memory';
  /** Clock, for tests. */
  now?: () => number;
}
export interface SqliteLogOptions extends CommonLogOptions {
  type: 'sqlite';
  path: string;
}
export interface RedisLogOptions extends CommonLogOptions {
  type: 'redis';
  url: string;
}
/** One Redis Stream per log stream, its keys hash-tagged so all of a stream's keys share a slot. */
export interface RedisClusterLogOptions extends CommonLogOptions {
  type: 'redis-cluster';
  /** Seed nodes, e.g. `['redis://127.0.0.1:7000']`; the topology is discovered from them. */
  nodes: string[];
}
/**
 * One Redis primary with replicas watched by Redis Sentinel: the primary is found through the
 * sentinels and followed when they promote a replica.
 */
export interface RedisSentinelLogOptions extends CommonLogOptions {
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
export interface PostgresLogOptions extends CommonLogOptions {
  type: 'postgres';
  url: string;
  poolSize?: number;
}

/**
 * One JetStream stream per log stream (offsets are stream sequences, the epoch is the stream's
 * identity); `url` may list servers: `nats://h1:4222,h2:4222`. The server must run JetStream.
 */
export interface NatsLogOptions extends CommonLogOptions {
  type: 'nats';
  url: string;
  /** Copies of each stream in a JetStream cluster, 1–5 (default 1). */
  replicas?: number;
  /** Where the server keeps the streams (default `'file'`: they survive a server restart). */
  storage?: 'file' | 'memory';
}

export type LogOptions =
  | MemoryLogOptions
  | SqliteLogOptions
  | RedisLogOptions
  | RedisClusterLogOptions
  | RedisSentinelLogOptions
  | PostgresLogOptions
  | NatsLogOptions;

/** `memory:`, `sqlite:<path>`, `redis://…`, `redis-cluster://h:p,h:p`, `redis+sentinel://h:p[,h:p]/name`, `postgres://…`, `nats://…`, or options. */
export type LogSpec = string | LogOptions;
