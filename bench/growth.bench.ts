/**
 * `npm run bench -- growth [--items 1,10,50,100] [--connections 50] [--warmup 1] [--slices 2] [--slice 1.5]
 *   [--workloads read,hit] [--only <row>]… [--profile]`
 *
 * How each session strategy's cost grows with the state it carries. Per cart size (a cart of
 * `items` lines shaped like apps/shop/src/cart.ts's, put in each session by its first hit), every
 * row's Express server (bench/servers/session-server.ts, the same children as `npm run bench --
 * sessions`) is up at once: Stateline `server`, `hybrid`, `token` (defaults) and `token` with
 * `compress: true`, express-session + connect-redis, iron-session. Load (the lean loader, one
 * session per connection, each connection's counter checked) goes to one row at a time in slices
 * of `--slice` seconds, the rows taking turns and every other turn in reverse order, so a drift of
 * the shared machine falls on every row alike (paired slices). Per row and workload: req/s, server
 * CPU µs per request, the shared Redis's CPU µs per request (the slice's Redis CPU, whoever caused it,
 * over its requests: Redis shares the cores with the server), the Cookie bytes a request carries and the Set-Cookie bytes an answer
 * carries, and the Redis bytes per session (`MEMORY USAGE` of every key under the row's prefix,
 * divided by the sessions). A row whose answers fail (e.g. 500 `SL_ERR_SESSION_TOO_LARGE`) or
 * whose connections lose their session is marked with the first failure. `--profile` runs the
 * children under `--cpu-prof` and prints, per cart size and row, where the measured slices' CPU
 * went (e.g. `--only stateline-server --workloads hit --items 1,100` to see what a bigger record costs).
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { summarizeProfile } from './servers/cpu-profile.js';
import { RedisAdmin } from './servers/redis-admin.js';
import {
  Jar,
  children,
  loadLean,
  startChild,
  statsOf,
  stopChild,
  type Workload,
} from './servers/session-harness.js';
import type { ChildProcess } from 'node:child_process';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '1,10,50,100' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '1' },
    slices: { type: 'string', default: '2' },
    slice: { type: 'string', default: '1.5' },
    workloads: { type: 'string', default: 'read,hit' },
    only: { type: 'string', multiple: true },
    profile: { type: 'boolean', default: false },
  },
});
const SIZES = args.items.split(',').map(Number);
const CONNECTIONS = Number(args.connections);
const WARMUP = Number(args.warmup);
const SLICES = Number(args.slices);
const SLICE = Number(args.slice);
const WORKLOADS = args.workloads.split(',') as Workload[];
if (
  !SIZES.every((n) => Number.isInteger(n) && n >= 0) ||
  !(CONNECTIONS > 0 && WARMUP >= 0 && Number.isInteger(SLICES) && SLICES > 0 && SLICE > 0) ||
  !WORKLOADS.every((w) => w === 'read' || w === 'hit')
)
  throw new Error('--items, --connections, --warmup, --slices, --slice or --workloads is not valid');

interface GrowthRow {
  name: string;
  label: string;
  redis: boolean;
}
const ALL_ROWS: GrowthRow[] = [
  { name: 'express+stateline-server', label: 'Stateline server/redis', redis: true },
  { name: 'express+stateline-hybrid', label: 'Stateline hybrid/redis', redis: true },
  { name: 'express+stateline-token', label: 'Stateline token', redis: true },
  { name: 'express+stateline-token-zip', label: 'Stateline token, compress', redis: true },
  { name: 'express+express-session', label: 'express-session+connect-redis', redis: true },
  { name: 'express+iron-session', label: 'iron-session', redis: false },
];
const only = args.only ?? [];
const ROWS = ALL_ROWS.filter((r) => only.length === 0 || only.some((o) => r.name.includes(o)));

const RUN_PREFIX = `slgrowth:${Date.now().toString(36)}-${process.pid}:`;
const fmt = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

interface Tally {
  answers: number;
  /** req/s of each slice, in turn order: slice i of two rows ran back to back (a pair). */
  perSlice: number[];
  requests: number;
  seconds: number;
  serverMicros: number;
  /** The shared Redis's CPU during the slices (µs): its own work for this row plus anyone else's. */
  redisMicros: number;
  errors: number;
  firstError?: string;
  cookieBytes: number;
  setCookieBytes: number;
  responses: number;
}
const tally = (): Tally => ({
  answers: 0,
  perSlice: [],
  requests: 0,
  seconds: 0,
  serverMicros: 0,
  redisMicros: 0,
  errors: 0,
  cookieBytes: 0,
  setCookieBytes: 0,
  responses: 0,
});

