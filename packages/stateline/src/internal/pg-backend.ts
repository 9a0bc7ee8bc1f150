import { CallGuard } from './guard.js';
import { openPgPool, type PgPool } from './pg-connect.js';
import { positiveInt } from './spec.js';

/**
 * What a PostgreSQL Store or Log opens with: its pool (its own tables ensured) and the guard of its calls,
 * from the options both take (`url`, `timeout`, `poolSize`).
 *
 * @example
 * ```ts
 * const { pool, guard } = await openPgBackend(options, 'postgres log', 'SL_ERR_LOG_UNAVAILABLE', SCHEMA);
 * ```
 */
export async function openPgBackend(
  options: { url: string; timeout?: number; poolSize?: number },
  label: string,
  code: 'SL_ERR_STORE_UNAVAILABLE' | 'SL_ERR_LOG_UNAVAILABLE',
  /** The backend's own DDL, run once per database (see `openPgPool`). */
  schema: string,
): Promise<{ pool: PgPool; guard: CallGuard }> {
  const timeout = options.timeout ?? 2000;
  const poolSize = positiveInt(options.poolSize, 'poolSize', 10);
  const pool = await openPgPool({ url: options.url, label, timeout, poolSize }, code, schema);
  return { pool, guard: new CallGuard(code, label, timeout) };
}
