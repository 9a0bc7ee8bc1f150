/**
 * Must show 3: the multi-instance scenario on the shared PostgreSQL (table Log + LISTEN/NOTIFY
 * Bus), with and without an instance SIGKILLed mid-stream. Rows live under a unique prefix and
 * are deleted after.
 */
import { after } from 'node:test';
import pg from 'pg';
import { POSTGRES_URL, needService, uniquePrefix } from '../support/services.js';
import { HUB_OPTIONS } from './hub-options.js';
import { runMultiInstance } from './multi-instance.case.js';

const skip = await needService('postgres');
const prefixes: string[] = [];

runMultiInstance(
  'postgres',
  () => ({
    config: () => {
      // Short: NOTIFY channel names are identifiers of at most 63 bytes (longer ones get hashed).
      const prefix = uniquePrefix('rt')
        .replace(/^sltest:/, 't')
        .replace(/:/g, '_');
      prefixes.push(prefix);
      return {
        log: { type: 'postgres', url: POSTGRES_URL, prefix },
        bus: { type: 'postgres', url: POSTGRES_URL, prefix },
        hub: HUB_OPTIONS,
      };
    },
  }),
  skip,
);

after(async () => {
  if (skip || prefixes.length === 0) return;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  for (const prefix of prefixes) {
    await client.query('DELETE FROM stateline_log WHERE stream LIKE $1', [`${prefix}%`]);
    await client.query('DELETE FROM stateline_log_key WHERE stream LIKE $1', [`${prefix}%`]);
    await client.query('DELETE FROM stateline_log_meta WHERE stream LIKE $1', [`${prefix}%`]);
  }
  await client.end();
});
