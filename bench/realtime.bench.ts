/**
 * `npm run bench -- realtime [--rates=250,500,...,8000] [--step=2000] [--rounds=3] [--clients=200]
 *   [--only=stateline,cluster,nats,socketio] [--flush=ms] [--no-kill] [--profile] [--baseline=<dir>]
 *   [--every-rate]`
 *
 * `--baseline=<dir>` (another checkout of this repository, built) adds a third system, `previous`:
 * the same Stateline server run from that checkout, so a change of the library is compared with
 * the build before it in the same alternating rounds (`--only=stateline,previous` leaves Socket.IO
 * out); the summary prints this tree ÷ previous per rate.
 *
 * Side by side on this machine: the Stateline hub (Redis Log + Redis Bus), the same hub with Log
 * and Bus on a 3-master Redis Cluster the bench starts itself (`cluster`: hash-tagged Streams,
 * sharded pub/sub), the same hub on NATS (`nats`: JetStream Log + core NATS Bus, the server at
 * STATELINE_BENCH_NATS_URL, default nats://127.0.0.1:4222) and Socket.IO with
 * @socket.io/redis-adapter (websocket transport only, no compression); `--only` picks systems.
 * Each system runs as 2
 * server processes with `clients` subscribers in one room split across them (2 subscriber
 * processes, each with half the clients, half of those on each instance). This process publishes
 * at fixed rates, alternating between the two instances. Both systems stay up for the whole sweep
 * and take turns at each rate (`rounds` steps of `step` ms each, the order alternating), so load
 * from elsewhere on the shared machine hits both alike; a 1 s warm-up comes first.
 *
 * Per step: deliveries/s, end-to-end latency p50/p99 (publish → receipt, across processes),
 * messages lost (expected × clients − unique receipts, once nothing more arrives), server CPU
 * seconds (user + system of both server processes, process.cpuUsage) per 100,000 deliveries.
 * Per rate the table merges all rounds: one latency histogram over every delivery of every round
 * (no round is picked), loss summed, deliveries/s and CPU per delivery over the rounds' totals.
 * A rate passes ("lossless") when no round lost a delivery and the merged p99 is under 100 ms.
 * The default sweep climbs to 8,000 msg/s so each system's ceiling shows; a system stops
 * climbing after two failed rates in a row, or at once when a rate collapses (merged p50 > 1 s or
 * more than 10 % lost); `--every-rate` runs every rate for every system.
 *
 * Instance kill (`--no-kill` skips): fresh servers and `clients` failover subscribers (the
 * Stateline client library, which resumes from its last offset; for Socket.IO a new connection
 * to the surviving URL 50–150 ms after the close), 200 msg/s published to the surviving instance
 * for 6 s; the other instance is SIGKILLed at 2 s. Reports deliveries lost.
 *
 * Subscribers are as light as they can be for both: raw `ws` sockets that find the text by a byte
 * search. For Socket.IO that means speaking Engine.IO v4 / Socket.IO v5 directly (./realtime/
 * sio-raw.ts) rather than socket.io-client, whose decoding made the clients the bottleneck (p99
 * over 2 s at 250 msg/s in a first run). On 2 shared cores the subscribers and the publisher still
 * take a large part of the CPU; the server CPU column is what the comparison is about.
 * `--profile` runs the servers and the subscribers under `--cpu-prof` and prints their hottest
 * functions. The table also has the subscribers' CPU per delivery (what the clients pay).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { connect as connectNats } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createClient } from 'redis';
import WebSocket from 'ws';
import { startBenchCluster, type BenchCluster } from './realtime/redis-cluster.js';
import { openRawSocketIo } from './realtime/sio-raw.js';
import { summarizeProfile } from './servers/cpu-profile.js';

type System = 'stateline' | 'socketio' | 'previous' | 'cluster' | 'nats';

function flag(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

// 250: the quiet case (p50 target); 1,500–2,000: where Socket.IO's ceiling was; up to 8,000 for Stateline's.
const RATES = flag('rates', '250,1000,1500,2000,3000,4000,6000,8000').split(',').map(Number);
const STEP_MS = Number(flag('step', '2000'));
const ROUNDS = Number(flag('rounds', '3'));
const CLIENTS = Number(flag('clients', '200'));
/** `--baseline=<dir>`: another checkout whose Stateline server runs as the system `previous`. */
const BASELINE = flag('baseline', '');
const ONLY = flag('only', BASELINE ? 'stateline,socketio,previous' : 'stateline,cluster,nats,socketio').split(
  ',',
) as System[];
if (ONLY.includes('previous') && !BASELINE) throw new Error('--only=previous needs --baseline=<dir>');
/** What the subscribers and the publisher speak: the previous build is a Stateline hub too. */
const wire = (sys: System): 'stateline' | 'socketio' => (sys === 'socketio' ? 'socketio' : 'stateline');
const KILL = !process.argv.includes('--no-kill');
/** `--every-rate`: no system stops climbing (for CPU comparisons at fixed rates on a loaded machine). */
const EVERY_RATE = process.argv.includes('--every-rate');
/** `--flush=ms`: the hub's flushInterval (default: the hub's default, 10 ms). */
const FLUSH = flag('flush', '');
/**
 * `--profile`: the sweep's server and subscriber processes run under `--cpu-prof`; their hottest
 * functions are printed.
 */
