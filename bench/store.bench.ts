/**
 * Store overhead: Stateline's Store against the raw client doing the same thing on the same server.
 *
 *   npm run bench -- store [--duration=3000] [--concurrency=50] [--only=redis,memcached,postgres,sqlite,memory]
 *
 * Per backend and op (`get`, and `update` = compare-and-set with `ifVersion`, the version tracked
 * locally), `concurrency` loops keep one call each in flight on their own key. Stateline and the raw
 * client run in alternating 200 ms slices (after a warm-up) so drift on a shared machine hits both
 * alike; each side gets `duration` ms per row. Rates are totals over each side's slices and the
 * ratio is the median of adjacent-pair ratios. Anchors:
 * - redis get: node-redis `client.get` (plain GET) on one connection (Stateline also uses one). A
 *   record is one string, so this is also exactly the Store's work.
 * - redis update, same work: node-redis `client.evalSha` of the Store's own compare-and-set Lua
 *   (read, compare the version, write) on keys in the Store's layout.
 * - redis update vs plain SET: informational. A compare-and-set has to read and compare on the
 *   server before it writes, which a blind SET does not, so no CAS can cost what a SET costs.
 * - memcached: a memcached this bench starts on a free port (`/usr/bin/memcached`, or the server at
 *   STATELINE_BENCH_MEMCACHED=host:port), raw client the same `memcached` driver the Store uses,
 *   with the same pool size (10). get: `gets` of a record in the Store's layout. update, same work:
 *   `gets` then `cas` (the Store's read-then-CAS). update vs plain `set`: informational.
 * - postgres: pg Pool (same size as Stateline's default, 10) `SELECT value FROM t WHERE key=$1` /
 *   `UPDATE t SET value=$2 WHERE key=$1` on a scratch table this bench creates and drops.
 * - sqlite: better-sqlite3 prepared statements on a WAL file (synchronous=NORMAL, like Stateline):
 *   `SELECT value` and the Store's own `SELECT value, version, expires_at … AND <live>`; an `UPDATE`
 *   that really changes the row (SQLite writes nothing for an unchanged row, and every Store update
 *   changes the version) and the Store's own CAS `UPDATE … RETURNING version`.
 * - memory: no anchor.
 * Issue target: the Store costs no more than 15 % over the raw client for Redis, i.e. ratio
 * (stateline/raw) >= 0.85 for get vs GET and for update vs the same-work CAS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createStore, type Store } from 'stateline/store';
// The Store's own compare-and-set script, so the raw anchor does exactly the Store's work.
import { REDIS_UPDATE_LUA } from '../packages/stateline/dist/store/redis-store.js';
import { benchMemcached } from './servers/memcached-admin.js';

type Op = 'get' | 'update';
/** One call of worker `w`. */
type Runner = (w: number) => Promise<unknown>;

/** The bar for Redis: at most 15 % slower than the raw client doing the same work. */
const TARGET = 0.85;

interface Row {
  backend: string;
  op: Op;
  /** What the raw side does, e.g. `GET` or `EVALSHA same CAS`. */
  anchor: string;
  /** This row is one of the targets (else informational). */
  target?: boolean;
  stateline?: number;
  raw?: number;
  ratio?: number;
  spread?: [number, number];
  skipped?: string;
}

/** One comparison: Stateline's runner against an anchor (absent: no anchor). */
interface Comparison {
  op: Op;
  anchor: string;
  stateline: Runner;
  raw?: Runner;
  target?: boolean;
}

interface Backend {
  name: string;
  comparisons: Comparison[];
  teardown: () => Promise<void>;
}

