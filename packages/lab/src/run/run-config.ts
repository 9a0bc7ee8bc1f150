import type { Workload } from 'stateline/instance';
import { Agent } from 'undici';
import type { Cluster } from '../cluster.js';
import type { ProxyKind } from '../cluster-options.js';
import { auditCreates } from './audit.js';
import type { LabConfig } from './config.js';
import { faultHoldMs, faultWindowMs, planFaults, runFaults } from './faults.js';
import type { NetTopology } from '../netns/topology.js';
import { HeaderMeter } from './header-meter.js';
import { httpText, InstanceSampler } from './instance-sampler.js';
import type { FaultKind } from './options.js';
import { deriveSeed, mulberry32 } from './prng.js';
import { Recorder, recoveryMs, type TimelinePoint } from './recorder.js';
import { round, skippedRun as skipped, type FaultImpact, type RunReport } from './report.js';
import { rollingSwitch } from './rolling-switch.js';
import { openConfigCluster, type ConfigCluster } from './config-cluster.js';
import { CpuProbe, loadReport } from './cpu-probe.js';
import { VirtualUser } from './virtual-user.js';
import { askVictim, verifyWorkload } from './workload-checks.js';
import { loadWorkload } from './workload-module.js';

/** What the progress display is told, four times a second. */
export interface RunProgress {
  config: string;
  phase: 'starting' | 'load' | 'audit' | 'closing';
  elapsedMs: number;
  durationMs: number;
  requests: number;
  errors: number;
  sessionsLost: number;
}

/** Options of {@link runConfig}. */
export interface RunConfigOptions {
  config: LabConfig;
  /** The app module every instance runs. */
  app: string;
  /** What the virtual users do (default: the app module's `workload` export). */
  workload?: Workload<unknown>;
  durationMs: number;
  users: number;
  instances: number;
  /** Given to the workload's users as `stateSize` (`--state-size`); default null. */
  stateSize?: number | null;
  faults: readonly FaultKind[];
  seed: number;
  postgres: string;
  /** Extra environment for the instances (on top of the workload's `env(users)` and LOG_LEVEL). */
  env?: Record<string, string>;
  /** Ends the load early (Ctrl-C); the run is then reported as far as it got, without the audit. */
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  /** The run's name on the progress line (default: the config's). */
  label?: string;
  /** The instances' output (default `'ignore'`; `STATELINE_LAB_STDIO=inherit` shows it). */
  stdio?: 'ignore' | 'inherit';
  /**
   * `--network netns`: the hosts `i1…iN` and `store` the instances and the lab's store server run
   * in (this process runs in another host of it); enables the `partition` and `latency` faults.
   */
  net?: NetTopology;
  /** What the users go through (default the built-in gateway). */
  proxy?: ProxyKind;
  /**
   * A cluster kept across the lab's cells ({@link openConfigCluster}), set to `instances` for
   * this run and left running; default: a fresh Store and cluster, closed at the end.
   */
  cluster?: ConfigCluster;
  /** Added to the users' numbers, so each cell on a kept cluster has users of its own (default 0). */
  userOffset?: number;
}

/** The impairment of the `latency` fault: 50 ± 10 ms and 1 % loss between the instances and the store. */
export const LATENCY_FAULT = { delayMs: 50, jitterMs: 10, lossPct: 1 } as const;

/**
 * A fault's cost: the highest per-second p99 within `holdMs` from `at` and within as long just
 * before it, the errors within the fault's seconds, and every figure of both windows.
 */
function faultImpact(
  rec: Recorder,
  timeline: readonly TimelinePoint[],
  at: number,
  holdMs: number,
): FaultImpact {
  const from = Math.floor(at / 1000);
  const to = Math.ceil((at + holdMs) / 1000);
  const span = to - from;
  const worst = (pts: TimelinePoint[]) => {
    const v = pts.map((p) => p.p99).filter((x): x is number => x !== null);
    return v.length === 0 ? null : Math.round(Math.max(...v));
  };
  const during = timeline.filter((p) => p.t >= from && p.t < to);
  return {
    windowMs: holdMs,
    p99MsBefore: worst(timeline.filter((p) => p.t >= from - span && p.t < from)),
    p99MsDuring: worst(during),
    errorsDuring: during.reduce((n, p) => n + p.errors, 0),
    before: rec.window(Math.max(0, from - span) * 1000, from * 1000),
    during: rec.window(from * 1000, to * 1000),
  };
}

