/**
 * The one place Stateline creates node-redis (v5) clients. Every Redis backend goes through here so
 * they all share the same failure behaviour (over 400 lines on purpose: the single-node and the
 * cluster link share the connection state, script loading and bounded close kept private here, so
 * no backend can open a client that skips them):
 *
 * - `disableOfflineQueue`: a command while disconnected fails at once instead of waiting for a
 *   reconnect that may never come; commands in flight when the socket dies fail at once too.
 * - `reconnectStrategy`: exponential backoff (50 ms doubling, capped at 2 s) with jitter, forever.
 *   Once opened, a connection heals by itself when the server comes back.
 * - An `'error'` listener is always attached: a dead server never crashes the process.
 * - Opening is bounded by `timeout`. Decision: when the first connection cannot be made within
 *   `timeout`, opening rejects with the backend's `…_UNAVAILABLE` code and the half-made client is
 *   destroyed (nothing keeps retrying in the background for an object the caller never received).
 *   A typo in a URL therefore fails loudly at startup, while a server lost later is waited for.
 */
import { createHash } from 'node:crypto';
import { processLogger, type Logger } from '../logger.js';
import type * as NodeRedis from 'redis';
import { StatelineError, type ErrorCode } from '../errors.js';
import { reconnectDelay } from './backoff.js';
import { loadPeer } from './peer.js';
import { withTimeout } from './timeout.js';

type RedisModule = Pick<typeof NodeRedis, 'createClient' | 'createCluster' | 'createSentinel'>;

/** The backend's "cannot reach the server" code. */
export type UnavailableCode = Extract<
  ErrorCode,
  'SL_ERR_STORE_UNAVAILABLE' | 'SL_ERR_BUS_UNAVAILABLE' | 'SL_ERR_LOG_UNAVAILABLE'
>;

/** A primary watched by Redis Sentinel: where the sentinels are, the master name, node credentials. */
export interface RedisSentinelTarget {
  type: 'redis-sentinel';
  sentinels: string[];
  name: string;
  username?: string | undefined;
  password?: string | undefined;
}

/** A single server, a cluster given by seed nodes, or a primary found through sentinels. */
export type RedisTarget =
  { type: 'redis'; url: string } | { type: 'redis-cluster'; nodes: string[] } | RedisSentinelTarget;

export interface RedisConnectOptions {
  code: UnavailableCode;
  /** Names the backend in errors, e.g. `'redis store'`. */
  label: string;
  /** Bounds the first connection and each TCP connect attempt, in ms. */
  timeout: number;
  /** Hears a connection listener that threw (default: a process warning). */
  logger?: Logger | undefined;
}

/** A pub/sub message listener as node-redis calls it. */
export type RedisMessageListener = (message: string, channel: string) => void;

/** The part of a node-redis client Stateline uses. */
export interface NodeRedisClient {
  readonly isReady: boolean;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  connect(): Promise<unknown>;
  sendCommand(args: readonly string[]): Promise<unknown>;
  subscribe(channel: string, listener: RedisMessageListener): Promise<void>;
  unsubscribe(channel: string, listener?: RedisMessageListener): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
}

interface NodeRedisCluster {
  readonly masters: ReadonlyArray<{ client?: { readonly isReady: boolean } }>;
  /** node-redis's slot map (public in its typings); `rediscover` re-reads the topology. */
  readonly _slots: { rediscover(startWith: never): Promise<void> };
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  connect(): Promise<unknown>;
  sendCommand(firstKey: string, isReadonly: boolean, args: string[]): Promise<unknown>;
  sSubscribe(channel: string, listener: RedisMessageListener): Promise<void>;
  sUnsubscribe(channel: string, listener?: RedisMessageListener): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
}

