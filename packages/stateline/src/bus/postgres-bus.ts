import { createHash } from 'node:crypto';
import { StatelineError } from '../errors.js';
import { reconnectDelay } from '../internal/backoff.js';
import { CallGuard } from '../internal/guard.js';
import {
  assertNoNul,
  createPgPool,
  endPool,
  loadPg,
  pgClientConfig,
  type PgClient,
  type PgModule,
  type PgPool,
} from '../internal/pg-connect.js';
import { withTimeout } from '../internal/timeout.js';
import { safeCall } from './memory-bus.js';
import { resolveLogger, type Logger } from '../logger.js';
import type { Bus, BusHandler, PostgresBusOptions } from './types.js';

/**
 * The largest message a PostgreSQL bus carries, in UTF-8 bytes: NOTIFY refuses payloads of
 * 8000 bytes or more (`BLCKSZ - NAMEDATALEN - 128` on a default build). The channel name does
 * not count against it. Larger messages are refused with `SL_ERR_BUS_PAYLOAD_TOO_LARGE`.
 */
export const POSTGRES_BUS_MAX_PAYLOAD = 7999;

/** PostgreSQL identifiers (LISTEN channel names) are at most NAMEDATALEN - 1 bytes. */
const MAX_IDENTIFIER_BYTES = 63;
const HASHED = /^sl_[0-9a-f]{40}$/;

/** The LISTEN connection is idle most of the time; a ping finds a server that vanished silently. */
const HEARTBEAT_MS = 10_000;

/**
 * The PostgreSQL channel for a full (prefixed) channel name: the name itself when it is a valid
 * identifier of at most 63 bytes, otherwise `sl_` + its SHA-1 in hex. Names that look like a hash
 * are hashed too, so the two forms can never collide.
 */
function pgChannel(full: string): string {
  const bytes = Buffer.byteLength(full);
  if (bytes > 0 && bytes <= MAX_IDENTIFIER_BYTES && !full.includes('\0') && !HASHED.test(full)) return full;
  return `sl_${createHash('sha1').update(full).digest('hex')}`;
}

interface Channel {
  /** The channel as subscribers named it (without prefix), handed to handlers. */
  readonly name: string;
  readonly handlers: Set<BusHandler>;
}

/** One LISTEN connection and the channels it is (being made to) listen on. */
interface Link {
  readonly client: PgClient;
  readonly listened: Map<string, Promise<void>>;
  dead: boolean;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // rejected only on close; nobody has to be waiting
  return { promise, resolve, reject };
}

/** Closes a client at once, whatever state its socket is in. */
function dropClient(client: PgClient): void {
  client.end().catch(() => {});
  client.connection.stream.destroy();
}

/**
 * A Bus over PostgreSQL LISTEN/NOTIFY. Publishing is `SELECT pg_notify(…)` on a one-connection
 * pool (so messages from one bus keep the order `publish` was called in); receiving uses a
 * dedicated connection outside the pool that reconnects with capped backoff and jitter and
 * re-LISTENs every channel before reporting itself back.
 */
