import { INSTANCE_ENV, type Workload } from 'stateline/instance';
import { Agent } from 'undici';
import { startCluster, type Cluster } from '../cluster.js';
import type { ProxyKind } from '../cluster-options.js';
import { auditCreates } from './audit.js';
import type { LabConfig } from './config.js';
import { planFaults, runFaults } from './faults.js';
import { HeaderMeter } from './header-meter.js';
import { httpText, InstanceSampler } from './instance-sampler.js';
import type { FaultKind } from './options.js';
import { deriveSeed, mulberry32 } from './prng.js';
import { Recorder, recoveryMs } from './recorder.js';
import { round, skippedRun as skipped, type RunReport } from './report.js';
import { prepareBus } from './lab-bus.js';
import { rollingSwitch, switchEnv } from './rolling-switch.js';
import { prepareStore } from './store-server.js';
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
  faults: readonly FaultKind[];
  seed: number;
  postgres: string;
  /** Extra environment for the instances (on top of the workload's `env(users)` and LOG_LEVEL). */
  env?: Record<string, string>;
  /** Ends the load early (Ctrl-C); the run is then reported as far as it got, without the audit. */
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  /** The instances' output (default `'ignore'`; `STATELINE_LAB_STDIO=inherit` shows it). */
  stdio?: 'ignore' | 'inherit';
  /** What the users go through (default the built-in gateway). */
  proxy?: ProxyKind;
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
  const skippedRun = (c: LabConfig, reason: string) => skipped(c, reason, proxy);
  const progress = (phase: RunProgress['phase'], rec?: Recorder) =>
    o.onProgress?.({
      config: config.name,
      phase,
      elapsedMs: rec ? Math.min(rec.now(), o.durationMs) : 0,
      durationMs: o.durationMs,
      requests: rec?.requests ?? 0,
      errors: rec?.errors ?? 0,
      sessionsLost: rec?.sessionsLost ?? 0,
    });
  progress('starting');
  const workload = o.workload ?? (await loadWorkload(o.app, config.workload ?? undefined));
  const bus = await prepareBus(config.bus);
  if ('skipped' in bus) return skippedRun(config, bus.skipped);
  const store = await prepareStore(config.store, { postgres: o.postgres });
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
    meter.start();
    const stopped = () => rec.now() >= o.durationMs || o.signal?.aborted === true;
    const tick = setInterval(() => progress('load', rec), 250);

    const rnd = mulberry32(deriveSeed(o.seed, 0xfa17));
    const victim = `i${rnd.int(1, o.instances)}`;
    const up = () => c.status().instances.filter((i) => i.state === 'up');
    // A switch run's fault is its rolling restart: the others would blur what it costs.
    const { plan, notApplied } = config.switchTo
      ? { plan: [], notApplied: o.faults.map((kind) => ({ kind, reason: SWITCH_ONLY })) }
      : planFaults(o.faults, o.durationMs, store.restart ? null : (store.noRestart ?? 'no store server'));
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
          base: c.url,
          dispatcher,
          rec,
          rnd: mulberry32(deriveSeed(o.seed, i + 1)),
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
      faultsNotApplied: notApplied,
      timeline: rec.timeline(loadMs),
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
