import { CallGuard } from '../internal/guard.js';
import { openSqlite, type SqliteHandle, type SqliteStatement } from '../internal/sqlite-open.js';
import type {
  CreateOptions,
  CreateResult,
  IndexEntry,
  SqliteStoreOptions,
  Store,
  StoredRecord,
  UpdateOptions,
  UpdateResult,
} from './types.js';

/**
 * The Store's tables (another prefix's rows, and a Log's tables, may share the file):
 *
 * - `stateline_store`: one row per prefixed key; `expires_at` is epoch ms or NULL (never).
 * - `stateline_index`: per-owner index members (`owner` is prefixed), same expiry rule.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS stateline_store (
     key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL, expires_at INTEGER)`,
  `CREATE INDEX IF NOT EXISTS stateline_store_expiry ON stateline_store (expires_at) WHERE expires_at IS NOT NULL`,
  `CREATE TABLE IF NOT EXISTS stateline_index (
     owner TEXT NOT NULL, member TEXT NOT NULL, expires_at INTEGER, PRIMARY KEY (owner, member))`,
  `CREATE INDEX IF NOT EXISTS stateline_index_expiry ON stateline_index (expires_at) WHERE expires_at IS NOT NULL`,
];

const GC_EVERY_MS = 30_000;
const GC_BATCH = 500;
/** Batches per GC tick, so a huge backlog never holds the event loop for long. */
const GC_MAX_BATCHES = 20;

/** A row is live when it has no expiry or expires after `@now`. */
const LIVE = '(expires_at IS NULL OR expires_at > @now)';

const SQL = {
  // Arguments in order: key, now. The aliases make the row itself the StoredRecord (no copy).
  get: `SELECT value, version, expires_at AS expiresAt FROM stateline_store
        WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)`,
  // Insert-if-absent; the only row it may replace is an expired one.
  create: `INSERT INTO stateline_store (key, value, version, expires_at) VALUES (@key, @value, 1, @exp)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = 1, expires_at = excluded.expires_at
           WHERE stateline_store.expires_at IS NOT NULL AND stateline_store.expires_at <= @now`,
  update: `UPDATE stateline_store
           SET value = @value, version = version + 1, expires_at = CASE WHEN @keep = 1 THEN expires_at ELSE @exp END
           WHERE key = @key AND ${LIVE} AND (@if IS NULL OR version = @if) RETURNING version`,
  // The compare-and-set hot path (ifVersion given, expiry kept): positional, nothing optional.
  // Arguments in order: value, key, ifVersion, now.
  cas: `UPDATE stateline_store SET value = ?, version = version + 1
        WHERE key = ? AND version = ? AND (expires_at IS NULL OR expires_at > ?) RETURNING version`,
  version: `SELECT version FROM stateline_store WHERE key = @key AND ${LIVE}`,
  // Removes an expired leftover too, but only a live row counts as deleted.
  delete: `DELETE FROM stateline_store WHERE key = @key RETURNING expires_at`,
  touch: `UPDATE stateline_store SET expires_at = @exp WHERE key = @key AND ${LIVE}`,
  indexAdd: `INSERT INTO stateline_index (owner, member, expires_at) VALUES (@owner, @member, @exp)
             ON CONFLICT (owner, member) DO UPDATE SET expires_at = excluded.expires_at`,
  indexList: `SELECT member, expires_at FROM stateline_index WHERE owner = @owner ORDER BY member`,
  indexPrune: `DELETE FROM stateline_index WHERE owner = @owner AND expires_at IS NOT NULL AND expires_at <= @now`,
  indexRemove: `DELETE FROM stateline_index WHERE owner = @owner AND member = @member`,
  gcStore: `DELETE FROM stateline_store WHERE rowid IN (SELECT rowid FROM stateline_store
            WHERE expires_at IS NOT NULL AND expires_at <= @now LIMIT @limit)`,
  gcIndex: `DELETE FROM stateline_index WHERE rowid IN (SELECT rowid FROM stateline_index
            WHERE expires_at IS NOT NULL AND expires_at <= @now LIMIT @limit)`,
};