interface Side {
  row: GrowthRow;
  prefix: string;
  child: ChildProcess;
  port: number;
  jars: Jar[];
  by: Map<Workload, Tally>;
  storeBytes: number | null;
  /** `--profile`: where the child writes its profile, and the measured slices on its clock. */
  profileDir?: string;
  window: { from: number; to: number };
}

interface Result {
  items: number;
  row: GrowthRow;
  workload: Workload;
  rps: number;
  perSlice: number[];
  serverUs: number;
  redisUs: number | null;
  cookieUp: number;
  setCookieDown: number;
  storeBytes: number | null;
  problem: string;
}

async function slice(side: Side, workload: Workload, redis: RedisAdmin): Promise<number> {
  const t = side.by.get(workload)!;
  const before = (await statsOf(side.child)).cpuMicros;
  const redisBefore = side.row.redis ? await redis.cpuSeconds() : 0;
  const bytes = sumBytes(side.jars);
  for (const jar of side.jars) jar.fresh = true;
  const r = await loadLean(side.port, workload, SLICE, side.jars, true);
  t.serverMicros += (await statsOf(side.child)).cpuMicros - before;
  if (side.row.redis) t.redisMicros += ((await redis.cpuSeconds()) - redisBefore) * 1e6;
  const after = sumBytes(side.jars);
  t.cookieBytes += after.cookie - bytes.cookie;
  t.setCookieBytes += after.setCookie - bytes.setCookie;
  t.responses += after.responses - bytes.responses;
  t.answers += r.rps * SLICE;
  t.perSlice.push(r.rps);
  t.requests += r.requests;
  t.seconds += SLICE;
  t.errors += r.errors;
  t.firstError ??= r.firstError;
  return r.rps;
}

function sumBytes(jars: Jar[]): { cookie: number; setCookie: number; responses: number } {
  let cookie = 0;
  let setCookie = 0;
  let responses = 0;
  for (const j of jars) {
    cookie += j.cookieBytes;
    setCookie += j.setCookieBytes;
    responses += j.responses;
  }
  return { cookie, setCookie, responses };
}

