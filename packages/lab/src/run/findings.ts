import type { LabReport, RunReport } from './report.js';

/** One trade-off row of "What this run shows", stated from this run's numbers. */
export interface Finding {
  topic:
    | 'Scalability'
    | 'Fault tolerance'
    | 'Performance'
    | 'Resource usage'
    | 'Payload size'
    | 'Caching'
    | 'Deployment'
    | 'Strategy switch';
  sentences: string[];
  /** A verdict row (a strategy switch) whose check did not hold; absent on plain trade-off rows. */
  failed?: boolean;
}

type Ran = RunReport & {
  requests: number;
  throughput: number;
  errors: number;
  sessionsLost: number;
  latencyMs: NonNullable<RunReport['latencyMs']>;
};

// A run through HAProxy or nginx (`--proxy`) is named apart from the same config's built-in one.
const c = (r: RunReport) => `\`${r.config}\`${r.proxy !== 'builtin' ? ` via ${r.proxy}` : ''}`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);
const fmt = (n: number, digits = 1) => n.toFixed(digits);

function ran(runs: readonly RunReport[]): Ran[] {
  return runs.filter((r): r is Ran => r.skipped === null && r.requests !== null && r.latencyMs !== null);
}

function byValue<T extends RunReport>(list: T[], pick: (r: T) => number | null): (T & { v: number })[] {
  return list
    .map((r) => Object.assign({}, r, { v: pick(r) }))
    .filter((r): r is T & { v: number } => r.v !== null)
    .sort((a, b) => a.v - b.v);
}

function scalability(list: Ran[], report: LabReport): string[] {
  const out: string[] = [];
  const { instances, users } = report.options;
  const fastest = byValue(list, (r) => r.throughput).reverse();
  if (fastest.length > 0) {
    const top = fastest[0]!;
    const low = fastest[fastest.length - 1]!;
    out.push(
      `With ${plural(instances, 'instance')} and ${users} virtual users, ${c(top)} served the most (${fmt(top.v, 0)} req/s)` +
        (fastest.length > 1 ? ` and ${c(low)} the least (${fmt(low.v, 0)} req/s).` : '.'),
    );
  }
  for (const r of list) {
    const before = r.sessionsLostBeforeFault ?? 0;
    if (before > 0)
      out.push(
        `${c(r)} lost ${plural(before, 'session')} before any fault (balance ${r.balance}): a request that reaches an instance other than the one holding the session finds nothing, so adding instances does not add capacity for this state.`,
      );
  }
  const shared = list.filter((r) => (r.sessionsLostBeforeFault ?? 0) === 0);
  if (shared.length > 0)
    out.push(
      `${shared.map(c).join(', ')} lost no session before the first fault while the gateway spread users over the instances (${[...new Set(shared.map((r) => r.balance))].join(', ')}).`,
    );
  return out;
}

function faultTolerance(list: Ran[]): string[] {
  const out: string[] = [];
  for (const r of list) {
    const kill = r.faults.find((f) => f.kind === 'kill');
    const storeRestart = r.faults.find((f) => f.kind === 'store-restart');
    if (!kill && !storeRestart) {
      out.push(
        `${c(r)} ran without faults: ${plural(r.errors, 'error')}, ${plural(r.sessionsLost, 'lost session')}, ${plural(r.lostUpdates ?? 0, 'lost update')}, ${plural(r.staleReads ?? 0, 'stale read')}.`,
      );
      continue;
    }
    const parts: string[] = [];
    if (kill) {
      const after = r.sessionsLost - (r.sessionsLostBeforeFault ?? 0);
      const recovered =
        r.recoveryMs === null
          ? 'users never had two seconds without an error or a lost session before the end'
          : r.recoveryMs === 0
            ? 'users saw no error and no lost session in the seconds after it'
            : `users saw no more errors or lost sessions ${ms(r.recoveryMs)} after it`;
      parts.push(
        `killing ${kill.target} at ${ms(kill.at)} cost ${plural(after, 'session')} from then on, and ${recovered}`,
      );
    }
    if (storeRestart) {
      const window = r.timeline.filter(
        (p) => p.t * 1000 >= storeRestart.at - 1000 && p.t * 1000 < storeRestart.at + 5000,
      );
      const errs = window.reduce((a, p) => a + p.errors, 0);
      parts.push(
        `restarting the store server at ${ms(storeRestart.at)} was followed by ${plural(errs, 'error')} within 5 s`,
      );
    }
    out.push(
      `${c(r)}: ${parts.join('; ')}. In all: ${plural(r.errors, 'error')}, ${plural(r.sessionsLost, 'lost session')}, ${plural(r.lostUpdates ?? 0, 'lost update')}, ${plural(r.staleReads ?? 0, 'stale read')}, ${plural(r.duplicateOrders ?? 0, 'duplicate order')}.`,
    );
  }
  // What the workload's own checks and timings say (an entities run: oversold, lost, takeover).
  for (const r of list) {
    const counted = Object.entries(r.counters ?? {}).map(([k, v]) => `${k} ${v}`);
    const timed = Object.entries(r.timings ?? {}).map(
      ([k, t]) => `${k} p99 ${ms(t.p99)} (max ${ms(t.max)}, ${plural(t.count, 'sample')})`,
    );
    if (counted.length + timed.length > 0)
      out.push(`${c(r)}, by the workload's own count: ${[...counted, ...timed].join(', ')}.`);
  }
  const clean = list.filter(
    (r) =>
      r.sessionsLost === 0 &&
      (r.lostUpdates ?? 0) === 0 &&
      (r.staleReads ?? 0) === 0 &&
      (r.duplicateOrders ?? 0) === 0,
  );
  if (clean.length > 0 && clean.length < list.length)
    out.push(
      `Only ${clean.map(c).join(', ')} came through without losing a session or an update, serving a stale read or making an order twice.`,
    );
  else if (clean.length === list.length && list.length > 1)
    out.push('Every config came through without losing a session, an update or making an order twice.');
  return out;
}

