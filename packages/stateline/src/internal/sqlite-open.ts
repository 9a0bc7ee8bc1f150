import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { loadPeer } from './peer.js';

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteStatement = BetterSqlite3.Statement;

/** One connection to a Stateline SQLite file, with its prepared statements compiled once (see {@link openSqlite}). */
export interface SqliteHandle {
  readonly db: SqliteDatabase;
  /** The prepared statement for `sql`, compiled on first use and cached for this connection. */
  stmt(sql: string): SqliteStatement;
  /** Runs `fn` inside `BEGIN IMMEDIATE`: the write lock is taken up front (waiting `busy_timeout`). */
  immediate<T>(fn: () => T): T;
  /** Runs `fn` with `busy_timeout = 0`, for background work that should skip rather than wait. */
  noWait<T>(fn: () => T): T;
  close(): void;
}

/**
 * True for SQLite's "another connection holds the lock" errors.
 *
 * @example
 * ```ts
 * try { h.immediate(work); } catch (err) { if (!isSqliteBusy(err)) throw err; }
 * ```
 */
export function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * Opens (creating if needed) a Stateline SQLite file: parent directory created, WAL journal,
 * `synchronous=NORMAL`, `busy_timeout = timeout`, the backend's `schema` ensured (only
 * `CREATE … IF NOT EXISTS`, so any number of processes may open a fresh file at once; Store and
 * Log may share a file). `:memory:` gives a private in-process database. A lock held past
 * `timeout` surfaces as `SQLITE_BUSY`, which the caller's CallGuard maps to its `…_UNAVAILABLE` code.
 *
 * @example
 * ```ts
 * const h = await openSqlite('.stateline/state.db', 2000, 'The sqlite store', ['CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)']);
 * h.stmt('SELECT k FROM t WHERE k = ?').get('sl:a');
 * ```
 */
export async function openSqlite(
  path: string,
  timeout: number,
  purpose: string,
  schema: readonly string[],
): Promise<SqliteHandle> {
  const Database = await loadPeer<typeof BetterSqlite3>('better-sqlite3', purpose);
  const memory = path === ':memory:' || path === '';
  if (!memory) mkdirSync(dirname(path), { recursive: true });
  const deadline = Date.now() + timeout;
  for (;;) {
    let db: SqliteDatabase | undefined;
    try {
      db = new Database(path, { timeout });
      db.pragma(`busy_timeout = ${Math.ceil(timeout)}`);
      // Switching a fresh file to WAL needs an exclusive moment; a racing opener may see BUSY and retries below.
      if (!memory) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      for (const sql of schema) db.exec(sql);
      return handle(db, timeout);
    } catch (err) {
      db?.close();
      if (!isSqliteBusy(err) || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
  }
}

function handle(db: SqliteDatabase, timeout: number): SqliteHandle {
  const cache = new Map<string, SqliteStatement>();
  return {
    db,
    stmt(sql) {
      let s = cache.get(sql);
      if (!s) cache.set(sql, (s = db.prepare(sql)));
      return s;
    },
    immediate: (fn) => db.transaction(fn).immediate(),
    noWait(fn) {
      db.pragma('busy_timeout = 0');
      try {
        return fn();
      } finally {
        db.pragma(`busy_timeout = ${Math.ceil(timeout)}`);
      }
    },
    close() {
      cache.clear();
      if (db.open) db.close();
    },
  };
}