/** The counter set when the workload's `verify` could not run on any live instance. */
const VERIFY_FAILED = 'verify.failed';

const SWITCH_ONLY = 'a strategy switch run restarts every instance instead';

async function postControl(cluster: Cluster, path: string): Promise<void> {
  const r = await httpText(`${cluster.controlUrl}/_stateline/${path}`, 30_000, 'POST');
  if (!r || r.status !== 200) throw new Error(`POST /_stateline/${path} answered ${r?.status ?? 'nothing'}`);
}

/**
 * Runs one config: prepares its Store (a fresh SQLite file, the lab's own Redis, or a prefix on
 * PostgreSQL) and starts a fresh cluster (gateway + N instances of the app, with the environment
 * the workload asks for its users), or sets a kept `cluster` to N instances; runs the app's
 * workload as virtual users for the duration while the fault schedule runs, samples the
 * instances, then audits every user's idempotent creates (the workload's `audit`) to count
 * duplicates, closes what it started and returns the config's row of the report. A config whose
 * Store is unavailable is returned as skipped.
 *
 * @example
 * ```ts
 * const row = await runConfig({ config: parseConfig('server/sqlite'), app, durationMs: 20_000, users: 50, instances: 3, faults: ['kill', 'restart'], seed: 1, postgres });
 * row.sessionsLost; // 0
 * ```
 */