function flag(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

const DURATION = Number(flag('duration', '3000'));
const CONCURRENCY = Number(flag('concurrency', '50'));
const ONLY = flag('only', 'redis,memcached,postgres,sqlite,memory').split(',');
const SLICE_MS = 200;
const WARMUP_MS = 1000;
const REDIS_URL = process.env.STATELINE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.STATELINE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** A typical small session record. */
const VALUE = JSON.stringify({
  userId: 'u-123456',
  cart: [
    { sku: 'A-1', qty: 2 },
    { sku: 'B-7', qty: 1 },
  ],
  csrf: 'x'.repeat(43),
  seen: 1700000000000,
});
const TAG = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

const keys = Array.from({ length: CONCURRENCY }, (_, w) => `bench:${TAG}:k${w}`);

/** Stateline runners on keys created here; `update` tracks each key's version locally. */
async function statelineOps(store: Store): Promise<Record<Op, Runner>> {
  const versions = new Array<number>(CONCURRENCY).fill(1);
  for (const k of keys) {
    const r = await store.create(k, VALUE);
    if (!r.ok) throw new Error(`setup: ${k} already exists`);
  }
  return {
    get: async (w) => {
      if ((await store.get(keys[w]!)) === null)
        throw new Error('get returned null: the bench measures nothing');
    },
    update: async (w) => {
      const r = await store.update(keys[w]!, VALUE, { ifVersion: versions[w]! });
      if (!r.ok) throw new Error(`update failed: ${r.reason}`);
      versions[w] = r.version;
    },
  };
}

async function cleanup(store: Store): Promise<void> {
  for (const k of keys) await store.delete(k);
  await store.close();
}

/**
 * Redis. Raw keys hold records in the Store's layout (`<version>:<expiresAt>:<value>`), so the raw
 * `GET` returns what the Store's `get` reads and the raw CAS runs the Store's own script.
 */
async function redisBackend(): Promise<Backend> {
  const { createClient } = await import('redis');
  const prefix = `slbench:${TAG}:`;
  const store = await createStore({ type: 'redis', url: REDIS_URL, prefix });
  const sl = await statelineOps(store);
  const raw = createClient({ url: REDIS_URL });
  raw.on('error', () => {});
  await raw.connect();
  const rawKeys = keys.map((k) => `${prefix}raw:${k}`);
  const setKeys = keys.map((k) => `${prefix}rawset:${k}`);
  for (const k of rawKeys) await raw.set(k, `1::${VALUE}`);
  for (const k of setKeys) await raw.set(k, VALUE);
  const sha = await raw.scriptLoad(REDIS_UPDATE_LUA);
  const versions = new Array<number>(CONCURRENCY).fill(1);
  return {
    name: 'redis',
    comparisons: [
      {
        op: 'get',
        anchor: 'GET',
        target: true,
        stateline: sl.get,
        raw: async (w) => {
          if ((await raw.get(rawKeys[w]!)) === null) throw new Error('raw get returned null');
        },
      },
      {
        op: 'update',
        anchor: 'EVALSHA same CAS',
        target: true,
        stateline: sl.update,
        raw: async (w) => {
          const v = await raw.evalSha(sha, {
            keys: [rawKeys[w]!],
            // ARGV as the Store sends them: value, ifVersion, ttl ('' keeps), ifVersion + 1.
            arguments: [VALUE, String(versions[w]), '', String(versions[w]! + 1)],
          });
          if (typeof v !== 'number' || v <= 0) throw new Error(`raw CAS failed (${String(v)})`);
          versions[w] = v;
        },
      },
      {
        op: 'update',
        anchor: 'SET (not a CAS)',
        stateline: sl.update,
        raw: (w) => raw.set(setKeys[w]!, VALUE),
      },
    ],
    teardown: async () => {
      await raw.del([...rawKeys, ...setKeys]);
      await raw.close();
      await cleanup(store);
    },
  };
}

/**
 * memcached. Raw keys hold records in the Store's layout, so the raw `gets` returns what the
 * Store's `get` reads and the raw `gets` + `cas` does the Store's compare-and-set.
 */
async function memcachedBackend(): Promise<Backend> {
  const { default: Memcached } = await import('memcached');
  const mc = await benchMemcached();
  const prefix = `slbench:${TAG}:`;
  let store: Store;
  try {
    store = await createStore({ type: 'memcached', servers: [mc.server], prefix });
  } catch (err) {
    mc.stop();
    throw err;
  }
  const sl = await statelineOps(store);
  const raw = new Memcached(mc.server, { poolSize: 10, keyCompression: false, retries: 0 });
  const call = <T>(fn: (cb: (err: unknown, v: T) => void) => void) =>
    new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
  const rawKeys = keys.map((k) => `${prefix}raw:${k}`);
  const setKeys = keys.map((k) => `${prefix}rawset:${k}`);
  for (const k of rawKeys) await call((cb) => raw.set(k, `1::${VALUE}`, 0, cb));
  for (const k of setKeys) await call((cb) => raw.set(k, VALUE, 0, cb));
  const versions = new Array<number>(CONCURRENCY).fill(1);
  const gets = (k: string) =>
    call<{ [key: string]: unknown; cas: string } | undefined>((cb) => raw.gets(k, cb));
  return {
    name: 'memcached',
    comparisons: [
      {
        op: 'get',
        anchor: 'gets',
        stateline: sl.get,
        raw: async (w) => {
          if ((await gets(rawKeys[w]!)) === undefined) throw new Error('raw gets returned nothing');
        },
      },
      {
        op: 'update',
        anchor: 'gets + cas (same work)',
        stateline: sl.update,
        raw: async (w) => {
          const k = rawKeys[w]!;
          const got = await gets(k);
          if (!got) throw new Error('raw gets returned nothing');
          const item = String(got[k]);
          const version = Number(item.slice(0, item.indexOf(':')));
          if (version !== versions[w]) throw new Error('raw version moved');
          const ok = await call<boolean>((cb) => raw.cas(k, `${version + 1}::${VALUE}`, got.cas, 0, cb));
          if (!ok) throw new Error('raw cas failed');
          versions[w] = version + 1;
        },
      },
      {
        op: 'update',
        anchor: 'set (not a CAS)',
        stateline: sl.update,
        raw: (w) => call((cb) => raw.set(setKeys[w]!, VALUE, 0, cb)),
      },
    ],
    teardown: async () => {
      for (const k of [...rawKeys, ...setKeys]) await call((cb) => raw.del(k, cb));
      raw.end();
      await cleanup(store);
      mc.stop();
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const { default: pg } = await import('pg');
  const store = await createStore({ type: 'postgres', url: POSTGRES_URL });
  const sl = await statelineOps(store);
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 10 });
  pool.on('error', () => {});
  const table = `slbench_raw_${TAG.replace(/\W/g, '_')}`;
  await pool.query(`CREATE TABLE ${table} (key text PRIMARY KEY, value text NOT NULL)`);
  for (const k of keys) await pool.query(`INSERT INTO ${table} (key, value) VALUES ($1, $2)`, [k, VALUE]);
  const select = `SELECT value FROM ${table} WHERE key = $1`;
  const update = `UPDATE ${table} SET value = $2 WHERE key = $1`;
  return {
    name: 'postgres',
    comparisons: [
      {
        op: 'get',
        anchor: 'SELECT',
        stateline: sl.get,
        raw: async (w) => {
          if ((await pool.query(select, [keys[w]])).rowCount !== 1)
            throw new Error('raw select found nothing');
        },
      },
      {
        op: 'update',
        anchor: 'UPDATE',
        stateline: sl.update,
        raw: (w) => pool.query(update, [keys[w], VALUE]),
      },
    ],
    teardown: async () => {
      await pool.query(`DROP TABLE IF EXISTS ${table}`);
      await pool.end();
      await cleanup(store);
    },
  };
}

async function sqliteBackend(): Promise<Backend> {
  const { default: Database } = await import('better-sqlite3');
  const dir = mkdtempSync(join(os.tmpdir(), 'slbench-'));
  const store = await createStore({ type: 'sqlite', path: join(dir, 'stateline.db') });
  const sl = await statelineOps(store);
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  // The Store's schema, for the same-work compare-and-set.
  db.exec(
    'CREATE TABLE cas (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL, expires_at INTEGER)',
  );
  db.exec('CREATE INDEX cas_expiry ON cas (expires_at) WHERE expires_at IS NOT NULL');
  const insert = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?)');
  const insertCas = db.prepare('INSERT INTO cas (key, value, version) VALUES (?, ?, 1)');
  for (const k of keys) {
    insert.run(k, VALUE);
    insertCas.run(k, VALUE);
  }
  const select = db.prepare<[string], { value: string }>('SELECT value FROM kv WHERE key = ?');
  const selectRecord = db.prepare<[string, number], { value: string }>(
    'SELECT value, version, expires_at AS expiresAt FROM cas WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
  );
  const update = db.prepare('UPDATE kv SET value = ? WHERE key = ?');
  const cas = db.prepare<[string, string, number, number], { version: number }>(
    'UPDATE cas SET value = ?, version = version + 1 WHERE key = ? AND version = ? AND (expires_at IS NULL OR expires_at > ?) RETURNING version',
  );
  // SQLite skips writing a page whose bytes do not change, so a raw UPDATE of the same value
  // would write nothing; every Store update changes the row (its version). The raw UPDATE
  // therefore alternates between two values of the same length: each call really writes.
  const other = VALUE.replace('u-123456', 'u-654321');
  const flip = new Array<boolean>(CONCURRENCY).fill(false);
  const versions = new Array<number>(CONCURRENCY).fill(1);
  return {
    name: 'sqlite',
    comparisons: [
      {
        op: 'get',
        anchor: 'SELECT',
        stateline: sl.get,
        raw: async (w) => {
          if (select.get(keys[w]!) === undefined) throw new Error('raw select found nothing');
        },
      },
      {
        op: 'get',
        anchor: 'same SELECT',
        stateline: sl.get,
        raw: async (w) => {
          if (selectRecord.get(keys[w]!, Date.now()) === undefined)
            throw new Error('raw select found nothing');
        },
      },
      {
        op: 'update',
        anchor: 'UPDATE (row changes)',
        stateline: sl.update,
        raw: async (w) => {
          flip[w] = !flip[w];
          update.run(flip[w] ? other : VALUE, keys[w]!);
        },
      },
      {
        op: 'update',
        anchor: 'same CAS UPDATE',
        stateline: sl.update,
        raw: async (w) => {
          const row = cas.get(VALUE, keys[w]!, versions[w]!, Date.now());
          if (!row) throw new Error('raw CAS failed');
          versions[w] = row.version;
        },
      },
    ],
    teardown: async () => {
      db.close();
      await cleanup(store);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function memoryBackend(): Promise<Backend> {
  const store = await createStore({ type: 'memory' });
  const sl = await statelineOps(store);
  return {
    name: 'memory',
    comparisons: [
      { op: 'get', anchor: '—', stateline: sl.get },
      { op: 'update', anchor: '—', stateline: sl.update },
    ],
    teardown: () => cleanup(store),
  };
}

/** Runs `run` on every worker for `ms`; returns calls completed and the real elapsed time. */
async function slice(run: Runner, ms: number): Promise<{ count: number; elapsed: number }> {
  let count = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (performance.now() < end) {
        await run(w);
        count++;
      }
    }),
  );
  return { count, elapsed: performance.now() - start };
}