const PROFILE = process.argv.includes('--profile');
const PROFILE_DIR = PROFILE ? mkdtempSync(join(tmpdir(), 'rtbench-prof-')) : '';
const KILL_RATE = 200;
const KILL_MS = 6000;
const KILL_AT_MS = 2000;
const WARMUP_MS = 1000;
const DRAIN_MS = 1000;
const REDIS_URL = process.env.STATELINE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const NATS_URL = process.env.STATELINE_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const TAG = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const HERE = new URL('./realtime/', import.meta.url).pathname;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** The `cluster` system's own Redis Cluster, started before the sweep and stopped at the end. */
let cluster: BenchCluster | undefined;

const children = new Set<ChildProcess>();
let profiles = 0;
/** `profile`: the process runs under `--cpu-prof`, its profiles in a directory named after this label. */
function spawn(file: string, args: string[], profile: string | false = false): ChildProcess {
  const execArgv = [
    '--import',
    'tsx',
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${join(PROFILE_DIR, `${profile}-${++profiles}`)}`] : []),
  ];
  const p = fork(file.startsWith('/') ? file : HERE + file, args, {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}
function request<T>(p: ChildProcess, msg: object, answer: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (m: { fx?: string } & T) => {
      if (m?.fx !== answer) return;
      p.off('message', on);
      p.off('exit', gone);
      resolve(m);
    };
    const gone = () => reject(new Error(`child exited before answering ${answer}`));
    p.on('message', on);
    p.once('exit', gone);
    if (Object.keys(msg).length) p.send(msg);
  });
}
async function killAll(): Promise<void> {
  await Promise.all(
    [...children].map(
      (p) =>
        new Promise<void>((r) => {
          if (p.exitCode !== null || p.signalCode !== null) return r();
          p.once('exit', () => r());
          p.kill('SIGKILL');
        }),
    ),
  );
}
process.on('exit', () => {
  for (const p of children) p.kill('SIGKILL');
});

interface Server {
  proc: ChildProcess;
  url: string;
}
async function startServers(sys: System, run: string): Promise<Server[]> {
  return Promise.all(
    [0, 1].map(async () => {
      const proc =
        wire(sys) === 'stateline'
          ? spawn(
              sys === 'previous'
                ? join(resolve(BASELINE), 'bench/realtime/stateline-server.ts')
                : 'stateline-server.ts',
              [
                `rtbench:${TAG}:${run}:`,
                sys === 'cluster' ? cluster!.spec : sys === 'nats' ? NATS_URL : REDIS_URL,
                FLUSH,
              ],
              PROFILE && run === 'sweep' && `server-${sys}`,
            )
          : spawn(
              'socketio-server.ts',
              [`rtbench-sio-${TAG}-${run}`, REDIS_URL],
              PROFILE && run === 'sweep' && `server-${sys}`,
            );
      const { port } = await request<{ port: number }>(proc, {}, 'ready');
      return {
        proc,
        url: wire(sys) === 'stateline' ? `ws://127.0.0.1:${port}/realtime` : `http://127.0.0.1:${port}`,
      };
    }),
  );
}
/** CPU seconds (user + system) the processes used so far. */
const cpuOf = async (procs: ChildProcess[]) => (await usageOf(procs)).cpu;
/** CPU seconds, and sockets a Stateline hub closed as slow consumers, so far. */
const usageOf = async (procs: ChildProcess[]) => {
  const all = await Promise.all(
    procs.map((p) =>
      request<{ cpu: NodeJS.CpuUsage; stats?: { slowConsumers: number } }>(p, { fx: 'cpu' }, 'cpu'),
    ),
  );
  return {
    cpu: all.reduce((sum, { cpu }) => sum + (cpu.user + cpu.system) / 1e6, 0),
    slow: all.reduce((sum, { stats }) => sum + (stats?.slowConsumers ?? 0), 0),
  };
};