export async function runConfig(o: RunConfigOptions): Promise<RunReport> {
  const { config } = o;
  const proxy = o.proxy ?? 'builtin';
  const at = { instances: o.instances, stateSize: o.stateSize ?? null };
  const skippedRun = (c: LabConfig, reason: string) => skipped(c, reason, at, proxy);
  const progress = (phase: RunProgress['phase'], rec?: Recorder) =>
    o.onProgress?.({
      config: o.label ?? config.name,
      phase,
      elapsedMs: rec ? Math.min(rec.now(), o.durationMs) : 0,
      durationMs: o.durationMs,
      requests: rec?.requests ?? 0,
      errors: rec?.errors ?? 0,
      sessionsLost: rec?.sessionsLost ?? 0,
    });
  progress('starting');
  const workload = o.workload ?? (await loadWorkload(o.app, config.workload ?? undefined));
  const kinds = workload.credentials ?? ['cookie'];
  if (!kinds.includes(config.credentials))
    return skippedRun(
      config,
      `the app's workload drives ${kinds.join(' and ')} users, not ${config.credentials} (its credentials export)`,
    );
  // A cluster the lab keeps across cells, else one of this run's own.
  let own: ConfigCluster | undefined;
  let shared = o.cluster;
  if (!shared) {
    const opened = await openConfigCluster({
      config,
      app: o.app,
      workload,
      slots: o.instances,
      start: o.instances,
      seededUsers: o.users,
      postgres: o.postgres,
      proxy,
      relayStore: o.faults.includes('latency') && !config.switchTo,
      ...(o.env ? { env: o.env } : {}),
      ...(o.stdio ? { stdio: o.stdio } : {}),
      ...(o.net ? { net: o.net } : {}),
    });
    if ('skipped' in opened) return skippedRun(config, opened.skipped);
    shared = own = opened;
  }
  const { store, storeHost, netFaults, noLatency } = shared;

  let report: RunReport | undefined;
  const dispatcher = new Agent({ keepAliveTimeout: 4000, connections: o.users + 4 });
  // A network fault needs hosts of their own, and a store server on one of them.
  const storeOnHost = storeHost !== undefined && store.spec.includes(storeHost.address);
  const instanceIds = Array.from({ length: o.instances }, (_, k) => `i${k + 1}`);
  try {
    let startupMs: number;
    try {
      startupMs = own ? own.startupMs : await shared.serve(o.instances);
    } catch (err) {
      return skippedRun(config, `the cluster did not start: ${(err as Error).message}`);
    }
    const c = shared.cluster;
    const meter = new HeaderMeter(new URL(c.url).origin);
    const sampler = new InstanceSampler(() => c.status().instances);
    await sampler.begin();

    const rec = new Recorder();
    const cpu = new CpuProbe(() => store.pid?.());
    cpu.start();
    meter.start();
    const stopped = () => rec.now() >= o.durationMs || o.signal?.aborted === true;
    const tick = setInterval(() => progress('load', rec), 250);

    const netReason = !o.net ? 'network faults need --network netns' : null;
    // Cut from the store when it has a host of its own, else from the other instances (a memory
    // strategy's backups live there).
    const peersOf = (id: string) => (storeOnHost ? ['store'] : instanceIds.filter((x) => x !== id));
    const rnd = mulberry32(deriveSeed(o.seed, 0xfa17));
    const victim = `i${rnd.int(1, o.instances)}`;
    const up = () => c.status().instances.filter((i) => i.state === 'up');
    // A network fault hits the instance the gateway holds the most WebSockets to (the seeded
    // victim among equals), so realtime clients live through it; none open: the seeded victim.
    const socketsCut = new Map<string, number>();
    const netVictim = (kind: 'partition' | 'latency'): string | null => {
      const live = up();
      const most = Math.max(0, ...live.map((i) => i.websockets));
      const tied = live.filter((i) => i.websockets === most).map((i) => i.id);
      const id = most > 0 ? (tied.includes(victim) ? victim : tied[0]!) : null;
      socketsCut.set(kind, live.find((i) => i.id === (id ?? victim))?.websockets ?? 0);
      return id;
    };
    // A switch run's fault is its rolling restart: the others would blur what it costs.
    const { plan, notApplied } = config.switchTo
      ? { plan: [], notApplied: o.faults.map((kind) => ({ kind, reason: SWITCH_ONLY })) }
      : planFaults(o.faults, o.durationMs, store.restart ? null : (store.noRestart ?? 'no store server'), {
          partition: netReason,
          latency: noLatency,
        });
    const switching = config.switchTo
      ? rollingSwitch(c, config, o.durationMs, () => rec.now(), stopped)
      : Promise.resolve([]);
    const faults = runFaults(
      plan,
      {
        victim,
        // The workload may name the instance to kill (the owner of a hot entity).
        ...(workload.victim ? { chooseVictim: () => askVictim(workload, up) } : {}),
        kill: (id) => postControl(c, `instances/${id}/kill`),
        start: (id) => postControl(c, `instances/${id}/start`),
        ...(store.restart ? { restartStore: store.restart } : {}),
        ...(store.target ? { storeTarget: store.target } : {}),
        ...(netFaults && !storeOnHost ? { peersTarget: 'the other instances' } : {}),
        ...(netFaults ? { netVictim } : {}),
        ...(netFaults
          ? {
              partition: (id: string) => netFaults.partition(id, peersOf(id)),
              // Latency slows every instance's link to the store: its cost per config.
              impair: async () => {
                await Promise.all(instanceIds.map((id) => netFaults.impair(id, ['store'], LATENCY_FAULT)));
              },
              impairs: 'every instance',
              heal: async (id: string) => {
                await Promise.all([...new Set([id, ...instanceIds])].map((x) => netFaults.heal(x)));
              },
              holdMs: (kind: 'partition' | 'latency') => faultHoldMs(kind, o.durationMs),
            }
          : {}),
        now: () => rec.now(),
      },
      stopped,
    );

    // Users start spread over the first second (or tenth of the run), not all in one tick.
    const spread = Math.min(1000, o.durationMs / 10);
    const users = Array.from(
      { length: o.users },
      (_, i) =>
        new VirtualUser({
          n: (o.userOffset ?? 0) + i + 1,
          workload,
          credentials: config.credentials,
          base: c.url,
          dispatcher,
          rec,
          rnd: mulberry32(deriveSeed(o.seed, i + 1)),
          stateSize: o.stateSize ?? null,
          stopped,
        }),
    );
    await Promise.all(
      users.map(async (u, i) => {
        await new Promise((r) => setTimeout(r, (spread * i) / o.users));
        await u.run();
      }),
    );
    const loadMs = rec.now();
    const cpuUsed = cpu.stop();
    clearInterval(tick);
    meter.stop();
    const recorded = await faults;
    const steps = await switching;
    const totals = await sampler.end();

    const auditStart = performance.now();
    let duplicates: number | null = null;
    let missing = 0;
    let auditFailures = 0;
    if (!o.signal?.aborted && workload.audit) {
      progress('audit', rec);
      const found = await auditCreates(workload, users, up);
      ({ duplicates, missing, failures: auditFailures } = found);
    }
    if (!o.signal?.aborted && workload.verify) {
      const checked = await verifyWorkload(
        workload,
        users.map((u) => u.state()),
        up,
      );
      if (checked === null) rec.count(VERIFY_FAILED);
      else for (const [name, n] of Object.entries(checked)) rec.count(name, n);
    }
    progress('closing', rec);

    const timeline = rec.timeline(loadMs);
    for (const f of recorded) {
      f.impact = faultImpact(rec, timeline, f.at, faultWindowMs(f.kind, o.durationMs));
      const sockets = socketsCut.get(f.kind);
      if (sockets !== undefined) f.impact.websocketsCut = sockets;
    }
    const t = meter.totals();
    const perRequest = (n: number | null, digits = 2) =>
      n === null || rec.requests === 0 ? null : round(n / rec.requests, digits);
    const killAt = recorded.find((f) => f.kind === 'kill')?.at;
    const firstFault = recorded[0]?.at ?? Infinity;
    report = {
      ...skippedRun(config, ''),
      skipped: null,
      requests: rec.requests,
      throughput: loadMs > 0 ? round((rec.requests / loadMs) * 1000, 1) : 0,
      latencyMs: rec.latency(),
      errors: rec.errors,
      sessionsLost: rec.sessionsLost,
      lostUpdates: rec.lostUpdates,
      staleReads: rec.staleReads,
      duplicateOrders: duplicates,
      bytesPerRequest: t.exchanges ? Math.round((t.requestBytes + t.responseBytes) / t.exchanges) : null,
      storeOpsPerRequest: perRequest(totals.storeOps),
      rssMb: totals.maxRssBytes === null ? null : round(totals.maxRssBytes / 1024 ** 2, 1),
      cpuSecondsPer1k: totals.cpuSeconds === null ? null : perRequest(totals.cpuSeconds * 1000, 3),
      storeCpuSecondsPer1k: cpuUsed.storeSeconds === null ? null : perRequest(cpuUsed.storeSeconds * 1000, 3),
      load: loadReport(cpuUsed, totals.cpuSeconds),
      recoveryMs: killAt === undefined ? null : recoveryMs(rec.badTimes, killAt, loadMs),
      faults: recorded,
      durationMs: Math.round(loadMs),
      startupMs,
      phasesMs: { audit: Math.round(performance.now() - auditStart), close: 0 },
      sessionsLostBeforeFault: rec.lossTimes.filter((at) => at < firstFault).length,
      sessionsLostBy: {
        loggedOut: rec.sessionsLostBy['logged-out'],
        cartLost: rec.sessionsLostBy['data-lost'],
        unauthenticated: rec.sessionsLostBy.unauthenticated,
      },
      errorsByType: rec.errorTypes(),
      retries: rec.retries,
      copies: config.strategy === 'memory' ? totals.replication : null,
      requestHeaderBytes: t.exchanges ? Math.round(t.requestBytes / t.exchanges) : null,
      responseHeaderBytes: t.exchanges ? Math.round(t.responseBytes / t.exchanges) : null,
      cache: {
        conditionalRequests: rec.conditionalRequests,
        notModified: rec.notModified,
        // Only the hybrid strategy has a near cache; other instances may still export the gauge.
        nearCacheHitRatio:
          config.strategy === 'hybrid' && totals.nearCacheHitRatio !== null
            ? round(totals.nearCacheHitRatio, 3)
            : null,
      },
      orders: { placed: rec.created, missing, auditFailures },
      cart: { addsAcknowledged: rec.acknowledged, checks: rec.checks },
      faultsNotApplied: notApplied,
      timeline,
      switch: config.switchTo
        ? {
            from: config.name.split('>')[0]!,
            to: config.switchTo.name,
            steps,
            passed:
              rec.sessionsLost === 0 &&
              rec.lostUpdates === 0 &&
              steps.length === o.instances &&
              steps.every((x) => x.upAt !== null),
          }
        : null,
      counters: rec.counterValues(),
      timings: rec.timings(),
    };
    rec.destroy();
    return report;
  } finally {
    const closeStart = performance.now();
    await dispatcher.close().catch(() => {});
    await own?.close();
    if (report?.phasesMs) report.phasesMs.close = Math.round(performance.now() - closeStart);
  }
}