interface NodeRedisSentinel {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  connect(): Promise<unknown>;
  sendCommand(isReadonly: boolean, args: string[]): Promise<unknown>;
  subscribe(channel: string, listener: RedisMessageListener): Promise<unknown>;
  unsubscribe(channel: string, listener?: RedisMessageListener): Promise<unknown>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** A Lua script with its SHA1, for EVALSHA. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

/**
 * Prepares a Lua script for {@link RedisLink.script}.
 *
 * @example
 * ```ts
 * const INCR_IF = redisScript(`return redis.call('INCR', KEYS[1])`);
 * const n = await link.script(INCR_IF, ['counter'], [], Number);
 * ```
 */
export function redisScript(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** A connection (single server or cluster) that reports when it goes down and comes back. */
export interface RedisLink {
  /** True while commands can be sent. */
  readonly connected: boolean;
  /** Sends one command; on a cluster `key` chooses the node. */
  command(key: string, args: string[]): Promise<unknown>;
  /**
   * EVALSHA, falling back to EVAL when the server does not know the script (e.g. after a restart);
   * the reply goes through `parse` in the same step. All `keys` must share a slot.
   */
  script<T>(
    script: RedisScript,
    keys: readonly string[],
    args: readonly string[],
    parse: (reply: unknown) => T,
  ): Promise<T>;
  /** `false` when the connection is lost, `true` when it is back. Returns an unsubscribe. */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  close(): Promise<void>;
}

/**
 * The subscribing side of a link: plain channels (SUBSCRIBE) on one server, sharded channels
 * (SSUBSCRIBE, each on the master of its slot) on a cluster. Subscribing a listener already
 * subscribed to a channel sends nothing, so re-subscribing after a topology change is safe.
 */
export interface RedisSubscriber {
  /** `PUBLISH` or `SPUBLISH`: the publish that reaches this link's subscribers. */
  readonly publishCommand: 'PUBLISH' | 'SPUBLISH';
  /** True while a SUBSCRIBE can be sent. */
  readonly canSubscribe: boolean;
  subscribe(channel: string, listener: RedisMessageListener): Promise<void>;
  unsubscribe(channel: string, listener: RedisMessageListener): Promise<void>;
}

/** A link to one server, with the raw client for pub/sub. */
export interface RedisClientLink extends RedisLink, RedisSubscriber {
  readonly client: NodeRedisClient;
}

/** A link to a cluster; it publishes and subscribes on per-master connections of its own. */
export interface RedisClusterLink extends RedisLink, RedisSubscriber {}

function socketOptions(timeout: number) {
  return {
    connectTimeout: timeout,
    reconnectStrategy: (retries: number) => reconnectDelay(retries),
  };
}

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) return describe(err.errors[0]);
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Shared up/down bookkeeping: listeners hear only real transitions. */
class ConnectionState {
  constructor(private readonly log: Logger) {}

  private up = false;
  private readonly listeners = new Set<(connected: boolean) => void>();
  lastError: unknown;

  get connected(): boolean {
    return this.up;
  }

  set(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    for (const l of [...this.listeners]) {
      try {
        l(up);
      } catch (err) {
        this.log.warn({ err }, 'stateline redis connection listener threw');
      }
    }
  }

