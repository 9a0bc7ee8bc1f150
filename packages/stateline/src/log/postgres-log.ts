import type { CallGuard } from '../internal/guard.js';
import { openPgBackend } from '../internal/pg-backend.js';
import {
  PG_NOW_MS as NOW,
  assertNoNul,
  endPool,
  int8,
  type PgPool,
} from '../internal/pg-connect.js';
import { appendKey, checkSince, newEpoch, normalizeRetention, readLimit, resolveRead } from './retention.js';
import type { AppendOptions, AppendResult, Log, LogEntry, PostgresLogOptions, ReadOptions, ReadResult } from './types.js';

/**
 * SQL for the highest offset retention by age removes as of `now`: entries never get an `at`
 * older than the entry before, so the newest entry older than the cutoff ends the removed prefix.
 * `maxAge` is a parameter holding ms or NULL (no age limit).
 */
const ageCut = (stream: string, maxAge: string, now: string) =>
  `COALESCE((SELECT l."offset" FROM stateline_log l
  WHERE ${maxAge}::bigint IS NOT NULL AND l.stream = ${stream} AND l.at < ${now} - ${maxAge}::bigint
  ORDER BY l.at DESC, l."offset" DESC LIMIT 1), 0)`;

/**
 * Append, in one statement (one round trip): `stateline_log_append_v2` (internal/pg-connect.ts)
 * upserts the stream's meta row (serialising appends, creating the epoch on first use), returns
 * the entry of a known key instead of appending, inserts the entry and applies retention by count
 * and age in the append path.
 */
const APPEND = {
  name: 'sl_log_append',
  text: 'SELECT out_epoch, out_offset, out_at, out_duplicate FROM stateline_log_append_v2($1, $2, $3, $4, $5::bigint, $6::bigint)',
} as const;

/**
 * Read, in one statement. A stream that was never written gets its meta row (and so its epoch,
 * $2) here, so the epoch a first reader sees is the one appends will use. Retention is applied to
 * what is returned (the effective trim mark counts age and count limits as of now) without
 * writing; the rows themselves are removed by the next append.
 *
 * $1 stream, $2 epoch for a new stream, $3 since, $4 reader's epoch or NULL, $5 limit,
 * $6 maxCount, $7 maxAge (ms or NULL).
 */
const READ = {
  name: 'sl_log_read',
  text: `WITH ins AS (
  INSERT INTO stateline_log_meta (stream, epoch, head, trimmed_through, last_at)
  VALUES ($1, $2, 0, 0, 0)
  ON CONFLICT (stream) DO NOTHING
  RETURNING epoch, head, trimmed_through
), cur AS (
  SELECT epoch, head, trimmed_through FROM ins
  UNION ALL
  SELECT epoch, head, trimmed_through FROM stateline_log_meta WHERE stream = $1
), m AS (
  SELECT epoch, head, GREATEST(trimmed_through, head - $6::bigint, ${ageCut('$1', '$7', NOW)}) AS tt
  FROM cur LIMIT 1
)
SELECT m.epoch, m.head, m.tt, e."offset", e.data, e.at
FROM m LEFT JOIN LATERAL (
  SELECT l."offset", l.data, l.at FROM stateline_log l
  WHERE l.stream = $1
    AND l."offset" > GREATEST(m.tt, CASE WHEN $4::text IS NOT NULL AND $4::text <> m.epoch THEN 0 ELSE $3::bigint END)
  ORDER BY l."offset"
  LIMIT $5::bigint
) e ON true
ORDER BY e."offset"`,
} as const;

interface ReadRow {
  epoch: string;
  head: string;
  tt: string;
  offset: string | null;
  data: string | null;
  at: string | null;
}

/** A Log in PostgreSQL tables shared by every process (schema in internal/pg-connect.ts). */
interface AppendRow {
  out_epoch: string;
  out_offset: string;
  out_at: string;
  out_duplicate: boolean;
}

class PostgresLog implements Log {
  readonly backend = 'postgres' as const;

  constructor(
    private readonly pool: PgPool,
    private readonly prefix: string,
    private readonly guard: CallGuard,
    private readonly retention: { maxCount: number; maxAge: number | null },
  ) {}

  private s(stream: string): string {
    assertNoNul(stream, 'stream name');
    return this.prefix + stream;
  }

  append(stream: string, data: string, options?: AppendOptions): Promise<AppendResult> {
    return this.guard.run('append', async () => {
      assertNoNul(data, 'log entry');
      const key = appendKey(options);
      const { maxCount, maxAge } = this.retention;
      const { rows } = await this.pool.query<AppendRow>({
        ...APPEND,
        values: [this.s(stream), data, key, newEpoch(), maxCount, maxAge === null ? null : Math.round(maxAge)],
      });
      const row = rows[0];
      if (!row) throw new Error('append returned no row');
      return {
        offset: int8(row.out_offset),
        epoch: row.out_epoch,
        at: int8(row.out_at),
        duplicate: row.out_duplicate,
      };
    });
  }

  read(stream: string, since: number, options: ReadOptions = {}): Promise<ReadResult> {
    return this.guard.run('read', async () => {
      checkSince(since);
      const limit = readLimit(options.limit);
      const { maxCount, maxAge } = this.retention;
      const values = [
        this.s(stream),
        newEpoch(),
        since,
        options.epoch ?? null,
        limit,
        maxCount,
        maxAge === null ? null : Math.round(maxAge),
      ];
      let rows: ReadRow[] = [];
      // No row only when another connection created the stream after this statement's snapshot
      // was taken (ON CONFLICT DO NOTHING then returns nothing); the next statement sees it.
      for (let attempt = 0; attempt < 3 && rows.length === 0; attempt++) {
        ({ rows } = await this.pool.query<ReadRow>({ ...READ, values }));
      }
      const first = rows[0];
      if (!first) throw new Error('read found no stream row');
      const epoch = first.epoch;
      const { complete } = resolveRead(since, options.epoch, epoch, int8(first.tt));
      const entries: LogEntry[] = [];
      for (const r of rows) {
        if (r.offset !== null) entries.push({ offset: int8(r.offset), data: r.data ?? '', at: int8(r.at) });
      }
      return { epoch, entries, head: int8(first.head), complete };
    });
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    await endPool(this.pool);
  }
}

/**
 * Opens a PostgreSQL Log: creates the pool, makes sure the tables exist, and resolves once the
 * server answered (rejects with `SL_ERR_LOG_UNAVAILABLE` within `timeout` when it cannot).
 *
 * @example
 * ```ts
 * const log = await openPostgresLog({ type: 'postgres', url: 'postgres://127.0.0.1/app', retention: { maxCount: 1000 } });
 * const { offset, epoch } = await log.append('room:lobby', '{"text":"hi"}');
 * ```
 */
export async function openPostgresLog(options: PostgresLogOptions): Promise<Log> {
  const retention = normalizeRetention(options.retention);
  const { pool, guard } = await openPgBackend(options, 'postgres log', 'SL_ERR_LOG_UNAVAILABLE');
  return new PostgresLog(pool, options.prefix ?? 'sl:', guard, retention);
}