async function startSubscribers(
  mode: string,
  servers: Server[],
  maxSeq: number,
  profile: string | false = false,
): Promise<ChildProcess[]> {
  const procs = [0, 1].map(() =>
    spawn(
      'subscribers.ts',
      [JSON.stringify({ mode, urls: [servers[0]!.url, servers[1]!.url], clients: CLIENTS / 2, maxSeq })],
      profile,
    ),
  );
  await Promise.all(procs.map((p) => request(p, {}, 'ready')));
  return procs;
}

interface Report {
  received: number;
  duplicates: number;
  reconnects: number;
  histogram: string;
}
async function collect(subs: ChildProcess[], from: number, to: number) {
  const reports = await Promise.all(
    subs.map((p) => request<Report>(p, { fx: 'report', from, to }, 'report')),
  );
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  for (const r of reports) h.add(hdr.decodeFromCompressedBase64(r.histogram));
  const received = reports.reduce((s, r) => s + r.received, 0);
  const out = {
    histogram: h,
    received,
    expected: (to - from) * CLIENTS,
    duplicates: reports.reduce((s, r) => s + r.duplicates, 0),
    reconnects: reports.reduce((s, r) => s + r.reconnects, 0),
    p50: h.getValueAtPercentile(50) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
  };
  return out;
}

/** One publisher per instance; messages alternate between them. */
interface Publisher {
  send(seq: number): void;
  close(): void;
}
async function publisher(sys: System, urls: string[]): Promise<Publisher> {
  let closing = false;
  if (wire(sys) === 'stateline') {
    const sockets = await Promise.all(
      urls.map(
        (u) =>
          new Promise<WebSocket>((resolve, reject) => {
            // A member of the room like any (a send needs a join): it gets every message too, as
            // batch frames where the hub sends them, read and dropped. If the hub closes it (a slow
            // consumer: this process was starved), nothing more is published: say so.
            const ws = new WebSocket(`${u}?batch=1`, { perMessageDeflate: false });
            ws.on('error', reject);
            ws.on('open', () => ws.send('{"type":"join","room":"room"}'));
            ws.on('message', (d: Buffer) => d[9] === 0x6a && resolve(ws)); // joined
            ws.on('close', (code: number, reason: Buffer) => {
              if (!closing)
                console.log(`  ${sys}: the publisher's socket was closed (${code} ${reason.toString()})`);
            });
          }),
      ),
    );
    return {
      send: (seq) =>
        sockets[seq % sockets.length]!.send(
          `{"type":"send","room":"room","id":"p${seq}","text":"${seq}:${now()}"}`,
        ),
      close: () => {
        closing = true;
        sockets.forEach((s) => s.terminate());
      },
    };
  }
  const sockets = await Promise.all(urls.map((u) => openRawSocketIo(u, () => {})));
  return {
    send: (seq) => sockets[seq % sockets.length]!.emit(`${seq}:${now()}`),
    close: () => sockets.forEach((s) => s.close()),
  };
}

/** Sends seq numbers [from, from + rate × ms / 1000) at `rate`/s, paced against the clock. */
async function publish(
  p: Publisher,
  from: number,
  rate: number,
  ms: number,
  onTick?: (elapsed: number) => void,
): Promise<number> {
  const total = Math.round((rate * ms) / 1000);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const elapsed = performance.now() - start;
    const due = Math.min(total, Math.floor((rate * elapsed) / 1000));
    for (; sent < due; sent++) p.send(from + sent);
    onTick?.(elapsed);
    await sleep(2);
  }
  return from + total;
}

