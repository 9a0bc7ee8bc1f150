import { StatelineError } from '../errors.js';
import type { CallGuard } from '../internal/guard.js';
import { openPgBackend } from '../internal/pg-backend.js';
import {
  PG_NOW_MS as NOW,
  assertNoNul,
  endPool,
  int8,
  int8OrNull,
  type PgPool,
} from '../internal/pg-connect.js';
import type {
  CreateOptions,
  CreateResult,
  IndexEntry,
  PostgresStoreOptions,
  Store,
  StoredRecord,
  UpdateOptions,
  UpdateResult,
} from './types.js';

/** How often expired rows are swept (jittered so several processes spread out). */
const GC_EVERY_MS = 60_000;
/** Rows one sweep statement deletes; a sweep runs at most GC_MAX_BATCHES of them. */
const GC_BATCH = 1000;
const GC_MAX_BATCHES = 10;

const LIVE = `(expires_at IS NULL OR expires_at > ${NOW})`;

// Every operation is one statement (one round trip), prepared once per connection by name.
const SQL = {
  get: {
    name: 'sl_store_get',
    text: `SELECT value, version, expires_at FROM stateline_store WHERE key = $1 AND ${LIVE}`,
  },
  // An expired row may be replaced, a live one never; RETURNING is empty when the key was live.
  create: {
    name: 'sl_store_create',
    text: `INSERT INTO stateline_store AS s (key, value, version, expires_at)
VALUES ($1, $2, 1, ${NOW} + $3::bigint)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = 1, expires_at = EXCLUDED.expires_at
WHERE s.expires_at IS NOT NULL AND s.expires_at <= ${NOW}
RETURNING version`,
  },
  // When the UPDATE matched nothing, a locking read tells "missing" from "conflict": it waits for a
  // concurrent writer and sees the latest committed version, never the statement's stale snapshot
  // (which could report the very version the caller asked for). It runs only on that path.
  update: {
    name: 'sl_store_update',
    text: `WITH upd AS (
  UPDATE stateline_store
  SET value = $2, version = version + 1,
      expires_at = CASE WHEN $4::boolean THEN ${NOW} + $5::bigint ELSE expires_at END
  WHERE key = $1 AND ${LIVE} AND ($3::bigint IS NULL OR version = $3::bigint)
  RETURNING version
)
SELECT u.updated,
  CASE WHEN u.updated IS NULL THEN (SELECT version FROM stateline_store WHERE key = $1 AND ${LIVE} FOR SHARE) END AS current
FROM (SELECT (SELECT version FROM upd) AS updated) u`,
  },
  // An expired row is garbage: delete it too, but report only a live one.
  delete: {
    name: 'sl_store_delete',
    text: `DELETE FROM stateline_store WHERE key = $1 RETURNING ${LIVE} AS live`,
  },
  touch: {
    name: 'sl_store_touch',
    text: `UPDATE stateline_store SET expires_at = ${NOW} + $2::bigint WHERE key = $1 AND ${LIVE} RETURNING 1`,
  },
  indexAdd: {
    name: 'sl_store_index_add',
    text: `INSERT INTO stateline_index (owner, member, expires_at) VALUES ($1, $2, $3::bigint)
ON CONFLICT (owner, member) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
  },
  // The DELETE runs to completion even though the SELECT does not read it; the SELECT sees the
  // statement's snapshot (expired rows included), hence its own filter.
  indexMembers: {
    name: 'sl_store_index_members',
    text: `WITH pruned AS (
  DELETE FROM stateline_index WHERE owner = $1 AND expires_at <= ${NOW} RETURNING member
)
SELECT member, expires_at FROM stateline_index WHERE owner = $1 AND ${LIVE} ORDER BY member`,
  },
  indexRemove: {
    name: 'sl_store_index_remove',
    text: `DELETE FROM stateline_index WHERE owner = $1 AND member = $2`,
  },
  // The outer expiry check is re-evaluated on the current row version, so a row re-created
  // between the sub-select and the delete survives; SKIP LOCKED keeps sweepers of several
  // processes (and hot-path writers) from waiting on each other.
  gcStore: {
    name: 'sl_store_gc',
    text: `DELETE FROM stateline_store WHERE key IN (
  SELECT key FROM stateline_store WHERE expires_at <= ${NOW} LIMIT ${GC_BATCH} FOR UPDATE SKIP LOCKED
) AND expires_at <= ${NOW}`,
  },
  gcIndex: {
    name: 'sl_store_gc_index',
    text: `DELETE FROM stateline_index WHERE (owner, member) IN (
  SELECT owner, member FROM stateline_index WHERE expires_at <= ${NOW} LIMIT ${GC_BATCH} FOR UPDATE SKIP LOCKED
) AND expires_at <= ${NOW}`,
  },
} as const;

interface RecordRow {
  value: string;
  version: string;
  expires_at: string | null;
}

/**
 * The Store's tables, created on open when absent (see `openPgPool`); shared by every prefix, the
 * prefix is part of the key column. `expires_at` is epoch ms from the database clock, or NULL (never).
 *
 * ```sql
 * stateline_store (key text PK, value text, version bigint, expires_at bigint NULL) -- + partial index on expires_at
 * stateline_index (owner text, member text, expires_at bigint NULL, PK (owner, member)) -- + partial index on expires_at
 * ```
 */
const SCHEMA = `
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
`;

/** A ttl in ms as the bigint the SQL adds to the database clock (`null`: no expiry). */
function ttlParam(ttl: number | null | undefined): number | null {
  if (ttl === undefined || ttl === null) return null;
  if (!Number.isFinite(ttl))
    throw new StatelineError('SL_ERR_INVALID_ARGUMENT', `ttl must be a finite number of ms (got ${ttl})`);
  return Math.round(ttl);
}

/**
 * A Store in PostgreSQL tables shared by every process (see {@link SCHEMA}). Versions and
 * compare-and-set are done by single `UPDATE … WHERE version = $v` statements; expiry uses the
 * database clock; expired rows are invisible at once and deleted by a background sweep.
 */
class PostgresStore implements Store {
  readonly backend = 'postgres' as const;
  private readonly gcTimer: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly pool: PgPool,
    private readonly prefix: string,
    private readonly guard: CallGuard,
  ) {
    this.gcTimer = setInterval(() => void this.sweepExpired(), GC_EVERY_MS * (0.75 + Math.random() / 2));
    this.gcTimer.unref();
  }

  /** The prefixed key; NUL cannot be stored in text, so it is refused up front. */
  private k(key: string): string {
    assertNoNul(key, 'store key');
    return this.prefix + key;
  }

  get(key: string): Promise<StoredRecord | null> {
    return this.guard.run('get', async () => {
      const { rows } = await this.pool.query<RecordRow>({ ...SQL.get, values: [this.k(key)] });
      const row = rows[0];
      return row
        ? { value: row.value, version: int8(row.version), expiresAt: int8OrNull(row.expires_at) }
        : null;
    });
  }

  create(key: string, value: string, options: CreateOptions = {}): Promise<CreateResult> {
    return this.guard.run('create', async (): Promise<CreateResult> => {
      assertNoNul(value, 'store value');
      const { rowCount } = await this.pool.query({
        ...SQL.create,
        values: [this.k(key), value, ttlParam(options.ttl)],
      });
      return rowCount ? { ok: true, version: 1 } : { ok: false, reason: 'exists' };
    });
  }

  update(key: string, value: string, options: UpdateOptions = {}): Promise<UpdateResult> {
    return this.guard.run('update', async (): Promise<UpdateResult> => {
      assertNoNul(value, 'store value');
      if (options.ifVersion !== undefined && !Number.isSafeInteger(options.ifVersion)) {
        throw new StatelineError(
          'SL_ERR_INVALID_ARGUMENT',
          `ifVersion must be an integer (got ${options.ifVersion})`,
        );
      }
      const setTtl = options.ttl !== undefined;
      const values = [this.k(key), value, options.ifVersion ?? null, setTtl, ttlParam(options.ttl)];
      const { rows } = await this.pool.query<{ updated: string | null; current: string | null }>({
        ...SQL.update,
        values,
      });
      const row = rows[0];
      if (row?.updated != null) return { ok: true, version: int8(row.updated) };
      if (row?.current != null) return { ok: false, reason: 'conflict', version: int8(row.current) };
      return { ok: false, reason: 'missing' };
    });
  }

  delete(key: string): Promise<boolean> {
    return this.guard.run('delete', async () => {
      const { rows } = await this.pool.query<{ live: boolean }>({ ...SQL.delete, values: [this.k(key)] });
      return rows[0]?.live === true;
    });
  }

  touch(key: string, ttl: number | null): Promise<boolean> {
    return this.guard.run('touch', async () => {
      const { rowCount } = await this.pool.query({ ...SQL.touch, values: [this.k(key), ttlParam(ttl)] });
      return (rowCount ?? 0) > 0;
    });
  }

  indexAdd(owner: string, member: string, expiresAt: number | null): Promise<void> {
    return this.guard.run('indexAdd', async () => {
      assertNoNul(member, 'index member');
      if (expiresAt !== null && !Number.isFinite(expiresAt)) {
        throw new StatelineError(
          'SL_ERR_INVALID_ARGUMENT',
          `expiresAt must be epoch ms or null (got ${expiresAt})`,
        );
      }
      const at = expiresAt === null ? null : Math.round(expiresAt);
      await this.pool.query({ ...SQL.indexAdd, values: [this.k(owner), member, at] });
    });
  }

  indexMembers(owner: string): Promise<IndexEntry[]> {
    return this.guard.run('indexMembers', async () => {
      const { rows } = await this.pool.query<{ member: string; expires_at: string | null }>({
        ...SQL.indexMembers,
        values: [this.k(owner)],
      });
      return rows.map((r) => ({ member: r.member, expiresAt: int8OrNull(r.expires_at) }));
    });
  }

  indexRemove(owner: string, member: string): Promise<void> {
    return this.guard.run('indexRemove', async () => {
      assertNoNul(member, 'index member');
      await this.pool.query({ ...SQL.indexRemove, values: [this.k(owner), member] });
    });
  }

  /**
   * Deletes expired rows now, in small batches (the background timer calls this about once a
   * minute), off the hot path. Rows of every prefix are swept:
   * an expired row is invisible to every reader, whoever wrote it. Failures wait for the next tick.
   */
  async sweepExpired(): Promise<void> {
    if (this.sweeping || this.guard.isClosed) return;
    this.sweeping = true;
    try {
      for (const q of [SQL.gcStore, SQL.gcIndex]) {
        for (let i = 0; i < GC_MAX_BATCHES && !this.guard.isClosed; i++) {
          const { rowCount } = await this.pool.query(q);
          if ((rowCount ?? 0) < GC_BATCH) break;
        }
      }
    } catch {
      // The server is away; the next tick tries again.
    } finally {
      this.sweeping = false;
    }
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    clearInterval(this.gcTimer);
    await endPool(this.pool);
  }
}

/**
 * Opens a PostgreSQL Store: creates the pool, makes sure the tables exist, and resolves once the
 * server answered (rejects with `SL_ERR_STORE_UNAVAILABLE` within `timeout` when it cannot).
 *
 * @example
 * ```ts
 * const store = await openPostgresStore({ type: 'postgres', url: 'postgres://127.0.0.1/app', poolSize: 20 });
 * await store.create('cart:1', '[]', { ttl: 60_000 });
 * ```
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const { pool, guard } = await openPgBackend(options, 'postgres store', 'SL_ERR_STORE_UNAVAILABLE', SCHEMA);
  return new PostgresStore(pool, options.prefix ?? 'sl:', guard);
}

/**
 * Deletes expired rows of a PostgreSQL Store now instead of waiting for its background sweep
 * (expired rows are already invisible; this only reclaims space).
 *
 * @example
 * ```ts
 * await sweepPostgresStore(store);
 * ```
 */
export function sweepPostgresStore(store: Store): Promise<void> {
  if (!(store instanceof PostgresStore))
    throw new StatelineError('SL_ERR_INVALID_ARGUMENT', 'not a postgres store');
  return store.sweepExpired();
}