/** The q-quantile (0…1) of `xs`, linearly interpolated. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((x, y) => x - y);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

interface Measured {
  /** Calls per second over all of this side's slices. */
  stateline: number;
  raw?: number;
  /** Median of the per-pair ratios (a pair = two adjacent slices): robust to bursts of foreign load. */
  ratio?: number;
  /** Interquartile range of the per-pair ratios: how noisy the machine was. */
  spread?: [number, number];
}

/**
 * Runs both sides in short alternating slices (order flipped every pair) after a warm-up. The
 * machine is shared, so the ratio is the median of adjacent-pair ratios rather than the quotient of
 * the totals: a burst of foreign load then spoils one pair, not one side.
 */
async function compare(a: Runner, b: Runner | undefined): Promise<Measured> {
  await slice(a, WARMUP_MS);
  if (b) await slice(b, WARMUP_MS);
  const sides = {
    a: { count: 0, elapsed: 0, rates: [] as number[] },
    b: { count: 0, elapsed: 0, rates: [] as number[] },
  };
  const run = async (side: 'a' | 'b', runner: Runner) => {
    const r = await slice(runner, SLICE_MS);
    const t = sides[side];
    t.count += r.count;
    t.elapsed += r.elapsed;
    t.rates.push((r.count * 1000) / r.elapsed);
  };
  const pairs = Math.max(1, Math.round(DURATION / SLICE_MS));
  for (let i = 0; i < pairs; i++) {
    if (!b) await run('a', a);
    else if (i % 2) await run('b', b).then(() => run('a', a));
    else await run('a', a).then(() => run('b', b));
  }
  const total = (t: { count: number; elapsed: number }) => (t.count * 1000) / t.elapsed;
  if (!b) return { stateline: total(sides.a) };
  const ratios = sides.a.rates.map((x, i) => x / sides.b.rates[i]!);
  return {
    stateline: total(sides.a),
    raw: total(sides.b),
    ratio: quantile(ratios, 0.5),
    spread: [quantile(ratios, 0.25), quantile(ratios, 0.75)],
  };
}

