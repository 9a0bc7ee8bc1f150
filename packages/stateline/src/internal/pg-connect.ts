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
 *
 * Schema (created on open, idempotently, under an advisory lock so processes starting together
 * do not race; all tables are shared by every prefix, the prefix is part of the key column):
 *
 * ```sql
 * stateline_store    (key text PK, value text, version bigint, expires_at bigint NULL)  -- + partial index on expires_at
 * stateline_index    (owner text, member text, expires_at bigint NULL, PK (owner, member)) -- + partial index on expires_at
 * stateline_log      (stream text, "offset" bigint, data text, at bigint, PK (stream, "offset")) -- + index (stream, at, "offset")
 * stateline_log_key  (stream text, key text, "offset" bigint, PK (stream, key)) -- + index (stream, "offset")
 * stateline_log_meta (stream text PK, epoch text, head bigint, trimmed_through bigint, last_at bigint)
 * stateline_log_append_v2(stream, data, key, epoch, max_count, max_age)  -- plpgsql: one append, one round trip
 * ```
 *
 * `trimmed_through` is the highest offset retention removed; `last_at` the newest entry's `at`
 * (entries never get an `at` older than the one before, so retention by age removes a prefix).
 * The append is a function rather than one CTE statement because a CTE runs on one snapshot and
 * would miss entries appended concurrently (measured: under 60 concurrent appends with
 * `maxCount: 5`, rows below the trim mark were left behind); inside the function each statement
 * sees every earlier offset. The function's name carries a version: a changed body gets a new
 * name, so processes of different versions can share one database.
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

/** Arbitrary constant key of the advisory lock that serialises schema creation. */
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