async function runSize(items: number, redis: RedisAdmin): Promise<Result[]> {
  const sides: Side[] = [];
  try {
    for (const row of ROWS) {
      const prefix = `${RUN_PREFIX}${items}:${row.name.replace(/[^\w-]/g, '_')}:`;
      const profileDir = args.profile ? mkdtempSync(join(tmpdir(), 'slgrowth-prof-')) : undefined;
      const { child, port } = await startChild(row, prefix, profileDir, [String(items)]);
      const jars = Array.from({ length: CONNECTIONS }, () => new Jar());
      sides.push({
        row,
        prefix,
        child,
        port,
        jars,
        by: new Map(WORKLOADS.map((w) => [w, tally()])),
        storeBytes: null,
        ...(profileDir ? { profileDir } : {}),
        window: { from: 0, to: Infinity },
      });
    }
    for (const side of sides) {
      if (WARMUP > 0) {
        for (const jar of side.jars) jar.fresh = true;
        await loadLean(side.port, 'hit', WARMUP, side.jars, true);
      }
      if (side.row.redis) side.storeBytes = (await redis.bytesUnder(side.prefix)).bytes / CONNECTIONS;
      side.window.from = (await statsOf(side.child)).clockMicros;
    }
    for (const workload of WORKLOADS) {
      for (let i = 0; i < SLICES; i++) {
        for (const side of i % 2 ? [...sides].reverse() : sides) await slice(side, workload, redis);
      }
    }
    const stats = await Promise.all(sides.map((s) => statsOf(s.child)));
    sides.forEach((side, k) => (side.window.to = stats[k]!.clockMicros));
    return sides.flatMap((side, k) =>
      WORKLOADS.map((workload): Result => {
        const t = side.by.get(workload)!;
        const s = stats[k]!;
        const bad = side.jars.filter((j) => j.anomalies > 0);
        const problems = [
          t.errors > 0 ? `${t.errors} failed answers${t.firstError ? ` (${t.firstError})` : ''}` : '',
          s.readMisses > 0 ? `${s.readMisses} reads without a session` : '',
          bad.length > 0 ? `${bad.length} connections misbehaved (first: ${bad[0]!.firstAnomaly})` : '',
        ].filter(Boolean);
        return {
          items,
          row: side.row,
          workload,
          rps: t.answers / t.seconds,
          perSlice: t.perSlice,
          serverUs: t.serverMicros / Math.max(1, t.requests),
          redisUs: side.row.redis ? t.redisMicros / Math.max(1, t.requests) : null,
          cookieUp: t.cookieBytes / Math.max(1, t.responses),
          setCookieDown: t.setCookieBytes / Math.max(1, t.responses),
          storeBytes: side.storeBytes,
          problem: problems.join('; '),
        };
      }),
    );
  } finally {
    await Promise.all(sides.map((s) => stopChild(s.child)));
    for (const side of sides) if (side.profileDir) printProfile(items, side);
  }
}

/** `--profile`: the main thread's profile of one side, cut to its measured slices (other rows' turns show as idle). */
function printProfile(items: number, side: Side): void {
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader has its own).
  const file = readdirSync(side.profileDir!).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (!file) {
    console.log(`${items} items ${side.row.name}: no profile written in ${side.profileDir!}`);
    return;
  }
  const s = summarizeProfile(join(side.profileDir!, file), 25, side.window);
  const lines = [
    `${items} items ${side.row.name}: cpu profile ${join(side.profileDir!, file)}: busy ${(s.busyMs / 1000).toFixed(1)} s`,
    '  self time by owner:',
    ...s.owners.map((o) => `    ${o.pct.toFixed(1).padStart(5)}%  ${o.name}`),
    '  top functions by self time:',
    ...s.functions.map((f) => `    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}`),
    '  library functions by inclusive time (with what they call):',
    ...s.inclusive.map((f) => `    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}`),
  ];
  console.log(lines.join('\n'));
}

const redis = await RedisAdmin.open();
let cleaned: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    await Promise.all([...children].map((c) => stopChild(c)));
    const n = await redis.deleteKeysUnder(RUN_PREFIX);
    console.log(`redis: deleted ${n} keys under ${RUN_PREFIX}`);
    await redis.close();
  })();
  return cleaned;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));
}

const started = Date.now();
console.log(
  `growth bench: cart sizes ${SIZES.join(', ')}; ${ROWS.length} Express rows up at once per size, ${CONNECTIONS} connections (one session each), ` +
    `${SLICES} slices of ${SLICE} s per row and workload, rows taking turns; node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()[0]!.toFixed(1)}`,
);
const results: Result[] = [];
try {
  for (const items of SIZES) {
    const r = await runSize(items, redis);
    results.push(...r);
    for (const x of r)
      console.log(
        `${String(items).padStart(3)} items ${x.row.name.padEnd(28)} ${x.workload.padEnd(4)} ${fmt(x.rps, 0).padStart(6)} req/s ${fmt(x.serverUs, 0).padStart(4)} µs/req${x.redisUs === null ? '' : ` redis ${fmt(x.redisUs, 0)} µs/req`}${x.problem ? ` | ${x.problem}` : ''}`,
      );
  }
} finally {
  await cleanup();
}