interface Row {
  sys: System;
  rate: number;
  /** Rounds merged into this row (1 for a single step). */
  rounds: number;
  /** Published messages × clients over those rounds. */
  expected: number;
  received: number;
  seconds: number;
  histogram: hdr.Histogram;
  deliveriesPerSec: number;
  p50: number;
  p99: number;
  lost: number;
  duplicates: number;
  cpuPer100k: number;
  cpuSeconds: number;
  /** Sockets the hub closed as slow consumers (Stateline; the raw subscribers do not reconnect). */
  slowConsumers: number;
  /** CPU seconds of the subscriber processes, and per 100,000 deliveries. */
  clientCpuSeconds: number;
  clientCpuPer100k: number;
}

interface Rig {
  sys: System;
  servers: Server[];
  subs: ChildProcess[];
  pub: Publisher;
  seq: number;
}

async function rig(sys: System, maxSeq: number): Promise<Rig> {
  const servers = await startServers(sys, 'sweep');
  const subs = await startSubscribers(wire(sys), servers, maxSeq, PROFILE && `clients-${sys}`);
  const pub = await publisher(
    sys,
    servers.map((s) => s.url),
  );
  return { sys, servers, subs, pub, seq: 1 };
}

/** Waits until every published message arrived, or nothing new came for 1 s (at most 5 s). */
async function drain(r: Rig, from: number, to: number) {
  const deadline = Date.now() + 5000;
  let last = await collect(r.subs, from, to);
  let still = Date.now();
  while (last.received < last.expected && Date.now() < deadline && Date.now() - still < 1000) {
    await sleep(200);
    const next = await collect(r.subs, from, to);
    if (next.received > last.received) still = Date.now();
    last = next;
  }
  return last;
}

async function step(r: Rig, rate: number): Promise<Row> {
  for (const s of r.subs) s.send({ fx: 'reset' });
  const procs = r.servers.map((s) => s.proc);
  const { cpu: cpu0, slow: slow0 } = await usageOf(procs);
  const clientCpu0 = await cpuOf(r.subs);
  const t0 = performance.now();
  const from = r.seq;
  r.seq = await publish(r.pub, from, rate, STEP_MS);
  const seconds = (performance.now() - t0) / 1000;
  const got = await drain(r, from, r.seq);
  const usage = await usageOf(procs);
  const cpu = usage.cpu - cpu0;
  const clientCpu = (await cpuOf(r.subs)) - clientCpu0;
  return {
    sys: r.sys,
    rate,
    rounds: 1,
    expected: got.expected,
    received: got.received,
    seconds,
    histogram: got.histogram,
    deliveriesPerSec: got.received / seconds,
    p50: got.p50,
    p99: got.p99,
    lost: got.expected - got.received,
    duplicates: got.duplicates,
    cpuSeconds: cpu,
    slowConsumers: usage.slow - slow0,
    cpuPer100k: (cpu / Math.max(1, got.received)) * 100_000,
    clientCpuSeconds: clientCpu,
    clientCpuPer100k: (clientCpu / Math.max(1, got.received)) * 100_000,
  };
}

/**
 * One row per system and rate from all its rounds: one latency histogram over every delivery of
 * every round (no round is picked), loss and duplicates summed, deliveries/s and CPU per delivery
 * over the rounds' totals.
 */
function merge(rs: Row[]): Row {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  for (const x of rs) h.add(x.histogram);
  const sum = (f: (x: Row) => number) => rs.reduce((a, x) => a + f(x), 0);
  const received = sum((x) => x.received);
  const cpuSeconds = sum((x) => x.cpuSeconds);
  const clientCpuSeconds = sum((x) => x.clientCpuSeconds);
  return {
    sys: rs[0]!.sys,
    rate: rs[0]!.rate,
    rounds: rs.length,
    expected: sum((x) => x.expected),
    received,
    seconds: sum((x) => x.seconds),
    histogram: h,
    deliveriesPerSec: received / sum((x) => x.seconds),
    p50: h.getValueAtPercentile(50) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
    lost: sum((x) => x.lost),
    duplicates: sum((x) => x.duplicates),
    cpuSeconds,
    slowConsumers: sum((x) => x.slowConsumers),
    cpuPer100k: (cpuSeconds / Math.max(1, received)) * 100_000,
    clientCpuSeconds,
    clientCpuPer100k: (clientCpuSeconds / Math.max(1, received)) * 100_000,
  };
}

/** A rate passes when no round lost anything and the merged p99 is under 100 ms. */
const ok = (r: Row) => r.lost === 0 && r.p99 < 100;
/** A system stops climbing after this many failed rates in a row (or at once on a collapse). */
const FAILS_TO_STOP = 2;

