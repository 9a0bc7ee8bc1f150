import { readFileSync } from 'node:fs';
import type { Bottleneck, LoadReport } from './report.js';

/** Clock ticks per second of /proc (USER_HZ, 100 on Linux). */
const HZ = 100;

/** Busy and total jiffies of the whole host (first line of /proc/stat), or null off Linux. */
function hostTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    // idle + iowait are not busy
    return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
  } catch {
    return null;
  }
}

/** User + system CPU seconds of process `pid` from /proc/<pid>/stat, or null when it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: the fields after it start past the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / HZ;
  } catch {
    return null;
  }
}

/**
 * CPU during one run's load: the host's busy share, the store server's CPU (by its pid, followed
 * across a restart) and the lab process's own (gateway and virtual users), sampled once a second.
 *
 * @example
 * ```ts
 * const probe = new CpuProbe(() => store.pid?.());
 * probe.start();
 * // … load …
 * const cpu = probe.stop(); // { hostBusy: 0.93, storeSeconds: 1.2, gatewaySeconds: 8.1, seconds: 10 }
 * ```
 */
export class CpuProbe {
  private readonly seen = new Map<number, { first: number; last: number }>();
  private host: { busy: number; total: number } | null = null;
  private lab = process.cpuUsage();
  private began = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly storePid: () => number | undefined) {}

  private sampleStore(): void {
    const pid = this.storePid();
    if (pid === undefined) return;
    const s = processCpuSeconds(pid);
    if (s === null) return;
    const known = this.seen.get(pid);
    // A server started during the load counts from zero (it did all its work in this run).
    if (known) known.last = s;
    else this.seen.set(pid, { first: this.seen.size === 0 ? s : 0, last: s });
  }

  start(): void {
    this.host = hostTicks();
    this.lab = process.cpuUsage();
    this.began = performance.now();
    this.sampleStore();
    this.timer = setInterval(() => this.sampleStore(), 1000);
    this.timer.unref();
  }

  /** Ends the sampling: seconds of wall time, host busy share, and CPU seconds of store and lab. */
  stop(): { seconds: number; hostBusy: number | null; storeSeconds: number | null; gatewaySeconds: number } {
    clearInterval(this.timer);
    this.sampleStore();
    const seconds = (performance.now() - this.began) / 1000;
    const end = hostTicks();
    const hostBusy =
      this.host && end && end.total > this.host.total
        ? (end.busy - this.host.busy) / (end.total - this.host.total)
        : null;
    const lab = process.cpuUsage(this.lab);
    const storeSeconds = this.seen.size
      ? [...this.seen.values()].reduce((a, x) => a + Math.max(0, x.last - x.first), 0)
      : null;
    return { seconds, hostBusy, storeSeconds, gatewaySeconds: (lab.user + lab.system) / 1e6 };
  }
}

/** A single-threaded process this close to one full core is saturated. */
const ONE_CORE = 0.85;
/** The host this busy has no CPU left to give. */
const HOST_FULL = 0.9;

/**
 * Where the CPU went during a load, in cores, and what most likely capped it: the store server
 * or the lab's gateway when either is near one full core (both are single-threaded), else the
 * host when its CPUs are nearly all busy, else none.
 *
 * @example
 * ```ts
 * loadReport({ seconds: 10, hostBusy: 0.97, storeSeconds: null, gatewaySeconds: 6 }, 12); // bottleneck 'host-cpu'
 * ```
 */
export function loadReport(
  cpu: { seconds: number; hostBusy: number | null; storeSeconds: number | null; gatewaySeconds: number },
  instanceSeconds: number | null,
): LoadReport {
  const per = (s: number) => (cpu.seconds > 0 ? Math.round((s / cpu.seconds) * 100) / 100 : 0);
  const storeCores = cpu.storeSeconds === null ? null : per(cpu.storeSeconds);
  const gatewayCores = per(cpu.gatewaySeconds);
  const hostBusy = Math.round((cpu.hostBusy ?? 0) * 100) / 100;
  let bottleneck: Bottleneck = 'none';
  if (storeCores !== null && storeCores >= ONE_CORE) bottleneck = 'store';
  else if (gatewayCores >= ONE_CORE) bottleneck = 'gateway';
  else if (hostBusy >= HOST_FULL) bottleneck = 'host-cpu';
  return {
    hostBusy,
    instanceCores: instanceSeconds === null ? null : per(instanceSeconds),
    storeCores,
    gatewayCores,
    bottleneck,
  };
}
