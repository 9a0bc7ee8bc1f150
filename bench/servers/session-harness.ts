/**
 * What the session benches share: a connection's cookie jar and counter check, one lean load run,
 * and the server children (bench/servers/session-server.ts) they start, query and stop.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { httpLoad, type ConnectionHooks } from './http-loader.js';
import type { ChildMessage, Row, ServerStats } from './rows.js';

export type Workload = 'read' | 'hit';

/** One load run's figures. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Answers received (any status). */
  requests: number;
  firstError?: string;
}

const SERVER = new URL('./session-server.ts', import.meta.url).pathname;
/** Every server child still running. */
export const children = new Set<ChildProcess>();

/** One connection's cookies and what it saw of its session counter. */
export class Jar {
  private readonly cookies = new Map<string, string>();
  header = '';
  /** Last counter value this connection saw. */
  last: number | undefined;
  /** The value every `/read` of the current run must show. */
  readValue: number | undefined;
  /** True at the start of a run: the first answer may skip values lost when the previous run stopped. */
  fresh = true;
  responses = 0;
  /** Bytes of the Cookie header sent and of the Set-Cookie lines received, over `responses`. */
  cookieBytes = 0;
  setCookieBytes = 0;
  anomalies = 0;
  firstAnomaly = '';

  /** autocannon's answer headers. */
  absorb(headers: Record<string, string | string[]>): void {
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() === 'set-cookie') this.absorbLines(Array.isArray(value) ? value : [value]);
    }
  }

  /** An answer's Set-Cookie lines; `header` changes (a new string) only when there was one. */
  absorbLines(lines: readonly string[]): void {
    if (lines.length === 0) return;
    for (const line of lines) {
      const pair = line.slice(0, line.indexOf(';') === -1 ? line.length : line.indexOf(';'));
      const eq = pair.indexOf('=');
      const cookie = pair.slice(0, eq).trim();
      if (/;\s*max-age=0/i.test(line) || pair.slice(eq + 1) === '') this.cookies.delete(cookie);
      else this.cookies.set(cookie, pair.slice(eq + 1));
    }
    this.header = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private anomaly(what: string): void {
    if (this.anomalies++ === 0) this.firstAnomaly = what;
  }

  /** Checks one answer of a session row against what this connection saw before. */
  check(workload: Workload, status: number, n: number | undefined): void {
    this.responses++;
    if (status !== 200 || n === undefined)
      return this.anomaly(`${workload}: status ${status}, hits ${String(n)}`);
    if (workload === 'hit') {
      const ok = this.fresh ? this.last === undefined || n > this.last : n === (this.last ?? 0) + 1;
      if (!ok) this.anomaly(`hit: got ${n} after ${String(this.last)}`);
      this.last = n;
    } else {
      const ok = this.fresh ? this.last === undefined || n >= this.last : n === this.readValue;
      if (!ok)
        this.anomaly(
          `read: got ${n}, expected ${String(this.fresh ? `>= ${String(this.last)}` : this.readValue)}`,
        );
      this.readValue = n;
      this.last = n;
    }
    this.fresh = false;
  }
}

export const HITS = /"hits":(\d+)/;

/** Busy CPU time of the whole machine in µs (every process, ours and everyone else's), or null off Linux. */
export function machineBusyMicros(): number | null {
  if (!existsSync('/proc/stat')) return null;
  // First line: cpu user nice system idle iowait irq softirq steal …, in USER_HZ (100) ticks.
  const t = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (t[i] ?? 0), 0);
  return busy * 10_000;
}

/** One run of `workload` with the lean loader: each connection sends its jar's cookies, checks its counter. */
export async function loadLean(
  port: number,
  workload: Workload,
  seconds: number,
  jars: Jar[],
  session: boolean,
  dropCookies = false,
): Promise<LoadResult> {
  const connections = jars.map((jar): ConnectionHooks => ({
    cookieHeader: () => (dropCookies ? '' : jar.header),
    onResponse(status, body, setCookies) {
      jar.cookieBytes += dropCookies ? 0 : jar.header.length;
      for (const line of setCookies) jar.setCookieBytes += line.length;
      jar.absorbLines(setCookies);
      if (!session) return;
      const m = HITS.exec(body);
      jar.check(workload, status, m ? Number(m[1]) : undefined);
    },
  }));
  const result = await httpLoad({ port, path: `/${workload}`, duration: seconds, connections });
  const out = {
    rps: result['2xx'] / result.duration,
    p50: result.histogram.getValueAtPercentile(50) / 1000,
    p99: result.histogram.getValueAtPercentile(99) / 1000,
    errors: result.non2xx + result.errors + result.timeouts,
    requests: result['2xx'] + result.non2xx,
    ...(result.firstError ? { firstError: result.firstError } : {}),
  };
  result.histogram.destroy();
  return out;
}

/**
 * Starts a row's server child (`session-server.ts <row> <prefix> [...extra]`) and waits for its
 * port. `server` is another checkout's session-server.ts when a row is compared with a previous
 * build of the library (`--baseline`): it resolves `stateline` from its own tree.
 */
export function startChild(
  row: Pick<Row, 'name'>,
  prefix: string,
  profileDir: string | undefined,
  extra: string[] = [],
  server: string = SERVER,
): Promise<{ child: ChildProcess; port: number }> {
  const execArgv = ['--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const child = fork(server, [row.name, prefix, ...extra], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${row.name}: server not ready after 60 s`)), 60_000);
    child.on('message', (msg: ChildMessage) => {
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve({ child, port: msg.port });
      } else if (msg.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`${row.name}: server failed to start: ${msg.message}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${row.name}: server exited (${String(code)}) before it was ready`));
    });
  });
}

export function statsOf(child: ChildProcess): Promise<ServerStats> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no stats from the server child')), 10_000);
    const onMessage = (msg: ChildMessage) => {
      if (msg.type !== 'stats') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(msg.stats);
    };
    child.on('message', onMessage);
    child.send('stats');
  });
}

/** Asks the child to stop (it closes its server and clients, then exits); kills it if it does not. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send('stop');
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