/** An update that changed nothing is retried at most this often before one IMMEDIATE transaction decides. */
const UPDATE_TRIES = 3;

/**
 * The embedded default Store: one SQLite file in WAL mode, shared by every local process. Every
 * write is a single autocommit statement (compare-and-set is the `UPDATE`'s own `WHERE version = ?`,
 * so it is exact across processes); only an update that changed nothing reads again to say why.
 * Expiry compares with the calling process's `Date.now()`; expired rows are invisible at once and
 * deleted in batches by an unref'd background timer.
 *
 * @example
 * ```ts
 * const store = await openSqliteStore({ type: 'sqlite', path: '.stateline/state.db' });
 * const rec = await store.get('cart:1');
 * if (rec) await store.update('cart:1', '["apple"]', { ifVersion: rec.version });
 * ```
 */
export class SqliteStore implements Store {
  readonly backend = 'sqlite' as const;
  private readonly gc: NodeJS.Timeout;
  // Hot-path statements held directly (no cache lookup per call).
  private readonly sGet: SqliteStatement;
  private readonly sCas: SqliteStatement;
  private readonly sVersion: SqliteStatement;

  constructor(
    private readonly h: SqliteHandle,
    private readonly prefix: string,
    private readonly guard: CallGuard,
  ) {
    this.sGet = h.stmt(SQL.get);
    this.sCas = h.stmt(SQL.cas);
    this.sVersion = h.stmt(SQL.version);
    this.gc = setInterval(() => this.collect(), GC_EVERY_MS);
    this.gc.unref();
  }

  get(key: string): Promise<StoredRecord | null> {
    return this.guard.run('get', () => {
      const row = this.sGet.get(this.prefix + key, Date.now()) as StoredRecord | undefined;
      return row ?? null;
    });
  }

  create(key: string, value: string, options: CreateOptions = {}): Promise<CreateResult> {
    return this.guard.run('create', (): CreateResult => {
      const now = Date.now();
      const { changes } = this.h
        .stmt(SQL.create)
        .run({ key: this.prefix + key, value, exp: expiry(now, options.ttl), now });
      return changes > 0 ? { ok: true, version: 1 } : { ok: false, reason: 'exists' };
    });
  }

  update(key: string, value: string, options: UpdateOptions = {}): Promise<UpdateResult> {
    return this.guard.run('update', () => {
      const k = this.prefix + key;
      const { ifVersion, ttl } = options;
      // One autocommit UPDATE; the common case ends here. When it changed nothing, a SELECT says
      // why. Between the two another process may write: that is benign, we report what the SELECT
      // saw, unless it saw a row this UPDATE should have changed, then the UPDATE runs again.
      for (let tries = 0; tries < UPDATE_TRIES; tries++) {
        const now = Date.now();
        const done = (
          ifVersion !== undefined && ttl === undefined
            ? this.sCas.get(value, k, ifVersion, now)
            : this.h.stmt(SQL.update).get({
                key: k,
                value,
                now,
                keep: ttl === undefined ? 1 : 0,
                exp: expiry(now, ttl),
                if: ifVersion ?? null,
              })
        ) as { version: number } | undefined;
        if (done) return { ok: true, version: done.version };
        const cur = this.sVersion.get({ key: k, now }) as { version: number } | undefined;
        if (!cur) return { ok: false, reason: 'missing' };
        if (ifVersion !== undefined && cur.version !== ifVersion) {
          return { ok: false, reason: 'conflict', version: cur.version };
        }
      }
      return this.updateLocked(k, value, options);
    });
  }