  add(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  clear(): void {
    this.listeners.clear();
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

function scriptArgs(
  op: 'EVALSHA' | 'EVAL',
  body: string,
  keys: readonly string[],
  args: readonly string[],
): string[] {
  const out = new Array<string>(3 + keys.length + args.length);
  out[0] = op;
  out[1] = body;
  out[2] = String(keys.length);
  let i = 3;
  for (const k of keys) out[i++] = k;
  for (const a of args) out[i++] = a;
  return out;
}

async function openOrFail(
  connect: () => Promise<unknown>,
  state: ConnectionState,
  destroy: () => void,
  where: string,
  o: RedisConnectOptions,
): Promise<void> {
  try {
    await withTimeout(connect(), o.timeout, () => new Error(`no connection within ${o.timeout} ms`));
  } catch (err) {
    try {
      destroy();
    } catch {
      // Already closed: nothing left to release.
    }
    const why =
      state.lastError === undefined
        ? describe(err)
        : `${describe(err)}; last error: ${describe(state.lastError)}`;
    throw new StatelineError(o.code, `${o.label}: cannot connect to ${where} (${why})`, { cause: err });
  }
}

class SingleLink implements RedisClientLink {
  readonly publishCommand = 'PUBLISH' as const;

  constructor(
    readonly client: NodeRedisClient,
    private readonly state: ConnectionState,
    private readonly timeout: number,
  ) {}

  get connected(): boolean {
    return this.state.connected;
  }

  get canSubscribe(): boolean {
    return this.client.isReady;
  }

  subscribe(channel: string, listener: RedisMessageListener): Promise<void> {
    return this.client.subscribe(channel, listener);
  }

  unsubscribe(channel: string, listener: RedisMessageListener): Promise<void> {
    return this.client.unsubscribe(channel, listener);
  }

  command(_key: string, args: string[]): Promise<unknown> {
    return this.client.sendCommand(args);
  }

  script<T>(
    script: RedisScript,
    keys: readonly string[],
    args: readonly string[],
    parse: (reply: unknown) => T,
  ): Promise<T> {
    return runScript((argv) => this.client.sendCommand(argv), script, keys, args, parse);
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.state.add(listener);
  }

  async close(): Promise<void> {
    this.state.clear();
    await closeBounded(this.client, this.timeout);
  }
}

/**
 * Opens a connection to one Redis server. Rejects with `o.code` when no connection is made
 * within `o.timeout`.
 *
 * @example
 * ```ts
 * const link = await connectRedisClient('redis://127.0.0.1:6379', { code: 'SL_ERR_BUS_UNAVAILABLE', label: 'redis bus', timeout: 2000 });
 * await link.command('k', ['PING']);
 * ```
 */
export async function connectRedisClient(url: string, o: RedisConnectOptions): Promise<RedisClientLink> {
  const redis = await loadPeer<RedisModule>('redis', `The ${o.label}`);
  let client: NodeRedisClient;
  try {
    client = redis.createClient({ url, disableOfflineQueue: true, socket: socketOptions(o.timeout) });
  } catch (err) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${o.label}: url ${JSON.stringify(redactUrl(String(url)))} is not a redis URL (${describe(err)})`,
      { cause: err },
    );
  }
  const state = new ConnectionState(o.logger ?? processLogger());
  client.on('error', (err: unknown) => {
    state.lastError = err;
    state.set(client.isReady);
  });
  client.on('ready', () => state.set(true));
  client.on('reconnecting', () => state.set(false));
  client.on('end', () => state.set(false));
  await openOrFail(
    () => client.connect(),
    state,
    () => client.destroy(),
    redactUrl(url),
    o,
  );
  return new SingleLink(client, state, o.timeout);
}

const CLUSTER_POLL_MS = 100;
/** While a node is down, the topology is re-read every this many polls (about once a second). */
const REDISCOVER_EVERY = 10;

class ClusterLink implements RedisClusterLink {
  readonly publishCommand = 'SPUBLISH' as const;
  private poll: NodeJS.Timeout | undefined;
  private polls = 0;
  private rediscovering = false;

  constructor(
    private readonly cluster: NodeRedisCluster,
    private readonly state: ConnectionState,
    private readonly timeout: number,
  ) {}

  get connected(): boolean {
    return this.state.connected;
  }

  /** Every master's client is ready; node-redis reports a node's *first* ready only, so recovery is polled. */
  private allReady(): boolean {
    return this.cluster.masters.every((m) => m.client?.isReady === true);
  }

  nodeDown(): void {
    this.state.set(false);
    if (this.poll) return;
    this.poll = setInterval(() => {
      if (!this.allReady()) {
        if (++this.polls % REDISCOVER_EVERY === 0) this.rediscover();
        return;
      }
      clearInterval(this.poll);
      this.poll = undefined;
      this.state.set(true);
    }, CLUSTER_POLL_MS);
    this.poll.unref();
  }

  /**
   * node-redis 5 re-reads the slot map only on a MOVED or ASK reply, never because a node is gone:
   * after a failover it would keep sending a dead master's slots to the dead address ("client is
   * offline") for good. So while a node is down the topology is re-read from a live master (or
   * the seed nodes); once the promoted replica is in the map, every master is ready again.
   */
  private rediscover(): void {
    if (this.rediscovering) return;
    const from =
      this.cluster.masters.find((m) => m.client?.isReady)?.client ?? this.cluster.masters[0]?.client;
    if (!from) return;
    this.rediscovering = true;
    this.cluster._slots
      .rediscover(from as never)
      .catch(() => {})
      .finally(() => {
        this.rediscovering = false;
      });
  }

  get canSubscribe(): boolean {
    return this.state.connected;
  }

  /** SSUBSCRIBE on the master that owns the channel's slot (node-redis follows MOVED). */
  subscribe(channel: string, listener: RedisMessageListener): Promise<void> {
    return this.cluster.sSubscribe(channel, listener);
  }

  unsubscribe(channel: string, listener: RedisMessageListener): Promise<void> {
    return this.cluster.sUnsubscribe(channel, listener);
  }

  command(key: string, args: string[]): Promise<unknown> {
    return this.cluster.sendCommand(key, false, args);
  }

  script<T>(
    script: RedisScript,
    keys: readonly string[],
    args: readonly string[],
    parse: (reply: unknown) => T,
  ): Promise<T> {
    const key = keys[0] ?? '';
    return runScript((argv) => this.cluster.sendCommand(key, false, argv), script, keys, args, parse);
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.state.add(listener);
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    this.state.clear();
    await closeBounded(this.cluster, this.timeout);
  }
}

/**
 * Opens a Redis Cluster connection from seed node URLs (the topology is discovered from them).
 *
 * @example
 * ```ts
 * const link = await connectRedisCluster(['redis://127.0.0.1:7000'], { code: 'SL_ERR_STORE_UNAVAILABLE', label: 'redis-cluster store', timeout: 2000 });
 * ```
 */
export async function connectRedisCluster(
  nodes: string[],
  o: RedisConnectOptions,
): Promise<RedisClusterLink> {
  if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((n) => typeof n === 'string' && n)) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${o.label}: nodes must be a non-empty array of redis:// URLs`,
    );
  }
  const redis = await loadPeer<RedisModule>('redis', `The ${o.label}`);
  let cluster: NodeRedisCluster;
  try {
    cluster = redis.createCluster({
      rootNodes: nodes.map((url) => ({ url })),
      defaults: { disableOfflineQueue: true, socket: socketOptions(o.timeout) },
    });
  } catch (err) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${o.label}: nodes are not redis URLs (${describe(err)})`,
      { cause: err },
    );
  }
  const state = new ConnectionState(o.logger ?? processLogger());
  const link = new ClusterLink(cluster, state, o.timeout);
  const down = (err?: unknown) => {
    if (err !== undefined) state.lastError = err;
    if (state.connected) link.nodeDown();
  };
  cluster.on('error', (err: unknown) => {
    state.lastError = err;
  });
  cluster.on('node-error', down);
  cluster.on('node-reconnecting', () => down());
  await openOrFail(
    () => cluster.connect(),
    state,
    () => cluster.destroy(),
    nodes.map(redactUrl).join(','),
    o,
  );
  state.set(true);
  return link;
}

/** While the primary is lost, a PING through the sentinel client every this many ms finds it again. */
const SENTINEL_PROBE_MS = 100;

/**
 * A primary found through Redis Sentinel. node-redis follows a promotion by itself (the sentinels'
 * `+switch-master`, then a re-read of the topology) and moves its pub/sub connection to the new
 * primary; it only reports errors, not recovery, so once the primary's connection fails this link
 * probes with PING until one succeeds, and only then reports itself connected again.
 */
class SentinelLink implements RedisLink, RedisSubscriber {
  readonly publishCommand = 'PUBLISH' as const;
  private probe: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    private readonly sentinel: NodeRedisSentinel,
    private readonly state: ConnectionState,
    private readonly timeout: number,
  ) {}

  get connected(): boolean {
    return this.state.connected;
  }

  get canSubscribe(): boolean {
    return this.state.connected;
  }

  primaryLost(): void {
    this.state.set(false);
    if (this.probe) return;
    this.probe = setInterval(() => {
      if (this.probing) return;
      this.probing = true;
      withTimeout(this.sentinel.sendCommand(false, ['PING']), this.timeout, () => new Error('no PONG'))
        .then(
          () => {
            clearInterval(this.probe);
            this.probe = undefined;
            this.state.set(true);
          },
          () => {},
        )
        .finally(() => {
          this.probing = false;
        });
    }, SENTINEL_PROBE_MS);
    this.probe.unref();
  }

  async subscribe(channel: string, listener: RedisMessageListener): Promise<void> {
    await this.sentinel.subscribe(channel, listener);
  }

  async unsubscribe(channel: string, listener: RedisMessageListener): Promise<void> {
    await this.sentinel.unsubscribe(channel, listener);
  }

  command(_key: string, args: string[]): Promise<unknown> {
    return this.sentinel.sendCommand(false, args);
  }

  script<T>(
    script: RedisScript,
    keys: readonly string[],
    args: readonly string[],
    parse: (reply: unknown) => T,
  ): Promise<T> {
    return runScript((argv) => this.sentinel.sendCommand(false, argv), script, keys, args, parse);
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    return this.state.add(listener);
  }

  async close(): Promise<void> {
    clearInterval(this.probe);
    this.state.clear();
    await closeBounded(
      { close: () => this.sentinel.close(), destroy: () => void this.sentinel.destroy().catch(() => {}) },
      this.timeout,
    );
  }
}

/**
 * Opens a link to the primary the sentinels name for `target.name`; it follows a failover by itself.
 *
 * @example
 * ```ts
 * const link = await connectRedisSentinel(
 *   { type: 'redis-sentinel', sentinels: ['127.0.0.1:26379'], name: 'mymaster' },
 *   { code: 'SL_ERR_STORE_UNAVAILABLE', label: 'redis-sentinel store', timeout: 2000 },
 * );
 * ```
 */
export async function connectRedisSentinel(
  target: RedisSentinelTarget,
  o: RedisConnectOptions,
): Promise<RedisClientLinkLike> {
  const nodes = Array.isArray(target.sentinels) ? target.sentinels.map(parseHostPort) : [];
  if (nodes.length === 0 || nodes.includes(undefined) || typeof target.name !== 'string' || !target.name) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${o.label}: sentinels must be a non-empty array of "host:port" and name the monitored master`,
    );
  }
  const redis = await loadPeer<RedisModule>('redis', `The ${o.label}`);
  const auth = {
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
  };
  const sentinel = redis.createSentinel({
    name: target.name,
    sentinelRootNodes: nodes as Array<{ host: string; port: number }>,
    nodeClientOptions: { ...auth, disableOfflineQueue: true, socket: socketOptions(o.timeout) },
    sentinelClientOptions: { socket: socketOptions(o.timeout) },
    // Each command is bounded by the backend's timeout; the rediscovery loop must outlast a failover.
    maxCommandRediscovers: Number.MAX_SAFE_INTEGER,
  }) as unknown as NodeRedisSentinel;
  const state = new ConnectionState(o.logger ?? processLogger());
  const link = new SentinelLink(sentinel, state, o.timeout);
  sentinel.on('error', (err: unknown) => {
    state.lastError = err;
  });
  sentinel.on('client-error', (event: unknown) => {
    const e = event as { type?: string; error?: unknown };
    state.lastError = e.error;
    if (state.connected && (e.type === 'MASTER' || e.type === 'PUBSUBPROXY')) link.primaryLost();
  });
  sentinel.on('topology-change', (event: unknown) => {
    if ((event as { type?: string }).type === 'MASTER_CHANGE' && state.connected) link.primaryLost();
  });
  // Opening is two connections in a row (a sentinel, then the primary it names): each gets `timeout`.
  await openOrFail(
    () => sentinel.connect(),
    state,
    () => void sentinel.destroy().catch(() => {}),
    `sentinels ${target.sentinels.join(',')} (master "${target.name}")`,
    { ...o, timeout: 2 * o.timeout },
  );
  state.set(true);
  return link;
}