/**
 * Both systems run side by side; at each rate they take turns (ROUNDS steps each, the order
 * alternating), so load from elsewhere on the shared machine hits both alike. Per system and
 * rate: all rounds merged ({@link merge}).
 */
async function sweep(): Promise<Row[]> {
  const maxSeq =
    Math.ceil(
      ((RATES.reduce((a, b) => a + b, 0) * STEP_MS * ROUNDS) / 1000 + RATES[0]! * (WARMUP_MS / 1000)) * 1.05,
    ) + 10;
  const rigs: Rig[] = [];
  for (const sys of ONLY) rigs.push(await rig(sys, maxSeq));
  const rows: Row[] = [];
  const climbing = new Set(ONLY);
  const fails = new Map<System, number>();
  try {
    for (const r of rigs) r.seq = await publish(r.pub, r.seq, RATES[0]!, WARMUP_MS);
    await sleep(DRAIN_MS);
    for (const rate of RATES) {
      const rounds = new Map<System, Row[]>();
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 ? [...rigs].reverse() : rigs;
        for (const r of order) {
          if (!climbing.has(r.sys)) continue;
          const row = await step(r, rate);
          rounds.set(r.sys, [...(rounds.get(r.sys) ?? []), row]);
        }
      }
      for (const [sys, rs] of rounds) {
        const row = merge(rs);
        rows.push(row);
        console.log(
          `  ${sys.padEnd(9)} ${String(rate).padStart(5)}/s  ${Math.round(row.deliveriesPerSec).toLocaleString('en-US').padStart(9)} deliveries/s  p50 ${row.p50.toFixed(1)} ms  p99 ${row.p99.toFixed(1)} ms  lost ${row.lost}  cpu ${row.cpuPer100k.toFixed(2)} s/100k, clients ${row.clientCpuPer100k.toFixed(2)} s/100k  (p99 per round: ${rs.map((x) => x.p99.toFixed(0)).join(', ')}; lost per round: ${rs.map((x) => x.lost).join(', ')}; ${row.slowConsumers ? `slow consumers closed ${row.slowConsumers}; ` : ''}load ${loadavg()[0]!.toFixed(1)})`,
        );
        fails.set(sys, ok(row) ? 0 : (fails.get(sys) ?? 0) + 1);
        // Stop a system after two failed rates in a row (one alone may be a neighbour's burst), or
        // at once when it collapsed (half the deliveries over 1 s late, or more than 10 % lost):
        // higher rates would only flood the machine for the others.
        const collapsed = row.p50 > 1000 || row.lost > 0.1 * row.expected;
        if (!EVERY_RATE && (collapsed || (fails.get(sys) ?? 0) >= FAILS_TO_STOP)) climbing.delete(sys);
      }
      if (climbing.size === 0) break;
    }
  } finally {
    for (const r of rigs) r.pub.close();
    if (PROFILE)
      await Promise.all(
        rigs
          .flatMap((r) => [...r.servers.map((s) => s.proc), ...r.subs])
          .map((p) => new Promise((res) => (p.once('exit', res), p.send({ fx: 'exit' })))),
      );
    await killAll();
  }
  if (PROFILE) printProfiles();
  return rows;
}

/** The servers' and subscribers' profiles (written on a clean exit): where their CPU went, by owner and function. */
function printProfiles(): void {
  for (const dir of readdirSync(PROFILE_DIR).sort())
    // CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: thread 0 is the main one (tsx's module
    // loader thread writes a profile of its own).
    for (const f of readdirSync(join(PROFILE_DIR, dir)).filter((x) => /\.0\.\d+\.cpuprofile$/.test(x))) {
      const file = join(PROFILE_DIR, dir, f);
      const p = summarizeProfile(file, 25);
      console.log(`  ${dir} (${f}): busy ${p.busyMs.toFixed(0)} ms, idle ${p.idleMs.toFixed(0)} ms`);
      for (const o of p.owners) console.log(`    ${o.pct.toFixed(1).padStart(5)}%  ${o.name}`);
      for (const fn of p.functions) console.log(`    ${fn.pct.toFixed(1).padStart(5)}%  ${fn.name}`);
      if (process.env.KEEP_PROFILES) console.log(`    kept ${file}`);
    }
  if (!process.env.KEEP_PROFILES) rmSync(PROFILE_DIR, { recursive: true, force: true });
}

