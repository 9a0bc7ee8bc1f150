/**
 * npm run bench -- gateway [--duration 5] [--connections 50] [--rounds 3] [--proxy-defaults] [--profile]
 *
 * The cost of a proxy hop, side by side in one run: the same two node:http backends (each in its
 * own child process) reached directly, through the built-in gateway (round-robin, health checks
 * and metrics on, in its own child process), through HAProxy and through nginx, both running the
 * configs `exportHaproxy` / `exportNginx` produce. autocannon drives every row from this process
 * with the same connections; rows are interleaved over several rounds and the median is kept.
 * HAProxy and nginx get one thread / worker, as the gateway has one process; `--proxy-defaults`
 * adds rows with their default thread and worker counts. `--profile` runs the gateway under
 * `node --cpu-prof` and prints where its time went.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from './servers/cpu-profile.js';
import {
  HAPROXY,
  NGINX,
  freePort,
  startHaproxy,
  startNginx,
  type RunningProxy,
} from '../packages/gateway/test/support/proxies.js';

/** The part of autocannon's result this bench reads (the package ships no types). */
interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
  timeouts: number;
}
type Autocannon = (
  options: { url: string; connections: number; duration: number; overallRate?: number },
  done: (err: Error | null, result: LoadResult) => void,
) => unknown;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

type Row = 'direct' | 'gateway' | 'haproxy' | 'nginx' | 'haproxy-auto' | 'nginx-auto';
const LABELS: Record<Row, string> = {
  direct: 'direct (one backend)',
  gateway: 'built-in gateway (1 process)',
  haproxy: 'HAProxy 2.6, nbthread 1',
  nginx: 'nginx 1.22, worker_processes 1',
  'haproxy-auto': 'HAProxy 2.6, default threads (one per CPU)',
  'nginx-auto': 'nginx 1.22, worker_processes auto',
};

/** The exported HAProxy config with `nbthread` set (undefined: HAProxy's default, one per CPU). */
function haproxyThreads(config: string, threads: number | undefined): string {
  return threads === undefined ? config : config.replace(/^global$/m, `global\n    nbthread ${threads}`);
}

function nginxWorkers(config: string, workers: number | undefined): string {
  return workers === undefined
    ? config
    : config.replace('worker_processes auto;', `worker_processes ${workers};`);
}

const BODY = JSON.stringify({ ok: true, message: 'hello from a Stateline instance' });

/** Child: one backend, like a small app endpoint, with /healthz for the proxies' checks. */
function serveBackend(id: string): void {
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
      return;
    }
    res
      .writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(BODY)),
        'x-stateline-instance': id,
      })
      .end(BODY);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
}