const find = (items: number, name: string, w: Workload) =>
  results.find((r) => r.items === items && r.row.name === name && r.workload === w);
const lines = [
  '| items | row | workload | req/s | server CPU µs/req | Redis CPU µs/req | Cookie bytes/request | Set-Cookie bytes/answer | Redis bytes/session | notes |',
  '|---:|---|---|---:|---:|---:|---:|---:|---:|---|',
];
for (const items of SIZES)
  for (const workload of WORKLOADS)
    for (const row of ROWS) {
      const x = find(items, row.name, workload);
      if (!x) continue;
      lines.push(
        `| ${items} | ${row.label} | ${workload} | ${x.problem ? '—' : fmt(x.rps, 0)} | ${fmt(x.serverUs, 0)} | ${x.redisUs === null ? '-' : fmt(x.redisUs, 0)} | ${fmt(x.cookieUp, 0)} | ${fmt(x.setCookieDown, 0)} | ${x.storeBytes === null ? '-' : fmt(x.storeBytes, 0)} | ${x.problem || ''} |`,
      );
    }
console.log(`\n${lines.join('\n')}\n`);

/** `a` over `b` on `workload` at `items`, or why there is no figure. */
function ratio(items: number, a: string, b: string, workload: Workload): { value: number; text: string } {
  const x = find(items, a, workload);
  const y = find(items, b, workload);
  if (!x || !y) return { value: NaN, text: 'not run' };
  if (x.problem || y.problem)
    return {
      value: NaN,
      text: `n/a (${x.problem ? x.row.label : y.row.label} failed: ${x.problem || y.problem})`,
    };
  // Slice i of each row ran in the same turn, next to each other: a drift of the machine between
  // turns moves both sides of a pair, so the pairs' spread shows how steady the run was.
  const pairs = x.perSlice.map((v, i) => v / y.perSlice[i]!).sort((p, q) => p - q);
  const median =
    pairs.length % 2
      ? pairs[pairs.length >> 1]!
      : (pairs[pairs.length / 2 - 1]! + pairs[pairs.length / 2]!) / 2;
  return {
    value: x.rps / y.rps,
    text:
      `${fmt(x.rps / y.rps, 2)}× (CPU per request ${fmt(y.serverUs / x.serverUs, 2)}× lower; ` +
      `slice pairs ${fmt(pairs[0]!, 2)}–${fmt(pairs[pairs.length - 1]!, 2)}, median ${fmt(median, 2)})`,
  };
}
console.log('ratios per cart size:');
for (const items of SIZES) {
  const tok = ratio(items, 'express+stateline-token', 'express+iron-session', 'read');
  const zip = ratio(items, 'express+stateline-token-zip', 'express+iron-session', 'read');
  const srv = ratio(items, 'express+stateline-server', 'express+express-session', 'hit');
  console.log(
    `  ${items} items: token read vs iron-session ${tok.text}; token+compress read vs iron-session ${zip.text}; server hit vs express-session ${srv.text}`,
  );
}
const targets = [
  { items: 50, a: 'express+stateline-token', b: 'express+iron-session', w: 'read' as const, min: 2.5 },
  { items: 100, a: 'express+stateline-server', b: 'express+express-session', w: 'hit' as const, min: 2 },
];
console.log('targets (issue #20):');
for (const t of targets) {
  if (!SIZES.includes(t.items)) continue;
  const r = ratio(t.items, t.a, t.b, t.w);
  console.log(
    `  ${r.value >= t.min ? 'PASS' : 'FAIL'} ${t.w} at ${t.items} items: ${t.a} ≥ ${t.min}× ${t.b}: ${r.text}`,
  );
}
console.log(
  `\nload average at the end: ${loadavg()[0]!.toFixed(1)}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
);
process.exit(0);