interface KillResult {
  sys: System;
  published: number;
  expected: number;
  received: number;
  lost: number;
  duplicates: number;
  reconnects: number;
  p99: number;
}

async function killRun(sys: System): Promise<KillResult> {
  const total = Math.round((KILL_RATE * KILL_MS) / 1000);
  const servers = await startServers(sys, 'kill');
  const subs = await startSubscribers(`${wire(sys)}-failover`, servers, total + 10);
  // The publisher talks to the instance that survives.
  const pub = await publisher(sys, [servers[0]!.url]);
  try {
    let killed = false;
    const end = await publish(pub, 1, KILL_RATE, KILL_MS, (elapsed) => {
      if (!killed && elapsed >= KILL_AT_MS) {
        killed = true;
        servers[1]!.proc.kill('SIGKILL');
      }
    });
    const deadline = Date.now() + 10_000;
    let r = await collect(subs, 1, end);
    while (r.received < r.expected && Date.now() < deadline) {
      await sleep(250);
      r = await collect(subs, 1, end);
    }
    return {
      sys,
      published: end - 1,
      expected: r.expected,
      received: r.received,
      lost: r.expected - r.received,
      duplicates: r.duplicates,
      reconnects: r.reconnects,
      p99: r.p99,
    };
  } finally {
    pub.close();
    await killAll();
  }
}

async function cleanupRedis(): Promise<void> {
  const redis = createClient({ url: REDIS_URL });
  redis.on('error', () => {});
  await redis.connect();
  for await (const keys of redis.scanIterator({ MATCH: `rtbench:${TAG}:*`, COUNT: 500 }))
    if (keys.length) await redis.del(keys);
  await redis.close();
}

