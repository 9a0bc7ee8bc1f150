/**
 * npm run bench -- entities [--duration 3] [--clients 1,20,200] [--backends redis,postgres]
 *
 * One hot key changed by N concurrent clients, side by side in one run, per backend:
 * - entity: `entities.call('hot', key, 'add')`, the key owned by this instance (state in memory,
 *   one fenced Log append per batch of calls);
 * - CAS: the same change as a stateless handler: Store `get`, apply, `update({ ifVersion })`,
 *   and on a version conflict read and try again.
 * Both run in this process against the same server, so the rows differ only in the approach.
 * Rows alternate (entity, CAS) per client count. Reports throughput, p99 latency and retries per
 * success. Needs Redis and PostgreSQL on their default test URLs (STATELINE_TEST_*_URL).
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { createEntities, defineEntity } from 'stateline/entities';
import { createLog } from 'stateline/log';
import { createStore, type Store } from 'stateline/store';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const DURATION = Number(arg('duration', '3')) * 1000;
const CLIENTS = arg('clients', '1,20,200').split(',').map(Number);
const BACKENDS = arg('backends', 'redis,postgres').split(',');
const URLS: Record<string, string> = {
  redis: process.env.STATELINE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  postgres: process.env.STATELINE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
};

interface Hot {
  n: number;
  last: string;
}
/** The change both approaches make: one more, and who made it. */
const apply = (s: Hot, by: string): number => {
  s.n += 1;
  s.last = by;
  return s.n;
};

const Counter = defineEntity('hot', {
  initial: (): Hot => ({ n: 0, last: '' }),
  handlers: {
    add: (state, args: { by: string }) => apply(state, args.by),
    get: { read: true, run: (state) => state.n },
  },
  snapshotEvery: 1000,
});

interface Row {
  /** Calls that succeeded. */
  done: number;
  ops: number;
  p99: number;
  retries: number;
}

/** Runs `op` from `clients` loops for DURATION; `op` resolves with the retries it needed. */
async function drive(clients: number, op: (client: number) => Promise<number>): Promise<Row> {
  const lat: number[] = [];
  let retries = 0;
  const end = Date.now() + DURATION;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (Date.now() < end) {
        const t = performance.now();
        retries += await op(c);
        lat.push(performance.now() - t);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return {
    done: lat.length,
    ops: lat.length / (DURATION / 1000),
    p99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] ?? 0,
    retries: retries / Math.max(1, lat.length),
  };
}

async function casAdd(store: Store, key: string, by: string): Promise<number> {
  for (let retries = 0; ; retries++) {
    const rec = await store.get(key);
    if (!rec) {
      if ((await store.create(key, JSON.stringify({ n: 1, last: by }))).ok) return retries;
      continue;
    }
    const s = JSON.parse(rec.value) as Hot;
    apply(s, by);
    if ((await store.update(key, JSON.stringify(s), { ifVersion: rec.version })).ok) return retries;
  }
}

/** Deletes what a run wrote under its prefix on the shared server. */
async function removePrefix(backend: string, prefix: string): Promise<void> {
  if (backend === 'redis') {
    const { createClient } = await import('redis');
    const c = createClient({ url: URLS.redis });
    await c.connect();
    for await (const batch of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 }))
      if (batch.length) await c.unlink(batch);
    await c.close();
    return;
  }
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: URLS.postgres });
  await c.connect();
  for (const [table, column] of [
    ['stateline_store', 'key'],
    ['stateline_log', 'stream'],
    ['stateline_log_key', 'stream'],
    ['stateline_log_meta', 'stream'],
    ['stateline_log_fence', 'stream'],
  ])
    await c.query(`DELETE FROM ${table} WHERE ${column} LIKE $1`, [`${prefix}%`]);
  await c.end();
}

const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

console.log(
  `entities bench: ${DURATION / 1000} s per row, ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(
  '\n| backend | clients | entity ops/s | entity p99 ms | CAS ops/s | CAS p99 ms | CAS retries/success | entity ÷ CAS |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const backend of BACKENDS) {
  const prefix = `slbench:${randomUUID().slice(0, 8)}:`;
  const spec = { type: backend as 'redis' | 'postgres', url: URLS[backend]!, prefix };
  const store = await createStore(spec);
  const log = await createLog({ ...spec, retention: { maxCount: 100_000 } });
  const entities = await createEntities({
    store,
    log,
    instanceId: 'bench',
    entities: [Counter],
    mailboxLimit: 10_000,
    callTimeout: '30s',
  });
  for (const clients of CLIENTS) {
    const key = `k-${clients}`;
    const entity = await drive(clients, async (c) => {
      await entities.call('hot', key, 'add', { by: `c${c}` });
      return 0;
    });
    const cas = await drive(clients, (c) => casAdd(store, `cas:${key}`, `c${c}`));
    // Both must have applied every acknowledged change exactly once.
    const entityN = (await entities.call('hot', key, 'get')) as number;
    const casN = (JSON.parse((await store.get(`cas:${key}`))!.value) as Hot).n;
    if (entityN !== entity.done || casN !== cas.done)
      throw new Error(`lost or extra updates: entity ${entityN}/${entity.done}, CAS ${casN}/${cas.done}`);
    console.log(
      `| ${backend} | ${clients} | ${fmt(entity.ops)} | ${fmt(entity.p99, 1)} | ${fmt(cas.ops)} | ${fmt(cas.p99, 1)} | ${fmt(cas.retries, 2)} | ${fmt(entity.ops / cas.ops, 1)}× |`,
    );
  }
  await entities.close();
  await log.close();
  await store.close();
  await removePrefix(backend, prefix);
}
console.log(
  `\nload average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
