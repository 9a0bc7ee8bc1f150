import { CallGuard } from '../internal/guard.js';
import { openSqlite, type SqliteHandle } from '../internal/sqlite-open.js';
import {
  appendFence,
  appendKey,
  checkFence,
  checkThrough,
  checkSince,
  fenced,
  newEpoch,
  normalizeRetention,
  readLimit,
  resolveRead,
} from './retention.js';
import type {
  AppendOptions,
  AppendResult,
  Log,
  LogEntry,
  ReadOptions,
  ReadResult,
  SqliteLogOptions,
} from './types.js';

/**
 * The Log's tables (a Store's tables may share the file):
 *
 * - `stateline_log`: entries of a prefixed stream; `"offset"` is quoted because OFFSET is an SQL keyword.
 * - `stateline_log_key`: the idempotency key of a keyed append → its offset, removed with the entry.
 * - `stateline_log_meta`: per stream its epoch, newest offset (`head`) and the highest offset
 *   retention removed (`trimmed_through`); entries present are always `trimmed_through+1 … head`.
 * - `stateline_log_fence`: per stream the highest fence accepted (a table of its own, so files
 *   written before fencing existed need no migration).
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS stateline_log (
     stream TEXT NOT NULL, "offset" INTEGER NOT NULL, data TEXT NOT NULL, at INTEGER NOT NULL,
     PRIMARY KEY (stream, "offset"))`,
  `CREATE TABLE IF NOT EXISTS stateline_log_key (
     stream TEXT NOT NULL, key TEXT NOT NULL, "offset" INTEGER NOT NULL, PRIMARY KEY (stream, key))`,
  `CREATE INDEX IF NOT EXISTS stateline_log_key_offset ON stateline_log_key (stream, "offset")`,
  `CREATE TABLE IF NOT EXISTS stateline_log_meta (
     stream TEXT PRIMARY KEY, epoch TEXT NOT NULL, head INTEGER NOT NULL, trimmed_through INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS stateline_log_fence (stream TEXT PRIMARY KEY, fence INTEGER NOT NULL)`,
];

const SQL = {
  // Creates the stream (with its epoch) on first use, else claims the next offset.
  claim: `INSERT INTO stateline_log_meta (stream, epoch, head, trimmed_through) VALUES (@stream, @epoch, 1, 0)
          ON CONFLICT (stream) DO UPDATE SET head = head + 1 RETURNING epoch, head, trimmed_through`,
  insert: `INSERT INTO stateline_log (stream, "offset", data, at) VALUES (@stream, @offset, @data, @at)`,
  meta: `SELECT epoch, head, trimmed_through FROM stateline_log_meta WHERE stream = @stream`,
  ensure: `INSERT INTO stateline_log_meta (stream, epoch, head, trimmed_through) VALUES (@stream, @epoch, 0, 0)
           ON CONFLICT (stream) DO NOTHING`,
  // The oldest entry retention by age keeps: everything before it goes (memory-log trims a prefix).
  firstYoung: `SELECT "offset" FROM stateline_log WHERE stream = @stream AND "offset" > @after AND at >= @cutoff
               ORDER BY "offset" LIMIT 1`,
  trim: `DELETE FROM stateline_log WHERE stream = @stream AND "offset" <= @through`,
  trimKeys: `DELETE FROM stateline_log_key WHERE stream = @stream AND "offset" <= @through`,
  // The entry a key was given to, while retention keeps it.
  keyed: `SELECT l."offset", l.at FROM stateline_log_key k
          JOIN stateline_log l ON l.stream = k.stream AND l."offset" = k."offset"
          WHERE k.stream = @stream AND k.key = @key AND k."offset" > @through`,
  remember: `INSERT INTO stateline_log_key (stream, key, "offset") VALUES (@stream, @key, @offset)
             ON CONFLICT (stream, key) DO UPDATE SET "offset" = excluded."offset"`,
  trimmed: `UPDATE stateline_log_meta SET trimmed_through = @through WHERE stream = @stream`,
  fence: `SELECT fence FROM stateline_log_fence WHERE stream = @stream`,
  raise: `INSERT INTO stateline_log_fence (stream, fence) VALUES (@stream, @fence)
          ON CONFLICT (stream) DO UPDATE SET fence = MAX(fence, excluded.fence)`,
  entries: `SELECT "offset", data, at FROM stateline_log WHERE stream = @stream AND "offset" > @after
            ORDER BY "offset" LIMIT @limit`,
};

interface Meta {
  epoch: string;
  head: number;
  trimmed_through: number;
}

/**
 * The Log in a SQLite file (WAL), shared by every local process. An append is one `BEGIN
 * IMMEDIATE` transaction (claim the offset, insert, trim), so offsets are unique and consecutive
 * across processes. Reads take no write lock: they apply retention virtually (hide what the next
 * append will delete) and only insert the stream's meta row the first time a stream is seen.
 *
 * @example
 * ```ts
 * const log = await openSqliteLog({ type: 'sqlite', path: '.stateline/state.db' });
 * const { entries, complete } = await log.read('room:lobby', lastSeen, { epoch });
 * ```
 */
export class SqliteLog implements Log {
  readonly backend = 'sqlite' as const;
  private readonly retention: { maxCount: number; maxAge: number | null };

  constructor(
    private readonly h: SqliteHandle,
    private readonly prefix: string,
    private readonly guard: CallGuard,
    retention: SqliteLogOptions['retention'],
  ) {
    this.retention = normalizeRetention(retention);
  }

