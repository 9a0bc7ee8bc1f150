import { INSTANCE_ENV, type Workload } from 'stateline/instance';
import { Agent } from 'undici';
import { startCluster, type Cluster } from '../cluster.js';
import type { ProxyKind } from '../cluster-options.js';
import { auditCreates } from './audit.js';
import type { LabConfig } from './config.js';
import { faultHoldMs, planFaults, runFaults } from './faults.js';
import { NetFaults, netemUnavailable } from '../netns/net-faults.js';
import type { NetTopology } from '../netns/topology.js';
import { HeaderMeter } from './header-meter.js';
import { httpText, InstanceSampler } from './instance-sampler.js';
import type { FaultKind } from './options.js';
import { deriveSeed, mulberry32 } from './prng.js';
import { Recorder, recoveryMs, type TimelinePoint } from './recorder.js';
import { round, skippedRun as skipped, type FaultImpact, type RunReport } from './report.js';
import { prepareBus } from './lab-bus.js';
import { rollingSwitch, switchEnv } from './rolling-switch.js';
import { prepareStore } from './store-server.js';
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
}

/** The impairment of the `latency` fault: 50 ± 10 ms and 1 % loss between an instance and the store. */
export const LATENCY_FAULT = { delayMs: 50, jitterMs: 10, lossPct: 1 } as const;

/**
 * The highest per-second p99 within `holdMs` from `at`, and within as long just before it, and the
 * errors within the fault's seconds.
 */
function faultImpact(timeline: readonly TimelinePoint[], at: number, holdMs: number): FaultImpact {
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
 * PostgreSQL), starts a fresh cluster (gateway + N instances of the app, with the environment the
 * workload asks for its users), runs the app's workload as virtual users for the duration while
 * the fault schedule runs, samples the instances, then audits every user's idempotent creates
 * (the workload's `audit`) to count duplicates, closes everything and returns the config's row of
 * the report. A config whose Store is unavailable is returned as skipped.
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
  const bus = await prepareBus(config.bus);
  if ('skipped' in bus) return skippedRun(config, bus.skipped);
  const storeHost = o.net
    ? { address: o.net.host('store').address, wrap: ['ip', 'netns', 'exec', o.net.host('store').ns] }
    : undefined;
  const store = await prepareStore(config.store, {
    postgres: o.postgres,
    ...(storeHost ? { storeHost } : {}),
  });
  if ('skipped' in store) return skippedRun(config, store.skipped);

  let cluster: Cluster | undefined;
  let report: RunReport | undefined;
  const dispatcher = new Agent({ keepAliveTimeout: 4000, connections: o.users + 4 });
  try {
    const startedAt = performance.now();
    try {
      cluster = await startCluster({
        port: 0,
        instances: o.instances,
        app: o.app,
        strategy: config.strategy,
        store: store.spec,
        // an explicit bus segment (nats) wins; a redis-cluster store brings its own bus
        bus: config.bus === 'ipc' ? (store.bus ?? bus.spec) : bus.spec,
        balance: config.balance,
        replication: config.replication,
        proxy,
        stdio: o.stdio ?? 'ignore',
        ...(o.net ? { placement: o.net.placement() } : {}),
        env: {
          ...workload.env?.(o.users),
          ...(store.sessionSpec ? { [INSTANCE_ENV.sessionStore]: store.sessionSpec } : {}),
          LOG_LEVEL: 'silent',
          ...o.env,
          ...switchEnv(config, 'before'),
        },
      });
    } catch (err) {
      return skippedRun(config, `the cluster did not start: ${(err as Error).message}`);
    }
    const startupMs = Math.round(performance.now() - startedAt);
    const c = cluster;
    const meter = new HeaderMeter(new URL(c.url).origin);
    const sampler = new InstanceSampler(() => c.status().instances);
    await sampler.begin();

    const rec = new Recorder();
    const cpu = new CpuProbe(() => store.pid?.());
    cpu.start();
    meter.start();
    const stopped = () => rec.now() >= o.durationMs || o.signal?.aborted === true;
    const tick = setInterval(() => progress('load', rec), 250);

    // A network fault needs hosts of their own, and a store server on one of them.
    const storeOnHost = storeHost !== undefined && store.spec.includes(storeHost.address);
    const netReason = !o.net ? 'network faults need --network netns' : null;
    const netFaults = o.net ? new NetFaults(o.net) : null;
    // Cut from the store when it has a host of its own, else from the other instances (a memory
    // strategy's backups live there).
    const peersOf = (id: string) =>
      storeOnHost
        ? ['store']
        : Array.from({ length: o.instances }, (_, k) => `i${k + 1}`).filter((x) => x !== id);
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
          latency: netReason ?? (o.net ? await netemUnavailable(o.net) : null),
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
              impair: (id: string) => netFaults.impair(id, peersOf(id), LATENCY_FAULT),
              heal: (id: string) => netFaults.heal(id),
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
          n: i + 1,
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
    for (const f of recorded)
      if (f.kind === 'partition' || f.kind === 'latency') {
        f.impact = faultImpact(timeline, f.at, faultHoldMs(f.kind, o.durationMs));
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
      refresh: { refreshed: rec.refreshed, familiesLost: rec.refreshFamiliesLost },
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
    await cluster?.close().catch(() => {});
    await dispatcher.close().catch(() => {});
    await store.close().catch(() => {});
    if (report?.phasesMs) report.phasesMs.close = Math.round(performance.now() - closeStart);
  }
}
