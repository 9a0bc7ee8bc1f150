/**
 * `npm run bench -- sessions [--duration 5] [--connections 50] [--warmup 1] [--rounds 1] [--slices 8] [--slice 2.5] [--skip-pairs] [--pairs-only] [--only <row>]…
 *   [--workloads read,hit] [--loader lean|autocannon] [--profile] [--drop-cookies] [--baseline <dir>]`
 *
 * `--baseline <dir>` (another checkout of this repository, built) measures each selected row as a
 * pair against the same row served by that checkout's library, and passes a row at ≥ 0.97× it:
 * how a change of the library is held to "no more than 3 % slower" on a shared machine.
 *
 * Every row's server runs in its own child process (bench/servers/session-server.ts); the loader
 * runs in this process: by default the lean one (bench/servers/http-loader.ts, closed loop on raw
 * node:net sockets, a prebuilt request per connection), or autocannon with `--loader autocannon`
 * (it costs about twice the CPU per request, so on the fast rows it, not the server, was the
 * bottleneck). Each connection is its own client with its own cookie jar: the
 * Set-Cookie of its responses is sent back on its next requests, so 50 connections are 50
 * sessions. A warm-up of `GET /hit` creates them, then `GET /read` and `GET /hit` are measured.
 * Each row is checked: the server counts how many sessions it created (must be one per
 * connection) and each connection checks its counter goes up by one per hit; a row that loses
 * sessions is reported BROKEN (`--drop-cookies` proves it: no cookie goes back, every session row
 * must come out BROKEN). `--profile` runs the children under `--cpu-prof` and prints where
 * their time went. The cores are shared: `--rounds N` runs every row N times, every other round
 * in reverse order, and the table keeps each row's best round. The targets are then measured as
 * pairs (`runPair`): both servers up at once, load alternating between them in `--slice`-second
 * slices, A B B A …, so a drift of the shared machine falls on both sides alike (targets in
 * rows.ts; the pairs against a bare framework, issue #20, print RECORDED when they have no
 * minimum). Two Express rows are floors, not sessions: the same two Redis round trips as a
 * session hit with no session layer (`floor-redis`: a GET and an INCR with raw node-redis;
 * `floor-store`: Stateline's Store, a GET and its compare-and-set), paired with bare Express to
 * show what the session row can reach. `--only`
 * matches a substring of a row's name (bench/servers/rows.ts) or of its label in kebab case
 * (`--only bare-fastify` is the bare fastify row alone, `--only fastify` every fastify row).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { summarizeProfile } from './servers/cpu-profile.js';
import { benchMemcached } from './servers/memcached-admin.js';
import { RedisAdmin } from './servers/redis-admin.js';
import {
  HITS,
  Jar,
  children,
  loadLean,
  machineBusyMicros,
  startChild,
  statsOf,
  stopChild,
  type LoadResult,
  type Workload,
} from './servers/session-harness.js';
import { ROWS, TARGETS, type Row, type ServerStats, type Target } from './servers/rows.js';

// autocannon ships no types; the part used here.
interface AcRequestData {
  headers: Record<string, string>;
  [key: string]: unknown;
}
interface AcRequest {
  method: 'GET';
  path: string;
  setupRequest: (req: AcRequestData, context: object) => AcRequestData;
  onResponse: (
    status: number,
    body: string,
    context: object,
    headers: Record<string, string | string[]>,
  ) => void;
}
interface AcClient {
  setRequests(requests: AcRequest[]): void;
}
interface AcResult {
  duration: number;
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
interface AcInstance extends PromiseLike<AcResult> {
  on(
    event: 'response',
    listener: (client: AcClient, status: number, bytes: number, ms: number) => void,
  ): void;
  stop(): void;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  pipelining: number;
  setupClient: (client: AcClient) => void;
}) => AcInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface Measured {
  row: Row;
  workload: Workload;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Answers received (any status). */
  requests: number;
  /** Server CPU time per answer in µs: what the row costs, whatever else the shared machine was doing. */
  serverUs: number;
  /** CPU used during the run as a share of one core (1 = a whole core): the loader (this process), the server child, Redis. */
  cpu: { loader: number; server: number; redis: number | null; machine: number | null };
}