  /** The highest offset retention removes from a stream whose entries are `through+1 … head`. */
  private trimTarget(stream: string, head: number, through: number, now: number): number {
    const { maxCount, maxAge } = this.retention;
    let target = Math.max(through, head - maxCount);
    if (maxAge !== null) {
      const row = this.h.stmt(SQL.firstYoung).get({ stream, after: target, cutoff: now - maxAge }) as
        { offset: number } | undefined;
      target = row ? Math.max(target, row.offset - 1) : head;
    }
    return target;
  }

  append(stream: string, data: string, options?: AppendOptions): Promise<AppendResult> {
    return this.guard.run('append', () => {
      const key = appendKey(options);
      const fence = appendFence(options);
      return this.h.immediate((): AppendResult => {
        const s = this.prefix + stream;
        const at = Date.now();
        if (fence !== null) this.raiseFence(stream, s, fence);
        if (key !== null) {
          // Under the write lock: no other append can slip in between this check and the insert.
          const meta = this.h.stmt(SQL.meta).get({ stream: s }) as Meta | undefined;
          if (meta) {
            const through = this.trimTarget(s, meta.head, meta.trimmed_through, at);
            const hit = this.h.stmt(SQL.keyed).get({ stream: s, key, through }) as
              { offset: number; at: number } | undefined;
            if (hit) return { offset: hit.offset, epoch: meta.epoch, at: hit.at, duplicate: true };
          }
        }
        const meta = this.h.stmt(SQL.claim).get({ stream: s, epoch: newEpoch() }) as Meta;
        this.h.stmt(SQL.insert).run({ stream: s, offset: meta.head, data, at });
        if (key !== null) this.h.stmt(SQL.remember).run({ stream: s, key, offset: meta.head });
        const target = this.trimTarget(s, meta.head, meta.trimmed_through, at);
        if (target > meta.trimmed_through) {
          this.h.stmt(SQL.trim).run({ stream: s, through: target });
          this.h.stmt(SQL.trimKeys).run({ stream: s, through: target });
          this.h.stmt(SQL.trimmed).run({ stream: s, through: target });
        }
        return { offset: meta.head, epoch: meta.epoch, at, duplicate: false };
      });
    });
  }

  /** Inside a write transaction: refuses a fence below the stream's, else raises it. */
  private raiseFence(stream: string, s: string, fence: number): void {
    const row = this.h.stmt(SQL.fence).get({ stream: s }) as { fence: number } | undefined;
    if (row && fence < row.fence) throw fenced(stream, fence, row.fence);
    this.h.stmt(SQL.raise).run({ stream: s, fence });
  }

  fence(stream: string, fence: number): Promise<void> {
    return this.guard.run('fence', () => {
      checkFence(fence);
      this.h.immediate(() => this.raiseFence(stream, this.prefix + stream, fence));
    });
  }

  trim(stream: string, through: number, options?: { fence?: number }): Promise<void> {
    return this.guard.run('trim', () => {
      checkThrough(through);
      const fence = appendFence(options);
      const s = this.prefix + stream;
      this.h.immediate(() => {
        if (fence !== null) {
          const row = this.h.stmt(SQL.fence).get({ stream: s }) as { fence: number } | undefined;
          if (row && fence < row.fence) throw fenced(stream, fence, row.fence);
        }
        const meta = this.h.stmt(SQL.meta).get({ stream: s }) as Meta | undefined;
        if (!meta) return;
        const cut = Math.min(through, meta.head);
        if (cut <= meta.trimmed_through) return;
        this.h.stmt(SQL.trim).run({ stream: s, through: cut });
        this.h.stmt(SQL.trimKeys).run({ stream: s, through: cut });
        this.h.stmt(SQL.trimmed).run({ stream: s, through: cut });
      });
    });
  }

  read(stream: string, since: number, options: ReadOptions = {}): Promise<ReadResult> {
    return this.guard.run('read', () => {
      checkSince(since);
      const limit = readLimit(options.limit);
      const s = this.prefix + stream;
      if (!this.h.stmt(SQL.meta).get({ stream: s }))
        this.h.stmt(SQL.ensure).run({ stream: s, epoch: newEpoch() });
      // A deferred (read-only) transaction: meta and entries come from one snapshot.
      return this.h.db.transaction((): ReadResult => {
        const meta = this.h.stmt(SQL.meta).get({ stream: s }) as Meta;
        const through = this.trimTarget(s, meta.head, meta.trimmed_through, Date.now());
        const { from, complete } = resolveRead(since, options.epoch, meta.epoch, through);
        const rows = this.h
          .stmt(SQL.entries)
          .all({ stream: s, after: Math.max(from, through), limit }) as LogEntry[];
        return { epoch: meta.epoch, entries: rows, head: meta.head, complete };
      })();
    });
  }

  async close(): Promise<void> {
    if (this.guard.close()) this.h.close();
  }
}

/**
 * Opens the SQLite Log; it may share its file with a SQLite Store.
 *
 * @example
 * ```ts
 * const log = await openSqliteLog({ type: 'sqlite', path: '.stateline/state.db', retention: { maxCount: 1000 } });
 * const { offset, epoch } = await log.append('room:lobby', '{"text":"hi"}');
 * ```
 */
export async function openSqliteLog(options: SqliteLogOptions): Promise<SqliteLog> {
  const guard = new CallGuard(
    'SL_ERR_LOG_UNAVAILABLE',
    `sqlite log ${options.path}`,
    options.timeout ?? 2000,
  );
  normalizeRetention(options.retention);
  const h = await openSqlite(options.path, guard.timeout, 'The sqlite log', SCHEMA).catch((err: unknown) => {
    throw guard.wrap('open', err);
  });
  return new SqliteLog(h, options.prefix ?? 'sl:', guard, options.retention);
}