const fmt = (n: number | undefined) => (n === undefined ? '—' : Math.round(n).toLocaleString('en-US'));

function table(rows: Row[]): string {
  const lines = [
    '| backend | op | raw anchor | stateline ops/s | raw ops/s | ratio (stateline/raw) | overhead (1 − ratio) | pair ratios p25–p75 | target |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${r.backend} | ${r.op} | ${r.anchor} | skipped: ${r.skipped} | | | | | |`);
      continue;
    }
    const ratio = r.ratio;
    const overhead = ratio === undefined ? '—' : `${((1 - ratio) * 100).toFixed(1)} %`;
    lines.push(
      `| ${r.backend} | ${r.op} | ${r.anchor} | ${fmt(r.stateline)} | ${fmt(r.raw)} | ${ratio === undefined ? '— (no anchor)' : ratio.toFixed(2)} | ${overhead} | ${r.spread ? r.spread.map((x) => x.toFixed(2)).join('–') : '—'} | ${verdict(r)} |`,
    );
  }
  return lines.join('\n');
}

/** PASS/FAIL for target rows, `info` for the rest. */
function verdict(r: Row): string {
  if (!r.target) return r.ratio === undefined ? '' : 'info';
  if (r.ratio === undefined) return 'FAIL (not measured)';
  return r.ratio >= TARGET ? 'PASS' : 'FAIL';
}