interface RowOutcome {
  row: Row;
  results: Measured[];
  /** Empty when the row kept every session (or has none to keep). */
  broken: string[];
  sessionsNote: string;
  profile?: string;
}

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '1' },
    only: { type: 'string', multiple: true },
    // Measured workloads, in order (the warm-up always creates the sessions with /hit first).
    workloads: { type: 'string', default: 'read,hit' },
    // Runs every row this many times (fresh server, fresh sessions) and keeps each row's best run: the cores are shared.
    rounds: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    // The targets: each pair of rows kept up side by side, load alternating between them in slices.
    slices: { type: 'string', default: '8' },
    slice: { type: 'string', default: '2.5' },
    'skip-pairs': { type: 'boolean', default: false },
    'pairs-only': { type: 'boolean', default: false },
    // What loads the servers: the lean closed-loop loader (bench/servers/http-loader.ts) or autocannon.
    loader: { type: 'string', default: 'lean' },
    // Self-check of the session check: never send cookies back, so every session row must come out BROKEN.
    'drop-cookies': { type: 'boolean', default: false },
    // Another checkout (built, with its node_modules): each selected row is measured as a pair against the same row there.
    baseline: { type: 'string' },
  },
});
const DROP_COOKIES = args['drop-cookies'];
const LOADER = args.loader;
if (LOADER !== 'lean' && LOADER !== 'autocannon')
  throw new Error(`--loader takes lean or autocannon (got ${LOADER})`);
const LOADER_NOTE =
  LOADER === 'lean'
    ? 'lean (bench/servers/http-loader.ts, raw node:net, closed loop)'
    : 'autocannon (closed loop, pipelining 1)';
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const WARMUP = Number(args.warmup);
const ROUNDS = Number(args.rounds);
if (!(DURATION > 0 && CONNECTIONS > 0 && WARMUP >= 0 && Number.isInteger(ROUNDS) && ROUNDS > 0)) {
  throw new Error('--duration, --connections, --warmup and --rounds must be positive numbers');
}
const SLICES = Number(args.slices);
const SLICE = Number(args.slice);
if (!(Number.isInteger(SLICES) && SLICES > 0 && SLICE > 0))
  throw new Error('--slices must be a positive integer and --slice a positive number of seconds');
const CORES = cpus().length;
const WORKLOADS = args.workloads.split(',').map((w) => {
  if (w !== 'read' && w !== 'hit') throw new Error(`--workloads takes read and/or hit (got ${w})`);
  return w;
});
const only = args.only ?? [];
const kebab = (label: string) => label.toLowerCase().replaceAll(' ', '-');
const rows = ROWS.filter(
  (r) => only.length === 0 || only.some((o) => r.name.includes(o) || kebab(r.label).includes(o)),
);
if (rows.length === 0)
  throw new Error(`no row matches ${only.join(', ')}; rows: ${ROWS.map((r) => r.name).join(', ')}`);

const BASELINE = args.baseline;
/** The baseline checkout's session server: `--baseline` compares each row with itself there, as pairs. */
const BASELINE_SERVER =
  BASELINE === undefined ? undefined : join(resolve(BASELINE), 'bench/servers/session-server.ts');
if (BASELINE_SERVER && !existsSync(BASELINE_SERVER))
  throw new Error(
    `--baseline ${BASELINE}: no bench/servers/session-server.ts there (a checkout of this repository, built)`,
  );

const RUN_PREFIX = `slbench:${Date.now().toString(36)}-${process.pid}:`;

function load(
  port: number,
  workload: Workload,
  seconds: number,
  jars: Jar[],
  session: boolean,
): Promise<LoadResult> {
  for (const jar of jars) jar.fresh = true;
  return LOADER === 'lean'
    ? loadLean(port, workload, seconds, jars, session, DROP_COOKIES)
    : loadAutocannon(port, workload, seconds, jars, session);
}

async function loadAutocannon(
  port: number,
  workload: Workload,
  seconds: number,
  jars: Jar[],
  session: boolean,
): Promise<LoadResult> {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let next = 0;
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: jars.length,
    duration: seconds,
    pipelining: 1,
    // Called once per connection: each gets its own jar (the same one in every run of this row).
    setupClient(client) {
      const jar = jars[next++ % jars.length]!;
      client.setRequests([
        {
          method: 'GET',
          path: `/${workload}`,
          setupRequest: (req) => ({
            ...req,
            headers: jar.header && !DROP_COOKIES ? { ...req.headers, cookie: jar.header } : req.headers,
          }),
          onResponse: (status, body, _context, headers) => {
            jar.absorb(headers);
            if (!session) return;
            const m = HITS.exec(body);
            jar.check(workload, status, m ? Number(m[1]) : undefined);
          },
        },
      ]);
    },
  });
  instance.on('response', (_client, _status, _bytes, ms) =>
    histogram.recordValue(Math.max(1, Math.round(ms * 1000))),
  );
  const result = await instance;
  const out = {
    rps: result['2xx'] / result.duration,
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    errors: result.non2xx + result.errors + result.timeouts,
    requests: result['2xx'] + result.non2xx,
  };
  histogram.destroy();
  return out;
}