  /** The contended fallback: update and classify in one IMMEDIATE transaction (one consistent state). */
  private updateLocked(k: string, value: string, options: UpdateOptions): UpdateResult {
    return this.h.immediate((): UpdateResult => {
      const now = Date.now();
      const done = this.h.stmt(SQL.update).get({
        key: k,
        value,
        now,
        keep: options.ttl === undefined ? 1 : 0,
        exp: expiry(now, options.ttl),
        if: options.ifVersion ?? null,
      }) as { version: number } | undefined;
      if (done) return { ok: true, version: done.version };
      const cur = this.sVersion.get({ key: k, now }) as { version: number } | undefined;
      return cur ? { ok: false, reason: 'conflict', version: cur.version } : { ok: false, reason: 'missing' };
    });
  }

  delete(key: string): Promise<boolean> {
    return this.guard.run('delete', () => {
      const now = Date.now();
      const row = this.h.stmt(SQL.delete).get({ key: this.prefix + key }) as
        { expires_at: number | null } | undefined;
      return row !== undefined && (row.expires_at === null || row.expires_at > now);
    });
  }

  touch(key: string, ttl: number | null): Promise<boolean> {
    return this.guard.run('touch', () => {
      const now = Date.now();
      return this.h.stmt(SQL.touch).run({ key: this.prefix + key, exp: expiry(now, ttl), now }).changes > 0;
    });
  }

  indexAdd(owner: string, member: string, expiresAt: number | null): Promise<void> {
    return this.guard.run('indexAdd', () => {
      this.h.stmt(SQL.indexAdd).run({ owner: this.prefix + owner, member, exp: expiresAt });
    });
  }

  indexMembers(owner: string): Promise<IndexEntry[]> {
    return this.guard.run('indexMembers', () => {
      const o = this.prefix + owner;
      const now = Date.now();
      // Read without the write lock; prune only when something expired. The prune re-checks
      // expiry itself, so a member refreshed meanwhile by another process is never removed.
      const rows = this.h.stmt(SQL.indexList).all({ owner: o }) as {
        member: string;
        expires_at: number | null;
      }[];
      const live = rows.filter((r) => r.expires_at === null || r.expires_at > now);
      if (live.length < rows.length) this.h.stmt(SQL.indexPrune).run({ owner: o, now });
      return live.map((r) => ({ member: r.member, expiresAt: r.expires_at }));
    });
  }

  indexRemove(owner: string, member: string): Promise<void> {
    return this.guard.run('indexRemove', () => {
      this.h.stmt(SQL.indexRemove).run({ owner: this.prefix + owner, member });
    });
  }

  /**
   * Deletes one batch of expired records and index members (of every prefix: expired rows are
   * dead for all) and returns how many rows went. Skips at once if another process holds the lock.
   */
  sweep(limit = GC_BATCH): number {
    if (this.guard.isClosed) return 0;
    try {
      return this.h.noWait(() => {
        const args = { now: Date.now(), limit };
        return this.h.stmt(SQL.gcStore).run(args).changes + this.h.stmt(SQL.gcIndex).run(args).changes;
      });
    } catch {
      return 0; // busy or failing: the next tick tries again; GC must never crash the process
    }
  }

  private collect(batches = GC_MAX_BATCHES): void {
    if (this.sweep() >= GC_BATCH && batches > 1) setImmediate(() => this.collect(batches - 1)).unref();
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    clearInterval(this.gc);
    this.h.close();
  }
}

function expiry(now: number, ttl: number | null | undefined): number | null {
  return ttl === undefined || ttl === null ? null : now + ttl;
}

/**
 * Opens the SQLite Store. The file (and its directory) is created when missing; `:memory:` gives a
 * private in-process database.
 *
 * @example
 * ```ts
 * const store = await openSqliteStore({ type: 'sqlite', path: '.stateline/state.db' });
 * await store.create('cart:1', '[]', { ttl: 60_000 });
 * ```
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const guard = new CallGuard(
    'SL_ERR_STORE_UNAVAILABLE',
    `sqlite store ${options.path}`,
    options.timeout ?? 2000,
  );
  const h = await openSqlite(options.path, guard.timeout, 'The sqlite store', SCHEMA).catch(
    (err: unknown) => {
      throw guard.wrap('open', err);
    },
  );
  return new SqliteStore(h, options.prefix ?? 'sl:', guard);
}