const BACKENDS: Record<string, () => Promise<Backend>> = {
  redis: redisBackend,
  memcached: memcachedBackend,
  postgres: postgresBackend,
  sqlite: sqliteBackend,
  memory: memoryBackend,
};

async function main(): Promise<void> {
  const cpus = os.cpus();
  console.log(
    `store bench: ${CONCURRENCY} in flight, ${DURATION} ms per side per row (${SLICE_MS} ms alternating slices), warm-up ${WARMUP_MS} ms`,
  );
  console.log(
    `machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown cpu'}, node ${process.version}, ${os.platform()} ${os.release()}`,
  );
  const rows: Row[] = [];
  for (const name of Object.keys(BACKENDS).filter((n) => ONLY.includes(n))) {
    let backend: Backend;
    try {
      backend = await BACKENDS[name]!();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      console.log(`${name}: skipped: ${reason}`);
      rows.push(
        { backend: name, op: 'get', anchor: '—', target: name === 'redis', skipped: reason },
        { backend: name, op: 'update', anchor: '—', target: name === 'redis', skipped: reason },
      );
      continue;
    }
    try {
      for (const c of backend.comparisons) {
        const m = await compare(c.stateline, c.raw);
        rows.push({ backend: backend.name, op: c.op, anchor: c.anchor, target: c.target, ...m });
        const vs =
          m.ratio === undefined ? '' : `, raw ${c.anchor} ${fmt(m.raw)} ops/s (ratio ${m.ratio.toFixed(2)})`;
        console.log(`${backend.name} ${c.op}: stateline ${fmt(m.stateline)} ops/s${vs}`);
      }
    } finally {
      await backend.teardown();
    }
  }
  console.log(`\n${table(rows)}`);
  const targets = rows.filter((r) => r.target);
  if (targets.length) {
    console.log(
      `\nredis target (ratio stateline/raw >= ${TARGET}, the Store at most 15 % over the raw client):`,
    );
    for (const r of targets) {
      const ratio = r.ratio === undefined ? (r.skipped ?? 'not measured') : r.ratio.toFixed(2);
      console.log(`  ${verdict(r).padEnd(4)} redis ${r.op} vs ${r.anchor}: ${ratio}`);
    }
    const info = rows.find((r) => r.backend === 'redis' && r.anchor.startsWith('SET'));
    if (info?.ratio !== undefined) {
      console.log(
        `  info redis update vs plain SET: ${info.ratio.toFixed(2)} (a compare-and-set must read and compare the version on the server before writing; a blind SET cannot be a CAS)`,
      );
    }
  }
}

await main();