/** What went wrong in a row's runs (empty when nothing did) and how many sessions it kept. */
function verdict(
  row: Row,
  jars: Jar[],
  stats: ServerStats,
  results: { errors: number }[],
  firstError: string | undefined,
): { broken: string[]; sessionsNote: string } {
  const broken: string[] = [];
  let sessionsNote = 'no session (bare framework)';
  if (row.session) {
    const kept = jars.filter((j) => j.responses > 0 && j.anomalies === 0).length;
    sessionsNote = `sessions: ${kept === CONNECTIONS && stats.created === CONNECTIONS ? CONNECTIONS : `${kept} of ${CONNECTIONS} kept`} (server created ${stats.created}, read misses ${stats.readMisses})`;
    if (stats.created !== CONNECTIONS)
      broken.push(`the server created ${stats.created} sessions for ${CONNECTIONS} connections`);
    if (stats.readMisses > 0) broken.push(`${stats.readMisses} reads came without a session`);
    const bad = jars.filter((j) => j.anomalies > 0);
    if (bad.length > 0)
      broken.push(`${bad.length} connections saw their counter misbehave (first: ${bad[0]!.firstAnomaly})`);
  }
  const errors = results.reduce((n, r) => n + r.errors, 0);
  if (errors > 0)
    broken.push(
      `${errors} non-2xx answers, socket errors or timeouts${firstError ? ` (first: ${firstError})` : ''}`,
    );
  return { broken, sessionsNote };
}

/** The Redis key prefix of one server child (every key under RUN_PREFIX is deleted at the end). */
function rowPrefix(tag: string, row: Row): string {
  return `${RUN_PREFIX}${tag}:${row.name.replace(/[^\w-]/g, '_')}:`;
}

async function runRow(row: Row, round: number): Promise<RowOutcome> {
  const prefix = rowPrefix(String(round), row);
  const profileDir = args.profile ? mkdtempSync(join(tmpdir(), 'slbench-prof-')) : undefined;
  const { child, port } = await startChild(row, prefix, profileDir);
  const jars = Array.from({ length: CONNECTIONS }, () => new Jar());
  const results: Measured[] = [];
  let firstError: string | undefined;
  let stats: ServerStats;
  /** The measured runs on the server's clock, to cut its profile to them. */
  const window = { from: 0, to: Infinity };
  try {
    // Warm-up: creates one session per connection and lets the JIT settle.
    if (WARMUP > 0) await load(port, 'hit', WARMUP, jars, row.session);
    stats = await statsOf(child);
    window.from = stats.clockMicros;
    for (const workload of WORKLOADS) {
      const before = {
        wall: performance.now(),
        loader: process.cpuUsage(),
        server: stats.cpuMicros,
        redis: row.redis ? await redis!.cpuSeconds() : 0,
        machine: machineBusyMicros(),
      };
      const { firstError: error, ...measured } = await load(port, workload, DURATION, jars, row.session);
      firstError ??= error;
      const wall = (performance.now() - before.wall) * 1000;
      const loader = process.cpuUsage(before.loader);
      const machine = machineBusyMicros();
      stats = await statsOf(child);
      const cpu = {
        loader: (loader.user + loader.system) / wall,
        server: (stats.cpuMicros - before.server) / wall,
        redis: row.redis ? (((await redis!.cpuSeconds()) - before.redis) * 1e6) / wall : null,
        machine: machine === null || before.machine === null ? null : (machine - before.machine) / wall,
      };
      const serverUs = (stats.cpuMicros - before.server) / Math.max(1, measured.requests);
      results.push({ row, workload, ...measured, serverUs, cpu });
    }
    window.to = stats.clockMicros;
  } finally {
    await stopChild(child);
  }
  const { broken, sessionsNote } = verdict(row, jars, stats, results, firstError);
  let profile: string | undefined;
  if (profileDir) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader has its own).
    const file = readdirSync(profileDir).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    profile = file ? formatProfile(join(profileDir, file), window) : `no profile written in ${profileDir}`;
  }
  return { row, results, broken, sessionsNote, ...(profile ? { profile } : {}) };
}

