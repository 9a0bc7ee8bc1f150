import { after } from 'node:test';
import { POSTGRES_URL, REDIS_URL } from './services.js';

/** What `uniquePrefix` gives this test process, as a pattern (glob for Redis, LIKE for SQL). */
const REDIS_MINE = `sltest:*:${process.pid}:*`;
const SQL_MINE = `sltest:%:${process.pid}:%`;

/**
 * Suites never delete what they write on the shared servers: after the file, remove every key
 * (Redis) or row (PostgreSQL tables named with their prefixed column) this process created.
 */
export function cleanUpAfter(
  service: 'redis' | 'postgres',
  skip: string | false,
  tables: [table: string, column: string][] = [],
): void {
  after(async () => {
    if (skip) return;
    if (service === 'redis') {
      const { createClient } = await import('redis');
      const c = createClient({ url: REDIS_URL });
      await c.connect();
      try {
        for await (const batch of c.scanIterator({ MATCH: REDIS_MINE, COUNT: 500 }))
          if (batch.length) await c.unlink(batch);
      } finally {
        await c.close();
      }
      return;
    }
    const { default: pg } = await import('pg');
    const raw = new pg.Client({ connectionString: POSTGRES_URL });
    await raw.connect();
    try {
      for (const [table, column] of tables)
        await raw.query(`DELETE FROM ${table} WHERE ${column} LIKE $1`, [SQL_MINE]);
    } finally {
      await raw.end();
    }
  });
}