function performance(list: Ran[]): string[] {
  const sorted = byValue(list, (r) => r.latencyMs.p99);
  if (sorted.length === 0) return [];
  const best = sorted[0]!;
  const worst = sorted[sorted.length - 1]!;
  const out = [
    `Lowest p99 latency: ${c(best)} at ${fmt(best.v)} ms (p50 ${fmt(best.latencyMs.p50)} ms); highest: ${c(worst)} at ${fmt(worst.v)} ms (p50 ${fmt(worst.latencyMs.p50)} ms)` +
      (best.v > 0 && sorted.length > 1 ? `, ${fmt(worst.v / best.v)}× the lowest.` : '.'),
  ];
  for (const r of list)
    out.push(
      `${c(r)}: p50 ${fmt(r.latencyMs.p50)} ms, p95 ${fmt(r.latencyMs.p95)} ms, p99 ${fmt(r.latencyMs.p99)} ms, max ${fmt(r.latencyMs.max, 0)} ms at ${fmt(r.throughput, 0)} req/s.`,
    );
  // `--proxy`: each config through the external proxy beside its built-in run of the same lab run.
  for (const r of list) {
    if (r.proxy === 'builtin') continue;
    const own = list.find(
      (b) =>
        b.proxy === 'builtin' &&
        b.config === r.config &&
        b.instances === r.instances &&
        b.stateSize === r.stateSize,
    );
    if (!own || own.throughput <= 0) continue;
    out.push(
      `${c(r)}: ${fmt(r.throughput, 0)} req/s and p99 ${fmt(r.latencyMs.p99)} ms, against ${fmt(own.throughput, 0)} req/s and p99 ${fmt(own.latencyMs.p99)} ms through the built-in gateway (${fmt(r.throughput / own.throughput, 2)}× its throughput).`,
    );
  }
  return out;
}

function resources(list: Ran[]): string[] {
  const out: string[] = [];
  const cpu = byValue(list, (r) => r.cpuSecondsPer1k);
  if (cpu.length > 0) {
    const lo = cpu[0]!;
    const hi = cpu[cpu.length - 1]!;
    out.push(
      `CPU per 1,000 requests (all instances): from ${fmt(lo.v, 2)} s for ${c(lo)} to ${fmt(hi.v, 2)} s for ${c(hi)}.`,
    );
  }
  const rss = byValue(list, (r) => r.rssMb);
  if (rss.length > 0) {
    const lo = rss[0]!;
    const hi = rss[rss.length - 1]!;
    out.push(
      `Largest instance memory: ${fmt(lo.v, 0)} MB with ${c(lo)}, up to ${fmt(hi.v, 0)} MB with ${c(hi)}.`,
    );
  }
  const ops = byValue(list, (r) => r.storeOpsPerRequest);
  if (ops.length > 0)
    out.push(`Store operations per request: ${ops.map((r) => `${c(r)} ${fmt(r.v, 2)}`).join(', ')}.`);
  return out;
}

/** Differences below this share of the leanest config are called "about the same". */
const SAME_BYTES = 0.05;

function payload(list: Ran[]): string[] {
  const sorted = byValue(list, (r) => r.bytesPerRequest);
  if (sorted.length === 0) return [];
  const lo = sorted[0]!;
  const out = [
    `Header bytes per request (both directions): ${sorted.map((r) => `${c(r)} ${r.v}`).join(', ')}.`,
  ];
  const near = sorted.filter((r) => r.v - lo.v < lo.v * SAME_BYTES);
  if (near.length > 1)
    out.push(
      `${near.map(c).join(', ')} were within ${plural(near[near.length - 1]!.v - lo.v, 'byte')} of each other.`,
    );
  for (const r of sorted.filter((x) => !near.includes(x))) {
    const extra = r.v - lo.v;
    out.push(
      `${c(r)} carried ${plural(extra, 'byte')} more per request than ${c(lo)} (${fmt((extra / lo.v) * 100, 0)}% more)` +
        (r.strategy === 'token' ? ': the session itself travels in the cookie, both ways.' : '.'),
    );
  }
  return out;
}