function formatProfile(file: string, window: { from: number; to: number }): string {
  const s = summarizeProfile(file, 25, window);
  const lines = [
    `cpu profile ${file}: busy ${(s.busyMs / 1000).toFixed(1)} s, idle ${(s.idleMs / 1000).toFixed(1)} s`,
    '  self time by owner:',
  ];
  for (const o of s.owners) lines.push(`    ${o.pct.toFixed(1).padStart(5)}%  ${o.name}`);
  lines.push('  top functions by self time:');
  for (const f of s.functions) lines.push(`    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}`);
  lines.push('  library functions by inclusive time (with what they call):');
  for (const f of s.inclusive) lines.push(`    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}`);
  return lines.join('\n');
}

const fmt = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/**
 * What limited a run. A process at ~100 % of a core is the limit. When none is, the requests
 * waited for something else: for a core, when the machine's cores were all busy (this bench's
 * three processes plus everyone else's work on the shared machine), or else for Redis round trips.
 */
function bottleneck(m: Measured): string {
  const { loader, server, redis, machine } = m.cpu;
  if (server >= 0.9) return 'server CPU';
  if (loader >= 0.9) return 'loader CPU';
  if (redis !== null && redis >= 0.9) return 'Redis CPU';
  if (machine !== null && machine >= 0.9 * CORES) return 'shared cores (machine saturated)';
  return m.row.redis ? 'store round trips' : 'none saturated';
}

const pct = (x: number | null) => (x === null ? '-' : `${Math.round(x * 100)}`);
const others = (c: Measured['cpu']) =>
  c.machine === null ? null : Math.max(0, c.machine - c.loader - c.server - (c.redis ?? 0));
const cpuCell = (c: Measured['cpu']) => `${pct(c.loader)}/${pct(c.server)}/${pct(c.redis)}/${pct(others(c))}`;

function table(outcomes: RowOutcome[]): string {
  const all = outcomes.flatMap((o) => o.results);
  const find = (name: string, w: Workload) => all.find((m) => m.row.name === name && m.workload === w);
  const lines = [
    `| framework | row | workload | req/s | p50 ms | p99 ms | ratio vs anchor | server CPU µs/req | CPU % loader (${LOADER})/server/redis/others | bottleneck |`,
    '|---|---|---|---:|---:|---:|---|---:|---|---|',
  ];
  for (const workload of WORKLOADS) {
    for (const o of outcomes) {
      const m = o.results.find((r) => r.workload === workload);
      if (!m) continue;
      const anchor = find(o.row.anchor, workload);
      const anchorLabel = ROWS.find((r) => r.name === o.row.anchor)!.label;
      const ratio = anchor ? `${fmt(m.rps / anchor.rps, 2)}× ${anchorLabel}` : `(${anchorLabel} not run)`;
      const label = o.broken.length > 0 ? `${o.row.label} **BROKEN**` : o.row.label;
      lines.push(
        `| ${o.row.framework} | ${label} | ${workload} | ${fmt(m.rps, 0)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} | ${ratio} | ${fmt(m.serverUs, 0)} | ${cpuCell(m.cpu)} | ${bottleneck(m)} |`,
      );
    }
  }
  return lines.join('\n');
}

const median = (xs: number[]) => {
  const v = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
};

interface Side {
  row: Row;
  child: ChildProcess;
  port: number;
  jars: Jar[];
  /** 2xx answers (throughput) and all answers (server CPU per request) in the counted slices. */
  answers: number;
  requests: number;
  seconds: number;
  serverMicros: number;
  results: { errors: number }[];
  firstError?: string;
}

async function openSide(row: Row, tag: string, server?: string): Promise<Side> {
  const { child, port } = await startChild(row, rowPrefix(tag, row), undefined, [], server);
  const jars = Array.from({ length: CONNECTIONS }, () => new Jar());
  return { row, child, port, jars, answers: 0, requests: 0, seconds: 0, serverMicros: 0, results: [] };
}

