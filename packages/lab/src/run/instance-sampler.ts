import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { sumMetric } from './metrics-text.js';

/** An instance process the sampler should look at (from the cluster's status). */
export interface SampledInstance {
  id: string;
  pid: number | null;
  url: string | null;
}

/** What one look at one process found; null where nothing could be read. */
export interface ProcessSample {
  cpuSeconds: number | null;
  rssBytes: number | null;
  storeOps: number | null;
  nearCacheHitRatio: number | null;
  /** The `memory` replication's counters (`stateline_sessions_replica…`), null without them. */
  replication: ReplicationCounts | null;
}

/** How the `memory` strategy's copies fared: what a lost session is attributed by. */
export interface ReplicationCounts {
  /** Writes no peer acknowledged in time: they stood without a copy. */
  degraded: number;
  /** Writes whose backup did not acknowledge in time, copied to the next peer instead. */
  rerouted: number;
  /** Reads of a missing session that failed because a live peer did not answer in time. */
  fetchFailures: number;
  /** Sessions fetched from a peer (a failover). */
  fetched: number;
}

const REPLICATION_METRICS: Record<keyof ReplicationCounts, string> = {
  degraded: 'stateline_sessions_replication_degraded_total',
  rerouted: 'stateline_sessions_replication_rerouted_total',
  fetchFailures: 'stateline_sessions_replica_fetch_failures_total',
  fetched: 'stateline_sessions_replicas_fetched_total',
};

function replicationOf(text: string): ReplicationCounts | null {
  const out: Partial<ReplicationCounts> = {};
  for (const [k, name] of Object.entries(REPLICATION_METRICS) as [keyof ReplicationCounts, string][]) {
    const v = sumMetric(text, name);
    if (v === null) return null;
    out[k] = v;
  }
  return out as ReplicationCounts;
}

/** The sums over every instance process of a run. */
export interface SamplerTotals {
  /** CPU seconds the instances spent between the load's start and its end. */
  cpuSeconds: number | null;
  /** Largest resident set of any instance at any sample. */
  maxRssBytes: number | null;
  /** Store calls the instances made between the load's start and its end. */
  storeOps: number | null;
  /** Mean of the instances' last `stateline_near_cache_hit_ratio`, when they expose it. */
  nearCacheHitRatio: number | null;
  /** The replication counters over the load, summed over every process; null when none exposes them. */
  replication: ReplicationCounts | null;
  /** Processes looked at (a restarted instance is a new one). */
  processes: number;
}

interface Tracked {
  baseline: ProcessSample;
  last: ProcessSample;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of a process from /proc (Linux); null elsewhere or once it is gone. */
async function procCpu(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return null;
  }
}

async function procRss(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** GET with node:http (not undici: the lab's header meter must not see it), text or null. */
export function httpText(
  url: string,
  timeout = 1000,
  method = 'GET',
): Promise<{ status: number; text: string } | null> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, timeout, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(null));
    req.end();
  });
}

/**
 * Looks at every instance process once a second while a config runs: CPU time and resident memory
 * from `/proc/<pid>` (falling back to `process_cpu_seconds_total` and
 * `process_resident_memory_bytes` from the instance's `/metrics`), and
 * `stateline_store_operations_total` (summed over `op`) from `/metrics`. A process present when the
 * load begins counts from that first look; one started later (a restart) counts from zero. A
 * killed process keeps its last look.
 *
 * @example
 * ```ts
 * const sampler = new InstanceSampler(() => cluster.status().instances);
 * await sampler.begin();
 * // … load …
 * const totals = await sampler.end(); // { cpuSeconds, maxRssBytes, storeOps, … }
 * ```
 */
export class InstanceSampler {
  private readonly tracked = new Map<string, Tracked>();
  private maxRss: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private begun = false;

  constructor(
    private readonly list: () => readonly SampledInstance[],
    private readonly interval = 1000,
  ) {}

  /** Takes the baseline of the processes running now and starts sampling. */
  async begin(): Promise<void> {
    await this.sampleAll();
    this.begun = true;
    this.timer = setInterval(() => void this.tick(), this.interval);
    this.timer.unref();
  }

  /** One last look at every live process, then the totals. */
  async end(): Promise<SamplerTotals> {
    clearInterval(this.timer);
    await this.running;
    await this.sampleAll();
    return this.totals();
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.sampleAll().finally(() => (this.running = null));
  }

  private async sampleAll(): Promise<void> {
    const live = this.list().filter((i) => i.pid !== null);
    await Promise.all(live.map((i) => this.sampleOne(i)));
  }

  private async sampleOne(i: SampledInstance): Promise<void> {
    const pid = i.pid!;
    const [cpu, rss, metrics] = await Promise.all([
      procCpu(pid),
      procRss(pid),
      i.url ? httpText(`${i.url}/metrics`) : Promise.resolve(null),
    ]);
    const text = metrics?.status === 200 ? metrics.text : '';
    const sample: ProcessSample = {
      cpuSeconds: cpu ?? sumMetric(text, 'process_cpu_seconds_total'),
      rssBytes: rss ?? sumMetric(text, 'process_resident_memory_bytes'),
      storeOps: sumMetric(text, 'stateline_store_operations_total'),
      nearCacheHitRatio: sumMetric(text, 'stateline_near_cache_hit_ratio'),
      replication: replicationOf(text),
    };
    const key = `${i.id}:${pid}`;
    const t = this.tracked.get(key);
    if (!t) {
      const zero: ProcessSample = {
        cpuSeconds: 0,
        rssBytes: null,
        storeOps: 0,
        nearCacheHitRatio: null,
        replication: null,
      };
      this.tracked.set(key, { baseline: this.begun ? zero : sample, last: sample });
    } else {
      // A process that stopped answering keeps what it last said.
      t.last = {
        cpuSeconds: sample.cpuSeconds ?? t.last.cpuSeconds,
        rssBytes: sample.rssBytes ?? t.last.rssBytes,
        storeOps: sample.storeOps ?? t.last.storeOps,
        nearCacheHitRatio: sample.nearCacheHitRatio ?? t.last.nearCacheHitRatio,
        replication: sample.replication ?? t.last.replication,
      };
    }
    if (sample.rssBytes !== null) this.maxRss = Math.max(this.maxRss ?? 0, sample.rssBytes);
  }

  /** Totals so far. */
  totals(): SamplerTotals {
    const sum = (pick: (s: ProcessSample) => number | null): number | null => {
      let total: number | null = null;
      for (const t of this.tracked.values()) {
        const last = pick(t.last);
        if (last === null) continue;
        total = (total ?? 0) + Math.max(0, last - (pick(t.baseline) ?? 0));
      }
      return total;
    };
    const ratios = [...this.tracked.values()]
      .map((t) => t.last.nearCacheHitRatio)
      .filter((r): r is number => r !== null);
    let replication: ReplicationCounts | null = null;
    for (const t of this.tracked.values()) {
      const last = t.last.replication;
      if (!last) continue;
      replication ??= { degraded: 0, rerouted: 0, fetchFailures: 0, fetched: 0 };
      for (const k of Object.keys(REPLICATION_METRICS) as (keyof ReplicationCounts)[])
        replication[k] += Math.max(0, last[k] - (t.baseline.replication?.[k] ?? 0));
    }
    return {
      replication,
      cpuSeconds: sum((s) => s.cpuSeconds),
      maxRssBytes: this.maxRss,
      storeOps: sum((s) => s.storeOps),
      nearCacheHitRatio: ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : null,
      processes: this.tracked.size,
    };
  }
}