class PostgresBus implements Bus {
  readonly backend = 'postgres' as const;
  private readonly channels = new Map<string, Channel>();
  private readonly connectionListeners = new Set<(connected: boolean) => void>();
  private link: Link | null = null;
  private ready = deferred<Link>();
  private connecting = false;
  private announcedDown = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly pg: PgModule,
    private readonly pool: PgPool,
    private readonly url: string,
    private readonly prefix: string,
    private readonly guard: CallGuard,
    private readonly log: Logger,
  ) {
    this.heartbeat = setInterval(() => this.ping(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  publish(channel: string, message: string): Promise<void> {
    return this.guard.run('publish', async () => {
      const bytes = Buffer.byteLength(message);
      if (bytes > POSTGRES_BUS_MAX_PAYLOAD) {
        throw new StatelineError(
          'SL_ERR_BUS_PAYLOAD_TOO_LARGE',
          `${bytes} bytes on "${channel}"; PostgreSQL NOTIFY carries at most ${POSTGRES_BUS_MAX_PAYLOAD} bytes`,
        );
      }
      assertNoNul(message, 'bus message');
      await this.pool.query({
        name: 'sl_bus_notify',
        text: 'SELECT pg_notify($1, $2)',
        values: [pgChannel(this.prefix + channel), message],
      });
    });
  }

  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    const id = pgChannel(this.prefix + channel);
    const wrapped: BusHandler = (m, c) => handler(m, c);
    if (!this.guard.isClosed) {
      let entry = this.channels.get(id);
      if (!entry) this.channels.set(id, (entry = { name: channel, handlers: new Set() }));
      entry.handlers.add(wrapped);
    }
    // Waits through an outage (the reconnect LISTENs every registered channel), bounded by the guard.
    return this.guard
      .run('subscribe', async () => {
        for (;;) {
          const link = await this.ready.promise;
          try {
            return await this.listen(link, id);
          } catch (err) {
            // The connection died under the LISTEN: the next one listens on every channel.
            if (!link.dead) throw err;
          }
        }
      })
      .then(
        () => () => this.unsubscribe(id, wrapped),
        async (err: unknown) => {
          // The caller sees a failure, so nothing of this subscription may stay behind.
          await this.unsubscribe(id, wrapped);
          throw err;
        },
      );
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  /** Resolves once `id` is LISTENed on `link` (one LISTEN per channel per connection). */
  private async listen(link: Link, id: string): Promise<void> {
    let p = link.listened.get(id);
    if (!p) {
      const pending = link.client.query(`LISTEN ${this.pg.escapeIdentifier(id)}`).then(() => {});
      link.listened.set(id, pending);
      pending.catch(() => {
        if (link.listened.get(id) === pending) link.listened.delete(id);
      });
      p = pending;
    }
    await p;
  }

  private async unsubscribe(id: string, wrapped: BusHandler): Promise<void> {
    const entry = this.channels.get(id);
    if (!entry?.handlers.delete(wrapped) || entry.handlers.size > 0) return;
    this.channels.delete(id);
    const link = this.link;
    if (!link || !link.listened.has(id)) return;
    link.listened.delete(id);
    // Nothing is delivered for a channel without handlers anyway; UNLISTEN only spares traffic.
    const unlisten = link.client.query(`UNLISTEN ${this.pg.escapeIdentifier(id)}`);
    await withTimeout(unlisten, this.guard.timeout, () => new Error('UNLISTEN timed out')).catch(() => {});
  }

  private deliver(channel: string, payload: string | undefined): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    for (const h of [...entry.handlers]) safeCall(h, payload ?? '', entry.name, this.log);
  }

  /** Connects a LISTEN client, listens on every registered channel and makes it current. */
  async establish(): Promise<void> {
    if (this.connecting || this.link || this.guard.isClosed) return;
    this.connecting = true;
    const client = new this.pg.Client(pgClientConfig(this.url, this.guard.timeout));
    const link: Link = { client, listened: new Map(), dead: false };
    // Attached before connecting: a dead server must never raise an unhandled 'error'.
    client.on('error', () => this.lost(link));
    client.on('end', () => this.lost(link));
    client.on('notification', (n) => this.deliver(n.channel, n.payload));
    try {
      await client.connect();
      const ids = [...this.channels.keys()];
      if (ids.length > 0) {
        const all = client
          .query(ids.map((id) => `LISTEN ${this.pg.escapeIdentifier(id)}`).join('; '))
          .then(() => {});
        for (const id of ids) link.listened.set(id, all);
        await all;
      }
      if (link.dead) throw new Error('connection lost while subscribing');
      if (this.guard.isClosed) throw new StatelineError('SL_ERR_CLOSED', 'postgres bus was closed');
    } catch (err) {
      link.dead = true;
      dropClient(client);
      throw err;
    } finally {
      this.connecting = false;
    }
    this.link = link;
    this.attempt = 0;
    this.ready.resolve(link);
    if (this.announcedDown) {
      this.announcedDown = false;
      this.announce(true);
    }
  }

  private lost(link: Link): void {
    if (link.dead) return;
    link.dead = true;
    if (this.link !== link) return;
    this.link = null;
    this.ready = deferred<Link>();
    dropClient(link.client);
    if (this.guard.isClosed) return;
    if (!this.announcedDown) {
      this.announcedDown = true;
      this.announce(false);
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.guard.isClosed || this.retryTimer || this.connecting || this.link) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.establish().catch(() => {
        this.attempt++;
        this.scheduleReconnect();
      });
    }, reconnectDelay(this.attempt));
    this.retryTimer.unref();
  }

  private ping(): void {
    const link = this.link;
    if (!link) return;
    withTimeout(
      link.client.query('SELECT 1'),
      this.guard.timeout,
      () => new Error('heartbeat timed out'),
    ).catch(() => this.lost(link));
  }

  private announce(connected: boolean): void {
    for (const listener of [...this.connectionListeners]) {
      try {
        listener(connected);
      } catch (err) {
        this.log.warn({ err }, 'stateline postgres bus connection listener threw');
      }
    }
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    clearInterval(this.heartbeat);
    clearTimeout(this.retryTimer);
    this.ready.reject(new StatelineError('SL_ERR_CLOSED', 'postgres bus was closed'));
    this.channels.clear();
    this.connectionListeners.clear();
    const link = this.link;
    this.link = null;
    if (link) {
      link.dead = true;
      await withTimeout(link.client.end(), this.guard.timeout, () => new Error('end timed out')).catch(() =>
        dropClient(link.client),
      );
    }
    await endPool(this.pool);
  }
}

/**
 * Opens a PostgreSQL Bus and its LISTEN connection; rejects with `SL_ERR_BUS_UNAVAILABLE` when
 * the server cannot be reached within `timeout`. Messages are limited to
 * {@link POSTGRES_BUS_MAX_PAYLOAD} bytes.
 *
 * @example
 * ```ts
 * const bus = await openPostgresBus({ type: 'postgres', url: 'postgres://127.0.0.1/app' });
 * await bus.subscribe('invalidate', (key) => cache.delete(key));
 * await bus.publish('invalidate', 'session:42');
 * ```
 */
export async function openPostgresBus(options: PostgresBusOptions): Promise<Bus> {
  const timeout = options.timeout ?? 2000;
  const label = 'postgres bus';
  const pg = await loadPg(label);
  // One publishing connection keeps one bus's messages in publish order.
  const pool = await createPgPool({ url: options.url, label, timeout, poolSize: 1 });
  const guard = new CallGuard('SL_ERR_BUS_UNAVAILABLE', label, timeout);
  const log = resolveLogger(options.logger, label);
  const bus = new PostgresBus(pg, pool, options.url, options.prefix ?? 'sl:', guard, log);
  try {
    await withTimeout(bus.establish(), timeout, () => new Error(`no answer within ${timeout} ms`));
  } catch (err) {
    await bus.close();
    const why = err instanceof Error ? err.message : String(err);
    throw new StatelineError('SL_ERR_BUS_UNAVAILABLE', `${label}: cannot open (${why})`, { cause: err });
  }
  return bus;
}