/** One slice of load on one side, added to its totals. */
async function slice(side: Side, workload: Workload, seconds: number, count: boolean): Promise<number> {
  const before = count ? (await statsOf(side.child)).cpuMicros : 0;
  const { firstError, ...r } = await load(side.port, workload, seconds, side.jars, side.row.session);
  side.results.push(r);
  side.firstError ??= firstError;
  if (!count) return 0;
  side.serverMicros += (await statsOf(side.child)).cpuMicros - before;
  side.answers += r.rps * seconds;
  side.requests += r.requests;
  side.seconds += seconds;
  return r.rps;
}

/**
 * A target, measured as a pair: both servers stay up and the load alternates between them in
 * short slices, A B B A A B …, so whatever else the shared machine does in those seconds falls on
 * both sides alike. The ratio is of their total throughput; each A/B slice pair also gives a ratio,
 * whose spread shows how steady the figure is.
 */
async function runPair(t: Target, index: number): Promise<string> {
  const what = BASELINE_SERVER
    ? `${t.workload}: ${t.row} vs the same row in ${BASELINE}`
    : t.min === undefined
      ? `${t.workload}: ${t.row} vs ${t.anchor}`
      : `${t.workload}: ${t.row} ≥ ${t.min}× ${t.anchor}`;
  const rowOf = (name: string) => ROWS.find((r) => r.name === name)!;
  const a = await openSide(rowOf(t.row), `pair${index}`);
  let b: Side | undefined;
  try {
    b = await openSide(rowOf(t.anchor), `pair${index}b`, BASELINE_SERVER);
    for (const side of [a, b]) if (WARMUP > 0) await slice(side, 'hit', WARMUP, false);
    const ratios: number[] = [];
    for (let i = 0; i < SLICES; i++) {
      const order = i % 2 ? [b, a] : [a, b];
      const [first, second] = [
        await slice(order[0]!, t.workload, SLICE, true),
        await slice(order[1]!, t.workload, SLICE, true),
      ];
      ratios.push(order[0] === a ? first / second : second / first);
    }
    const stats = await Promise.all([statsOf(a.child), statsOf(b.child)]);
    const broken = [a, b].flatMap((side, k) =>
      verdict(side.row, side.jars, stats[k]!, side.results, side.firstError).broken.map(
        (x) => `${side.row.name}: ${x}`,
      ),
    );
    const ratio = a.answers / a.seconds / (b.answers / b.seconds);
    const cpu = b.serverMicros / b.requests / (a.serverMicros / a.requests);
    const sorted = [...ratios].sort((x, y) => x - y);
    // Against a baseline build the bar is issue #13's: no more than 3 % slower.
    const min = BASELINE_SERVER ? 0.97 : t.min;
    const pass = (min === undefined || ratio >= min) && broken.length === 0;
    const outcome = min === undefined && pass ? 'RECORDED' : pass ? 'PASS' : 'FAIL';
    return (
      `${outcome} ${what}: ${fmt(ratio, 2)}× ` +
      `(${fmt(a.answers / a.seconds, 0)} against ${fmt(b.answers / b.seconds, 0)} req/s over ${SLICES} slices of ${SLICE} s each, alternating; ` +
      `slice pairs ${fmt(sorted[0]!, 2)}–${fmt(sorted[sorted.length - 1]!, 2)}, median ${fmt(median(ratios), 2)}); ` +
      `server CPU per request ${fmt(cpu, 2)}× lower` +
      (broken.length ? ` — BROKEN: ${broken.join('; ')}` : '')
    );
  } finally {
    await Promise.all([stopChild(a.child), b ? stopChild(b.child) : Promise.resolve()]);
  }
}

let cleaned: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    await Promise.all([...children].map((c) => stopChild(c)));
    if (redis) {
      const n = await redis.deleteKeysUnder(RUN_PREFIX);
      console.log(`redis: deleted ${n} keys under ${RUN_PREFIX}`);
      await redis.close();
    }
  })();
  return cleaned;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the server children and deleting the bench's Redis keys…`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Keeps each workload's best run of a row; the row is broken when any of its runs was. */
function merge(a: RowOutcome | undefined, b: RowOutcome): RowOutcome {
  if (!a) return b;
  const results = a.results.map((r) => {
    const other = b.results.find((x) => x.workload === r.workload);
    return other && other.rps > r.rps ? other : r;
  });
  for (const r of b.results) if (!results.some((x) => x.workload === r.workload)) results.push(r);
  return {
    row: a.row,
    results,
    broken: [...a.broken, ...b.broken],
    sessionsNote: b.sessionsNote,
    ...(b.profile ? { profile: b.profile } : {}),
  };
}

