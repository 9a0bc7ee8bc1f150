/**
 * The one place Stateline creates `pg` pools and clients. Every PostgreSQL backend goes through
 * here so they all share the same failure behaviour:
 *
 * - Each call is bounded three ways by `timeout`: `connectionTimeoutMillis` (connecting, or
 *   waiting for a free pooled client), `statement_timeout` (the server cancels a slow statement
 *   and the connection stays usable) and `query_timeout` (a little later, for a server that does
 *   not answer at all: pg-pool then discards that connection).
 * - A pool `'error'` listener is always attached: an idle client whose server died is dropped by
 *   the pool and a new one is made on the next call, so a dead server never crashes the process
 *   and the backend heals by itself when the server is back.
 * - Opening is bounded by `timeout` and fails with the backend's `…_UNAVAILABLE` code (same
 *   decision as the Redis backends: a wrong URL fails loudly at startup; a server lost later is
 *   waited for).
 * - Each backend brings its own schema (DDL, functions) to {@link openPgPool}; it is created on
 *   open, idempotently, under one advisory lock so processes starting together do not race.
 *
 * Times are epoch milliseconds from the database clock ({@link PG_NOW_MS}), so several app hosts
 * with skewed clocks agree on what has expired.
 */
import type * as Pg from 'pg';
import { StatelineError } from '../errors.js';
import { loadPeer } from './peer.js';
import { withTimeout } from './timeout.js';

export type PgModule = typeof Pg;
export type PgPool = Pg.Pool;
export type PgClient = Pg.Client;

/**
 * The database clock in epoch ms. `statement_timestamp()` rather than `clock_timestamp()`: it is
 * the database's clock too, but stays fixed for the whole statement, so every comparison inside
 * one statement uses the same instant.
 */
export const PG_NOW_MS = '(extract(epoch from statement_timestamp()) * 1000)::bigint';

/** Arbitrary constant key of the advisory lock that serialises schema creation (every backend's). */
const SCHEMA_LOCK = 7_514_283_001;

/** Extra time granted to `query_timeout` past `statement_timeout`, so the server cancels first. */
const QUERY_TIMEOUT_GRACE_MS = 1000;

export interface PgConnectOptions {
  url: string;
  /** Names the backend in errors, e.g. `'postgres store'`. */
  label: string;
  /** Longest wait for the server on any call, in ms. */
  timeout: number;
  /** Most connections the pool opens (default 10). */
  poolSize?: number;
}

/**
 * Loads the optional `pg` peer dependency (SL_ERR_PEER_DEPENDENCY_MISSING names it when absent).
 *
 * @example
 * ```ts
 * const pg = await loadPg('postgres bus');
 * ```
 */
export function loadPg(label: string): Promise<PgModule> {
  return loadPeer<PgModule>('pg', `The ${label}`);
}

/**
 * Connection settings shared by pooled clients and dedicated ones (the bus's LISTEN client).
 *
 * @example
 * ```ts
 * const client = new pg.Client(pgClientConfig('postgres://127.0.0.1/app', 2000));
 * ```
 */
export function pgClientConfig(url: string, timeout: number): Pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: timeout,
    statement_timeout: Math.max(1, Math.ceil(timeout)),
    query_timeout: Math.ceil(timeout) + QUERY_TIMEOUT_GRACE_MS,
    // TCP keepalive notices a server that vanished without closing the socket.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/**
 * Creates a `pg.Pool` with Stateline's timeouts and an `'error'` listener. It connects lazily.
 *
 * @example
 * ```ts
 * const pool = await createPgPool({ url: 'postgres://127.0.0.1/app', label: 'postgres store', timeout: 2000 });
 * ```
 */
export async function createPgPool(o: PgConnectOptions): Promise<PgPool> {
  const pg = await loadPg(o.label);
  const pool = new pg.Pool({
    ...pgClientConfig(o.url, o.timeout),
    max: o.poolSize ?? 10,
    idleTimeoutMillis: 30_000,
    // An idle pool must not keep the process alive.
    allowExitOnIdle: true,
  });
  // An idle client lost its server: pg-pool has already discarded it; the next call makes a new one.
  pool.on('error', () => {});
  return pool;
}

/**
 * Ends a pool without ever throwing (close paths and failed opens).
 *
 * @example
 * ```ts
 * await endPool(pool);
 * ```
 */
export async function endPool(pool: PgPool): Promise<void> {
  if (pool.ending) return;
  await pool.end().catch(() => {});
}

/**
 * Runs a backend's schema (`CREATE … IF NOT EXISTS` statements) under the schema lock. One round
 * trip: the statements run as one implicit transaction (simple query protocol), so the advisory
 * lock is held until all are done.
 *
 * @example
 * ```ts
 * await ensurePgSchema(pool, 'CREATE TABLE IF NOT EXISTS t (k text PRIMARY KEY);');
 * ```
 */
export async function ensurePgSchema(pool: PgPool, schema: string): Promise<void> {
  await pool.query(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK});${schema}`);
}

/**
 * Opens a pool and makes sure the backend's `schema` exists, bounded by `timeout`; on failure the
 * pool is ended and the call rejects with `code`.
 *
 * @example
 * ```ts
 * const pool = await openPgPool({ url, label: 'postgres log', timeout: 2000 }, 'SL_ERR_LOG_UNAVAILABLE', LOG_SCHEMA);
 * ```
 */
export async function openPgPool(
  o: PgConnectOptions,
  code: 'SL_ERR_STORE_UNAVAILABLE' | 'SL_ERR_LOG_UNAVAILABLE',
  schema: string,
): Promise<PgPool> {
  const pool = await createPgPool(o);
  try {
    await withTimeout(
      ensurePgSchema(pool, schema),
      o.timeout,
      () => new Error(`no answer within ${o.timeout} ms`),
    );
    return pool;
  } catch (err) {
    void endPool(pool);
    const why = err instanceof Error ? err.message : String(err);
    throw new StatelineError(code, `${o.label}: cannot open (${why})`, { cause: err });
  }
}

/**
 * A bigint column (pg returns int8 as a string) as a number; epoch ms and counters fit exactly.
 *
 * @example
 * ```ts
 * int8('42'); // 42
 * ```
 */
export function int8(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/**
 * Like {@link int8} but keeps SQL NULL.
 *
 * @example
 * ```ts
 * int8OrNull(null); // null
 * ```
 */
export function int8OrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : int8(value);
}

/**
 * PostgreSQL `text` cannot hold NUL; refuse it with a clear error rather than a driver failure.
 *
 * @example
 * ```ts
 * assertNoNul(value, 'store value'); // throws SL_ERR_INVALID_ARGUMENT for 'a\0b'
 * ```
 */
export function assertNoNul(value: string, what: string): void {
  if (value.includes('\0')) {
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `${what} contains a NUL character, which PostgreSQL text cannot store`,
    );
  }
}