/** Child: the built-in gateway in front of the backends given on the command line. */
async function serveGateway(ports: number[]): Promise<void> {
  const { createGateway } = await import('@stateline/gateway');
  const gw = createGateway({ balance: 'round-robin', health: { interval: 1000 }, metrics: true });
  ports.forEach((p, k) => gw.add({ id: `b${k + 1}`, url: `http://127.0.0.1:${p}` }));
  const { port } = await gw.listen(0, '127.0.0.1');
  const until = Date.now() + 10_000;
  while (!gw.instances().every((i) => i.state === 'up') && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
  }
  process.send!({ port });
  process.on('message', (m) => {
    if (m === 'stats') process.send!({ stats: gw.instances() });
  });
  process.on('SIGTERM', () => void gw.close().then(() => process.exit(0)));
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function start(
  args: string[],
  execArgv: string[] = [],
): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', ...args], {
    execArgv: ['--import', 'tsx', ...execArgv],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
  return { child, port };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function load(
  port: number,
  duration: number,
  connections: number,
  overallRate?: number,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const rate = overallRate ? { overallRate } : {};
    autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration, ...rate }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time the serving process(es) used per answered request, in µs (less noisy than req/s on shared cores). */
  cpuPerReq: number;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process (all its threads), in clock ticks; 0 once it is gone. */
function ticks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** A process and its children (nginx's workers). */
function family(pid: number): number[] {
  const out = [pid];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function cpuMicros(pids: number[]): number {
  return (pids.reduce((n, p) => n + ticks(p), 0) * 1e6) / CLOCK_TICKS;
}

async function main(): Promise<void> {
  const duration = arg('duration', 5);
  const connections = arg('connections', 50);
  const rounds = arg('rounds', 3);
  const profile = process.argv.includes('--profile');
  const profileDir = profile ? mkdtempSync(join(tmpdir(), 'sl-gw-prof-')) : undefined;

  const backends = [await start(['backend', 'b1']), await start(['backend', 'b2'])];
  const ports = backends.map((b) => b.port);
  const gateway = await start(
    ['gateway', ...ports.map(String)],
    profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  );
  const instances = ports.map((p, k) => ({ id: `b${k + 1}`, address: `127.0.0.1:${p}` }));
  const { exportHaproxy, exportNginx } = await import('@stateline/gateway');
  const proxies: RunningProxy[] = [];
  const targets: Partial<Record<Row, number>> = { direct: ports[0]!, gateway: gateway.port };
  // Whose CPU time a row costs: the backend for direct, the proxy (and its workers) otherwise.
  const pidOf: Partial<Record<Row, number>> = {
    direct: backends[0]!.child.pid!,
    gateway: gateway.child.pid!,
  };
  const missing: string[] = [];
  // The gateway is one process (one core); the main rows give HAProxy and nginx one thread or
  // worker too. `--proxy-defaults` adds rows with their defaults (one thread/worker per CPU).
  const variants: [Row, number | undefined][] = process.argv.includes('--proxy-defaults')
    ? [
        ['haproxy', 1],
        ['nginx', 1],
        ['haproxy-auto', undefined],
        ['nginx-auto', undefined],
      ]
    : [
        ['haproxy', 1],
        ['nginx', 1],
      ];
  for (const [row, threads] of variants) {
    const isHaproxy = row.startsWith('haproxy');
    const bin = isHaproxy ? HAPROXY : NGINX;
    if (!existsSync(bin)) {
      if (!missing.includes(bin)) missing.push(bin);
      continue;
    }
    const port = await freePort();
    const options = { balance: 'round-robin' as const, instances, host: '127.0.0.1', port };
    proxies.push(
      isHaproxy
        ? await startHaproxy(haproxyThreads(exportHaproxy(options), threads), port)
        : await startNginx(nginxWorkers(exportNginx(options), threads), port),
    );
    targets[row] = port;
    pidOf[row] = proxies.at(-1)!.child.pid!;
  }

  const rows = (Object.keys(targets) as Row[]).filter((r) => targets[r] !== undefined);
  const samples: Record<string, Sample[]> = {};
  let profileWindow: { from: number; to: number } | undefined;
  let fixedRate = 0;
  const fixedP99: Partial<Record<Row, number>> = {};
  try {
    for (const r of rows) await load(targets[r]!, 1, connections); // warm-up (JIT, pools)
    for (let round = 0; round < rounds; round++) {
      for (const r of rows) {
        const from = Number(process.hrtime.bigint() / 1000n);
        const pids = family(pidOf[r]!);
        const cpuBefore = cpuMicros(pids);
        const res = await load(targets[r]!, duration, connections);
        const cpu = cpuMicros(pids) - cpuBefore;
        if (r === 'gateway' && !profileWindow)
          profileWindow = { from, to: Number(process.hrtime.bigint() / 1000n) };
        (samples[r] ??= []).push({
          rps: res.requests.average,
          p50: res.latency.p50,
          p99: res.latency.p99,
          errors: res.errors + res.non2xx + res.timeouts,
          cpuPerReq: cpu / Math.max(1, res.requests.total),
        });
        process.stderr.write(
          `round ${round + 1} ${r}: ${Math.round(res.requests.average)} req/s p99 ${res.latency.p99} ms\n`,
        );
      }
    }
    // Latency the proxy adds, apart from queueing: every row at the same fixed rate, half of what
    // the gateway sustains flat out. (At saturation p99 is mostly queueing: by Little's law
    // 50 connections over N req/s wait 50/N s on average, so it restates the throughput gap.)
    const gwRps = median(samples.gateway!.map((x) => x.rps));
    fixedRate = Math.max(100, Math.round(gwRps / 2 / 100) * 100);
    for (const r of rows.filter((x) => x === 'direct' || x === 'gateway' || x === 'haproxy')) {
      const p99s: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const res = await load(targets[r]!, duration, connections, fixedRate);
        p99s.push(res.latency.p99);
        if (res.errors + res.non2xx + res.timeouts > 0)
          samples[r]!.at(-1)!.errors += res.errors + res.non2xx + res.timeouts;
      }
      fixedP99[r] = median(p99s);
      process.stderr.write(`fixed ${fixedRate} req/s ${r}: p99 ${fixedP99[r]} ms\n`);
    }
    const stats = await new Promise<unknown>((resolve) => {
      gateway.child.once('message', (m) => resolve((m as { stats: unknown }).stats));
      gateway.child.send('stats');
    });
    process.stderr.write(`gateway instances after the run: ${JSON.stringify(stats)}\n`);
  } finally {
    await stop(gateway.child);
    for (const p of proxies) await p.stop();
    for (const b of backends) await stop(b.child);
  }

  const summary = Object.fromEntries(
    rows.map((r) => {
      const s = samples[r]!;
      return [
        r,
        {
          rps: median(s.map((x) => x.rps)),
          p50: median(s.map((x) => x.p50)),
          p99: median(s.map((x) => x.p99)),
          errors: s.reduce((n, x) => n + x.errors, 0),
          cpuPerReq: median(s.map((x) => x.cpuPerReq)),
        },
      ];
    }),
  ) as Record<Row, Sample>;
  const direct = summary.direct;
  const haproxy = summary.haproxy;
  console.log(
    `\ngateway: GET / (${BODY.length}-byte JSON) on two node:http backends, ${connections} connections, ${rounds} rounds of ${duration} s per row, medians\n`,
  );
  console.log(
    '| row | req/s | p50 ms | p99 ms | errors | req/s vs direct | req/s vs HAProxy (nbthread 1) | CPU µs/req of the proxy (direct: of the backend) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const s = summary[r];
    const vsHaproxy = haproxy ? (s.rps / haproxy.rps).toFixed(2) : 'n/a';
    console.log(
      `| ${LABELS[r]} | ${Math.round(s.rps)} | ${s.p50} | ${s.p99} | ${s.errors} | ${(s.rps / direct.rps).toFixed(2)} | ${vsHaproxy} | ${s.cpuPerReq.toFixed(1)} |`,
    );
  }
  if (missing.length) console.log(`\nnot measured (not installed): ${missing.join(', ')}`);
  const gw = summary.gateway;
  console.log(
    `\nsame ${connections} connections at a fixed ${fixedRate} req/s (half the gateway's flat-out rate), p99 ms:`,
  );
  console.log('| row | p99 ms | added over direct |');
  console.log('| --- | ---: | ---: |');
  for (const r of Object.keys(fixedP99) as Row[]) {
    console.log(
      `| ${LABELS[r]} | ${fixedP99[r]} | ${r === 'direct' ? '—' : `+${fixedP99[r]! - fixedP99.direct!}`} |`,
    );
  }
  const added = fixedP99.gateway! - fixedP99.direct!;
  const throughputOk = haproxy ? gw.rps >= 0.5 * haproxy.rps : undefined;
  const latencyOk = added <= 2;
  console.log(
    `\ntarget: gateway >= 0.5x HAProxy req/s: ${throughputOk === undefined ? 'n/a (no HAProxy)' : throughputOk ? 'PASS' : 'FAIL'}` +
      `${haproxy ? ` (${(gw.rps / haproxy.rps).toFixed(2)}x)` : ''}; gateway adds <= 2 ms p99 over direct at ${fixedRate} req/s: ${latencyOk ? 'PASS' : 'FAIL'} (+${added} ms)` +
      `; flat out it adds +${gw.p99 - direct.p99} ms (queueing)`,
  );
  const auto = summary['haproxy-auto'];
  if (auto) console.log(`vs HAProxy with its default threads: ${(gw.rps / auto.rps).toFixed(2)}x`);
  if (profileDir) {
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      const p = summarizeProfile(join(profileDir, file), 15, profileWindow);
      console.log(
        `\ngateway CPU profile (first measured round): busy ${Math.round(p.busyMs)} ms, idle ${Math.round(p.idleMs)} ms`,
      );
      for (const o of p.owners) console.log(`  ${o.pct.toFixed(1)}%  ${o.name}`);
      console.log('  top functions (self time):');
      for (const f of p.functions) console.log(`  ${f.pct.toFixed(1)}%  ${f.name}`);
    }
    rmSync(profileDir, { recursive: true, force: true });
  }
  if (Object.values(summary).some((s) => s.errors > 0) || throughputOk === false || !latencyOk)
    process.exitCode = 1;
}

if (process.argv[2] === '--serve') {
  if (process.argv[3] === 'backend') serveBackend(process.argv[4]!);
  else await serveGateway(process.argv.slice(4).map(Number));
} else await main();