const redis = rows.some((r) => r.redis) ? await RedisAdmin.open() : undefined;
// Started before any row: forked servers inherit its address (STATELINE_BENCH_MEMCACHED).
const memcached = rows.some((r) => r.memcached) ? await benchMemcached() : undefined;
process.on('exit', () => memcached?.stop());
const started = Date.now();
console.log(
  `sessions bench: ${rows.length} rows × ${ROUNDS} round(s), ${CONNECTIONS} connections (one session each), warm-up ${WARMUP} s, ${DURATION} s per workload; ` +
    `loader ${LOADER_NOTE}; ` +
    `node ${process.version}, ${CORES} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()[0]!.toFixed(1)}; redis prefix ${RUN_PREFIX}`,
);
console.log(
  'cpu = share of one core used during the run by the loader (this process) / the server child / Redis / everything else on the machine',
);
const best = new Map<string, RowOutcome>();
const failed = new Set<string>();
const pairs: readonly Target[] = BASELINE_SERVER
  ? rows.flatMap((r) => WORKLOADS.map((workload) => ({ workload, row: r.name, anchor: r.name })))
  : args['skip-pairs'] || args.profile
    ? []
    : TARGETS.filter((t) => rows.some((r) => r.name === t.row) && rows.some((r) => r.name === t.anchor));
const targetLines: string[] = [];
try {
  for (
    let round = 1;
    round <= (args['pairs-only'] || BASELINE_SERVER ? 0 : ROUNDS) && !interrupted;
    round++
  ) {
    // Even rounds run the rows in reverse (rows.ts keeps compared rows adjacent).
    for (const row of round % 2 ? rows : [...rows].reverse()) {
      if (interrupted) break;
      try {
        const o = await runRow(row, round);
        best.set(row.name, merge(best.get(row.name), o));
        const summary = o.results
          .map(
            (r) =>
              `${r.workload} ${fmt(r.rps, 0)} req/s p50 ${fmt(r.p50, 2)} ms p99 ${fmt(r.p99, 2)} ms cpu ${cpuCell(r.cpu)}`,
          )
          .join(' | ');
        console.log(
          `${ROUNDS > 1 ? `[${round}] ` : ''}${row.name.padEnd(28)} ${summary} | ${o.sessionsNote}${o.broken.length ? ` | BROKEN: ${o.broken.join('; ')}` : ''}`,
        );
        if (o.profile) console.log(o.profile);
        if (o.broken.length) failed.add(row.name);
      } catch (err) {
        failed.add(row.name);
        console.error(`${row.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  for (const [i, t] of pairs.entries()) {
    if (interrupted) break;
    try {
      const line = await runPair(t, i);
      console.log(`pair ${i + 1}/${pairs.length}: ${line}`);
      targetLines.push(line);
      if (line.includes('BROKEN')) failed.add(`${t.row} / ${t.anchor}`);
    } catch (err) {
      failed.add(`${t.row} / ${t.anchor}`);
      targetLines.push(
        `FAIL ${t.workload}: ${t.row} ≥ ${t.min ?? '?'}× ${t.anchor}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
} finally {
  await cleanup();
}
const outcomes = rows.flatMap((r) => best.get(r.name) ?? []);
if (outcomes.length > 0) console.log(`\nloader: ${LOADER_NOTE}\n\n${table(outcomes)}\n`);
if (targetLines.length > 0) {
  console.log(
    `targets (issues #3, #14 and #20), each measured as a pair: both servers up, ${SLICES} slices of ${SLICE} s of load on each, alternating:`,
  );
  for (const line of targetLines) console.log(line);
}
console.log(`\nload average at the end: ${loadavg()[0]!.toFixed(1)} (${CORES} shared cores)`);
console.log(
  `${outcomes.length} rows × ${args['pairs-only'] ? 0 : ROUNDS} round(s) and ${targetLines.length} pair(s) in ${((Date.now() - started) / 1000).toFixed(0)} s with the ${LOADER} loader${failed.size ? `; broken or failed: ${[...failed].join(', ')}` : ''}`,
);
process.exit(failed.size > 0 ? 1 : 0);