/** Deletes the JetStream streams the `nats` system made (their subjects start with the run's prefix). */
async function cleanupNats(): Promise<void> {
  if (!ONLY.includes('nats')) return;
  const nc = await connectNats({ servers: NATS_URL.replace(/^nats:\/\//, '') });
  try {
    const jsm = await jetstreamManager(nc);
    const doomed: string[] = [];
    for await (const info of jsm.streams.list())
      if (info.config.subjects?.some((s) => s.startsWith(`rtbench:${TAG}:`))) doomed.push(info.config.name);
    for (const name of doomed) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const started = Date.now();
console.log(
  `realtime bench: ${cpus().length} cores, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, Node ${process.version}, ${CLIENTS} clients, steps of ${STEP_MS} ms`,
);
const rows: Row[] = [];
const kills: KillResult[] = [];
try {
  if (ONLY.includes('cluster')) cluster = await startBenchCluster();
  console.log(
    `sweeping ${RATES.join(', ')} msg/s, ${ROUNDS} alternating rounds of ${STEP_MS} ms per system and rate`,
  );
  rows.push(...(await sweep()));
  if (KILL) {
    for (const sys of ONLY) {
      console.log(`${sys}: instance kill at ${KILL_RATE} msg/s`);
      const k = await killRun(sys);
      kills.push(k);
      console.log(
        `  lost ${k.lost} of ${k.expected} deliveries, reconnects ${k.reconnects}, duplicates ${k.duplicates}`,
      );
    }
  }
} finally {
  await killAll();
  cluster?.stop();
  await cleanupRedis().catch(() => {});
  await cleanupNats().catch(() => {});
}

const LABEL: Record<System, string> = {
  stateline: 'Stateline (redis)',
  cluster: 'Stateline (redis-cluster, 3 masters)',
  nats: 'Stateline (nats, JetStream)',
  previous: `Stateline (redis), ${BASELINE}`,
  socketio: 'Socket.IO + redis-adapter',
};
const best = (sys: System) => Math.max(0, ...rows.filter((r) => r.sys === sys && ok(r)).map((r) => r.rate));
/** The highest rate such that it and every lower rate passed. */
const steady = (sys: System) => {
  let top = 0;
  for (const r of rows.filter((x) => x.sys === sys)) {
    if (!ok(r)) break;
    top = r.rate;
  }
  return top;
};
console.log(
  '\n| system | msg/s | rounds | deliveries/s | p50 ms | p99 ms | lost | server CPU s / 100k deliveries | client CPU s / 100k | zero loss, p99 < 100 ms |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |');
for (const r of rows)
  console.log(
    `| ${LABEL[r.sys]} | ${fmt(r.rate)} | ${r.rounds} | ${fmt(r.deliveriesPerSec)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.lost)} | ${fmt(r.cpuPer100k, 2)} | ${fmt(r.clientCpuPer100k, 2)} | ${ok(r) ? 'yes' : 'no'} |`,
  );
const sl = best('stateline');
const sio = best('socketio');
console.log(
  `\nhighest rate with zero loss and p99 < 100 ms: Stateline ${fmt(sl)} msg/s, Socket.IO ${fmt(sio)} msg/s (ratio ${sio ? (sl / sio).toFixed(2) : 'n/a'})`,
);
/** Loss alone (a loaded machine inflates every p99; what was delivered at all is steadier). */
const lossless = (sys: System) =>
  Math.max(0, ...rows.filter((r) => r.sys === sys && r.lost === 0).map((r) => r.rate));
console.log(
  `highest rate with zero loss whatever the p99: ${ONLY.map((sys) => `${sys} ${fmt(lossless(sys))}`).join(', ')} msg/s`,
);
console.log(
  `the same, counting only rates where every lower rate passed too: Stateline ${fmt(steady('stateline'))}, Socket.IO ${fmt(steady('socketio'))}`,
);
for (const rate of RATES) {
  const a = rows.find((r) => r.sys === 'stateline' && r.rate === rate);
  const b = rows.find((r) => r.sys === 'socketio' && r.rate === rate);
  if (a && b)
    console.log(
      `server CPU per delivery at ${rate} msg/s: Stateline / Socket.IO = ${(a.cpuPer100k / b.cpuPer100k).toFixed(2)}`,
    );
}
if (ONLY.includes('nats'))
  console.log(
    `NATS beside single Redis: highest lossless rate with p99 < 100 ms ${fmt(best('nats'))} vs ${fmt(sl)} msg/s (every lower rate passed: ${fmt(steady('nats'))} vs ${fmt(steady('stateline'))})`,
  );
for (const rate of RATES) {
  const a = rows.find((r) => r.sys === 'nats' && r.rate === rate);
  const b = rows.find((r) => r.sys === 'stateline' && r.rate === rate);
  if (a && b)
    console.log(
      `nats / redis at ${rate} msg/s: p99 ${fmt(a.p99, 1)} / ${fmt(b.p99, 1)} ms, lost ${a.lost} / ${b.lost}, server CPU per delivery ${(a.cpuPer100k / b.cpuPer100k).toFixed(2)}`,
    );
}
for (const rate of RATES) {
  const a = rows.find((r) => r.sys === 'stateline' && r.rate === rate);
  const b = rows.find((r) => r.sys === 'previous' && r.rate === rate);
  if (a && b)
    console.log(
      `this tree / ${BASELINE} at ${rate} msg/s: deliveries ${(a.deliveriesPerSec / b.deliveriesPerSec).toFixed(3)}, ` +
        `p50 ${(a.p50 / b.p50).toFixed(2)}, p99 ${(a.p99 / b.p99).toFixed(2)}, server CPU per delivery ${(a.cpuPer100k / b.cpuPer100k).toFixed(3)}, ` +
        `client CPU per delivery ${(a.clientCpuPer100k / b.clientCpuPer100k).toFixed(3)}`,
    );
}
for (const rate of RATES) {
  const a = rows.find((r) => r.sys === 'cluster' && r.rate === rate);
  const b = rows.find((r) => r.sys === 'stateline' && r.rate === rate);
  if (a && b)
    console.log(
      `redis-cluster / redis at ${rate} msg/s: p99 ${(a.p99 / b.p99).toFixed(2)}, server CPU per delivery ${(a.cpuPer100k / b.cpuPer100k).toFixed(2)}`,
    );
}
if (ONLY.includes('cluster'))
  console.log(
    `highest lossless rate with p99 < 100 ms: redis-cluster ${fmt(best('cluster'))} msg/s (every lower rate too: ${fmt(steady('cluster'))}), redis ${fmt(best('stateline'))} msg/s (${fmt(steady('stateline'))})`,
  );
for (const k of kills)
  console.log(
    `kill run ${k.sys}: ${k.published} messages × ${CLIENTS} clients, lost ${k.lost} deliveries, duplicates ${k.duplicates}, reconnects ${k.reconnects}`,
  );
console.log(`\ntook ${((Date.now() - started) / 1000).toFixed(0)} s`);