/** What every non-cluster link offers: commands plus plain pub/sub. */
export type RedisClientLinkLike = RedisLink & RedisSubscriber;

function parseHostPort(s: unknown): { host: string; port: number } | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(s);
  const port = Number(m?.[2]);
  return m && port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
}

/**
 * Opens a single-server, cluster or sentinel link as the target says.
 *
 * @example
 * ```ts
 * const link = await connectRedis({ type: 'redis', url: 'redis://127.0.0.1:6379' }, { code: 'SL_ERR_STORE_UNAVAILABLE', label: 'redis store', timeout: 2000 });
 * ```
 */
export function connectRedis(target: RedisTarget, o: RedisConnectOptions): Promise<RedisLink> {
  if (target.type === 'redis-sentinel') return connectRedisSentinel(target, o);
  return target.type === 'redis-cluster'
    ? connectRedisCluster(target.nodes, o)
    : connectRedisClient(target.url, o);
}

/**
 * The connection part of a Redis backend's options (the rest is the backend's own).
 *
 * @example
 * ```ts
 * const target = redisTarget({ type: 'redis-sentinel', sentinels: ['127.0.0.1:26379'], name: 'mymaster', prefix: 'app:' });
 * ```
 */
export function redisTarget(o: RedisTarget): RedisTarget {
  switch (o.type) {
    case 'redis-cluster':
      return { type: o.type, nodes: o.nodes };
    case 'redis-sentinel':
      return {
        type: o.type,
        sentinels: o.sentinels,
        name: o.name,
        username: o.username,
        password: o.password,
      };
    default:
      return { type: o.type, url: o.url };
  }
}

/** The URL without its password, for error messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** Graceful (lets in-flight replies arrive) but bounded: a dead server must not hold close(). */
async function closeBounded(
  c: { close(): Promise<unknown>; destroy(): void },
  timeout: number,
): Promise<void> {
  try {
    await withTimeout(c.close(), timeout, () => new Error('close timed out'));
  } catch {
    try {
      c.destroy();
    } catch {
      // Already closed.
    }
  }
}

/**
 * EVALSHA, and EVAL once when the server forgot the script (a restart, SCRIPT FLUSH). One
 * reaction for both outcomes: this is the hot path of every write.
 */
function runScript<T>(
  send: (argv: string[]) => Promise<unknown>,
  script: RedisScript,
  keys: readonly string[],
  args: readonly string[],
  parse: (reply: unknown) => T,
): Promise<T> {
  return send(scriptArgs('EVALSHA', script.sha, keys, args)).then(parse, (err: unknown) => {
    if (!isNoScript(err)) throw err;
    return send(scriptArgs('EVAL', script.source, keys, args)).then(parse);
  });
}