function caching(list: Ran[]): string[] {
  const out: string[] = [];
  // Configs with the same revalidation outcome share one sentence.
  const groups = new Map<string, Ran[]>();
  for (const r of list) {
    const cache = r.cache;
    if (!cache || cache.conditionalRequests === 0) continue;
    const share = fmt((cache.notModified / cache.conditionalRequests) * 100, 0);
    groups.set(share, [...(groups.get(share) ?? []), r]);
  }
  for (const [share, group] of groups) {
    const counts = group.map((r) => `${c(r)} ${r.cache!.notModified} of ${r.cache!.conditionalRequests}`);
    out.push(
      `${share}% of the catalogue requests revalidated with If-None-Match were answered 304 Not Modified, without a body (${counts.join(', ')}).`,
    );
  }
  for (const r of list) {
    if (r.cache?.nearCacheHitRatio == null) continue;
    out.push(
      `${c(r)}: the near cache answered ${fmt(r.cache.nearCacheHitRatio * 100, 0)}% of session reads.`,
    );
  }
  const hybrid = list.filter((r) => r.strategy === 'hybrid' && r.storeOpsPerRequest !== null);
  const server = list.filter((r) => r.strategy === 'server' && r.storeOpsPerRequest !== null);
  for (const h of hybrid) {
    const twin = server.find((s) => s.store === h.store) ?? server[0];
    if (twin)
      out.push(
        `${c(h)} made ${fmt(h.storeOpsPerRequest!, 2)} store operations per request against ${fmt(twin.storeOpsPerRequest!, 2)} for ${c(twin)}.`,
      );
  }
  return out;
}

function deployment(list: Ran[], report: LabReport): string[] {
  const out: string[] = [];
  for (const r of list) {
    const needs = [`${plural(report.options.instances, 'instance')} behind the gateway`];
    if (r.store === 'sqlite') needs.push('one SQLite file on the same machine (no server)');
    if (r.store === 'redis') needs.push('a Redis server');
    if (r.store === 'redis-cluster') needs.push('a Redis Cluster (Store, Bus and chat Log)');
    if (r.store === 'postgres') needs.push('a PostgreSQL server');
    if (r.balance === 'sticky') needs.push('sticky routing at the balancer');
    if (r.replication !== 'off') needs.push(`peer replication (${r.replication}) over the bus`);
    if (r.strategy === 'token') needs.push('the same session keys on every instance');
    out.push(
      `${c(r)} needed ${needs.join(', ')}; its cluster took ${ms(r.startupMs ?? 0)} to pass its health checks.`,
    );
  }
  return out;
}

/**
 * A switch run's restarts for the report's fault list: `switch i1 at 6.0 s (serving at 6.9 s)`.
 *
 * @example
 * ```ts
 * switchSteps(run); // ['switch i1 at 6.0 s (serving at 6.9 s)', …]
 * ```
 */
export function switchSteps(r: RunReport): string[] {
  const s = (n: number) => `${(n / 1000).toFixed(1)} s`;
  return (r.switch?.steps ?? []).map(
    (x) =>
      `switch ${x.id} at ${s(x.at)} (${x.upAt === null ? 'not serving again' : `serving at ${s(x.upAt)}`})`,
  );
}

/** One row per strategy switch: what the rolling restart cost, failed when anything was lost. */
function switches(list: Ran[]): Finding[] {
  return list.flatMap((r): Finding[] => {
    const sw = r.switch;
    if (!sw) return [];
    const lostUpdates = r.lostUpdates ?? 0;
    const switched = sw.steps.filter((s) => s.upAt !== null).length;
    const took = sw.steps.length > 0 ? (sw.steps.at(-1)!.upAt ?? r.durationMs ?? 0) - sw.steps[0]!.at : 0;
    const sentences = [
      `${c(r)}: ${plural(switched, 'instance')} restarted one at a time from \`${sw.from}\` to \`${sw.to}\` under load in ${ms(took)}; ` +
        `${plural(r.sessionsLost, 'session')} and ${plural(lostUpdates, 'update')} lost.`,
      sw.passed
        ? 'Passed: nobody was logged out and no cart change went missing.'
        : 'Failed: a switch must lose no session and no update (and switch every instance).',
    ];
    return [{ topic: 'Strategy switch', sentences, failed: !sw.passed }];
  });
}

/**
 * "What this run shows": every trade-off row stated from this report's numbers, config by config.
 * Nothing here is fixed prose: a run with other numbers reads differently.
 *
 * @example
 * ```ts
 * for (const f of findings(report)) console.log(f.topic, f.sentences.join(' '));
 * ```
 */
export function findings(report: LabReport): Finding[] {
  const list = ran(report.runs);
  if (list.length === 0) return [];
  const rows: Finding[] = [
    { topic: 'Scalability', sentences: scalability(list, report) },
    { topic: 'Fault tolerance', sentences: faultTolerance(list) },
    { topic: 'Performance', sentences: performance(list) },
    { topic: 'Resource usage', sentences: resources(list) },
    { topic: 'Payload size', sentences: payload(list) },
    { topic: 'Caching', sentences: caching(list) },
    { topic: 'Deployment', sentences: deployment(list, report) },
    ...switches(list),
  ];
  return rows.filter((f) => f.sentences.length > 0);
}