const SCHEMA_SQL = `
SELECT pg_advisory_xact_lock(${SCHEMA_LOCK});
CREATE TABLE IF NOT EXISTS stateline_store (
  key text PRIMARY KEY,
  value text NOT NULL,
  version bigint NOT NULL,
  expires_at bigint NULL
);
CREATE INDEX IF NOT EXISTS stateline_store_expires_at ON stateline_store (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS stateline_index (
  owner text NOT NULL,
  member text NOT NULL,
  expires_at bigint NULL,
  PRIMARY KEY (owner, member)
);
CREATE INDEX IF NOT EXISTS stateline_index_expires_at ON stateline_index (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS stateline_log (
  stream text NOT NULL,
  "offset" bigint NOT NULL,
  data text NOT NULL,
  at bigint NOT NULL,
  PRIMARY KEY (stream, "offset")
);
CREATE INDEX IF NOT EXISTS stateline_log_stream_at ON stateline_log (stream, at, "offset");
CREATE TABLE IF NOT EXISTS stateline_log_meta (
  stream text PRIMARY KEY,
  epoch text NOT NULL,
  head bigint NOT NULL,
  trimmed_through bigint NOT NULL,
  last_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS stateline_log_key (
  stream text NOT NULL,
  key text NOT NULL,
  "offset" bigint NOT NULL,
  PRIMARY KEY (stream, key)
);
CREATE INDEX IF NOT EXISTS stateline_log_key_offset ON stateline_log_key (stream, "offset");
DO $do$ BEGIN
  IF to_regprocedure('stateline_log_append_v2(text, text, text, text, bigint, bigint)') IS NULL THEN
    CREATE FUNCTION stateline_log_append_v2(p_stream text, p_data text, p_key text, p_epoch text, p_max_count bigint, p_max_age bigint)
    RETURNS TABLE (out_epoch text, out_offset bigint, out_at bigint, out_duplicate boolean)
    LANGUAGE plpgsql VOLATILE AS $fn$
    DECLARE
      m record;
      d record;
      v_tt bigint;
      v_cut bigint;
    BEGIN
      IF p_key IS NOT NULL THEN
        -- A keyed append takes the stream's row lock before looking the key up, so a concurrent
        -- append with the same key waits here and then finds this one's entry.
        INSERT INTO stateline_log_meta AS lm (stream, epoch, head, trimmed_through, last_at)
        VALUES (p_stream, p_epoch, 0, 0, 0)
        ON CONFLICT (stream) DO UPDATE SET head = lm.head
        RETURNING lm.epoch, lm.head, lm.trimmed_through INTO m;
        -- at grows with offset, so "not removed by age" is "at >= cutoff".
        SELECT l."offset", l.at INTO d FROM stateline_log_key k
        JOIN stateline_log l ON l.stream = k.stream AND l."offset" = k."offset"
        WHERE k.stream = p_stream AND k.key = p_key
          AND k."offset" > GREATEST(m.trimmed_through, m.head - p_max_count)
          AND (p_max_age IS NULL OR l.at >= ${PG_NOW_MS} - p_max_age);
        IF FOUND THEN
          RETURN QUERY SELECT m.epoch, d."offset", d.at, true;
          RETURN;
        END IF;
      END IF;
      -- The upsert takes the stream's row lock until commit: appends to one stream are serialised
      -- here and get consecutive offsets. The first append creates the stream with p_epoch.
      INSERT INTO stateline_log_meta AS lm (stream, epoch, head, trimmed_through, last_at)
      VALUES (p_stream, p_epoch, 1, 0, ${PG_NOW_MS})
      ON CONFLICT (stream) DO UPDATE SET head = lm.head + 1, last_at = GREATEST(lm.last_at, EXCLUDED.last_at)
      RETURNING lm.epoch, lm.head, lm.last_at, lm.trimmed_through INTO m;
      INSERT INTO stateline_log (stream, "offset", data, at) VALUES (p_stream, m.head, p_data, m.last_at);
      IF p_key IS NOT NULL THEN
        INSERT INTO stateline_log_key (stream, key, "offset") VALUES (p_stream, p_key, m.head)
        ON CONFLICT (stream, key) DO UPDATE SET "offset" = EXCLUDED."offset";
      END IF;
      -- Each statement below takes a new snapshot, which holds every earlier offset (their appends
      -- committed before this one got the lock), so retention deletes exactly the trimmed prefix.
      v_tt := GREATEST(m.trimmed_through, m.head - p_max_count);
      IF p_max_age IS NOT NULL THEN
        SELECT l."offset" INTO v_cut FROM stateline_log l
        WHERE l.stream = p_stream AND l.at < m.last_at - p_max_age
        ORDER BY l.at DESC, l."offset" DESC LIMIT 1;
        v_tt := GREATEST(v_tt, COALESCE(v_cut, 0));
      END IF;
      IF v_tt > m.trimmed_through THEN
        DELETE FROM stateline_log l WHERE l.stream = p_stream AND l."offset" > m.trimmed_through AND l."offset" <= v_tt;
        DELETE FROM stateline_log_key k WHERE k.stream = p_stream AND k."offset" > m.trimmed_through AND k."offset" <= v_tt;
        UPDATE stateline_log_meta SET trimmed_through = v_tt WHERE stream = p_stream;
      END IF;
      RETURN QUERY SELECT m.epoch, m.head, m.last_at, false;
    END
    $fn$;
  END IF;
END $do$;`;

/**
 * Creates Stateline's tables when absent. One round trip: the statements run as one implicit
 * transaction (simple query protocol), so the advisory lock is held until all are done.
 *
 * @example
 * ```ts
 * await ensurePgSchema(pool);
 * ```
 */
export async function ensurePgSchema(pool: PgPool): Promise<void> {
  await pool.query(SCHEMA_SQL);
}

/**
 * Opens a pool and makes sure the schema exists, bounded by `timeout`; on failure the pool is
 * ended and the call rejects with `code`.
 *
 * @example
 * ```ts
 * const pool = await openPgPool({ url, label: 'postgres log', timeout: 2000 }, 'SL_ERR_LOG_UNAVAILABLE');
 * ```
 */
export async function openPgPool(
  o: PgConnectOptions,
  code: 'SL_ERR_STORE_UNAVAILABLE' | 'SL_ERR_LOG_UNAVAILABLE',
): Promise<PgPool> {
  const pool = await createPgPool(o);
  try {
    await withTimeout(ensurePgSchema(pool), o.timeout, () => new Error(`no answer within ${o.timeout} ms`));
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
