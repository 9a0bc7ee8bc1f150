import { cpus, totalmem } from 'node:os';
import type { FaultKind } from './options.js';
import type { TimelinePoint, TimingSummary, WindowFigures } from './recorder.js';
import type { SwitchStep } from './rolling-switch.js';
import type { ReplicationCounts } from './instance-sampler.js';

/** The version of `report.json`'s shape; it changes only when a field changes meaning or goes away. */
export const REPORT_SCHEMA = 2;

/** A fault the lab injected: `at` ms after the load began. */
export interface FaultRecord {
  at: number;
  kind: FaultKind;
  /** An instance id (`i2`) or the store server (`redis-server:43121`). */
  target: string;
  /**
   * What the fault cost: the figures during its window (a network fault's hold, else the seconds
   * after it) beside those of as long a window just before it (the latency cost per config).
   */
  impact?: FaultImpact;
}

/** See {@link FaultRecord.impact}. */
export interface FaultImpact {
  windowMs: number;
  /** The highest per-second p99 in the window just before, and in the fault's. */
  p99MsBefore: number | null;
  p99MsDuring: number | null;
  errorsDuring: number;
  /** Every figure of the window just before the fault, and of the fault's (whole seconds). */
  before?: WindowFigures;
  during?: WindowFigures;
  /** WebSockets the gateway had open to the instance when the fault began (absent: not known). */
  websocketsCut?: number;
}

/** A strategy switch `first>second`: the rolling restart and its verdict. */
export interface SwitchReport {
  /** The first configuration (the cluster started with it). */
  from: string;
  /** The second (every instance was restarted into it). */
  to: string;
  /** Each instance's restart, in order. */
  steps: SwitchStep[];
  /** No session lost, no update lost, and every instance switched and served again. */
  passed: boolean;
}

/** What held the throughput back: the host's CPUs, the store server, the lab's gateway, or none. */
export type Bottleneck = 'host-cpu' | 'store' | 'gateway' | 'none';

/** CPU during the load, in cores busy on average (1 = one core all the time). */
export interface LoadReport {
  /** Share of the host's CPU time that was busy (every process, other helpers' too), 0 to 1. */
  hostBusy: number;
  /** The instances together. */
  instanceCores: number | null;
  /** The store server the lab started (null: in-process, such as SQLite). */
  storeCores: number | null;
  /** The lab's own process: the gateway and the virtual users. */
  gatewayCores: number;
  bottleneck: Bottleneck;
}

/** One config's results. Every measure is null when the run was skipped. */
export interface RunReport {
  config: string;
  strategy: string;
  store: string;
  balance: string;
  replication: string;
  /** What the users went through: the built-in gateway, or HAProxy or nginx (`--proxy`). */
  proxy: 'builtin' | 'haproxy' | 'nginx';
  /** The app's named workload the users ran (`entities`), or null for its default `workload`. */
  workload: string | null;
  /** What the virtual users authenticated with: `cookie` or `bearer`. */
  credentials: string;
  /** Instances the cluster ran (a `--scale` count, else `--instances`). */
  instances: number;
  /** The workload's state per user (`--state-size`: recently viewed entries in the shop's session), or null when not set. */
  stateSize: number | null;
  /** Null, or why this config did not run. */
  skipped: string | null;
  requests: number | null;
  /** Requests per second of load. */
  throughput: number | null;
  latencyMs: { p50: number; p95: number; p99: number; max: number } | null;
  errors: number | null;
  sessionsLost: number | null;
  lostUpdates: number | null;
  /** Cart views older than a state the same virtual user was already answered with. */
  staleReads: number | null;
  duplicateOrders: number | null;
  bytesPerRequest: number | null;
  storeOpsPerRequest: number | null;
  rssMb: number | null;
  cpuSecondsPer1k: number | null;
  /** CPU of the store server the lab started, per 1,000 requests; null for an in-process store. */
  storeCpuSecondsPer1k: number | null;
  /** Where the CPU went during the load, and what most likely capped the throughput. */
  load: LoadReport | null;
  recoveryMs: number | null;
  faults: FaultRecord[];
  /** Milliseconds of load (from the first request to the last answer). */
  durationMs: number | null;
  /** Milliseconds from starting the cluster until every instance passed its health check. */
  startupMs: number | null;
  /** Milliseconds of each phase after the start: the orders audit and closing the cluster and store. */
  phasesMs: { audit: number; close: number } | null;
  /** Lost sessions before the first fault (none scheduled: all of them). */
  sessionsLostBeforeFault: number | null;
  /** Lost sessions by how they were noticed. */
  sessionsLostBy: { loggedOut: number; cartLost: number; unauthenticated: number } | null;
  /** Errors by type (`502 SL_ERR_…`, `network ECONNRESET`, `404 SL_ERR_NOT_FOUND`), most frequent first. */
  errorsByType: Record<string, number>;
  /** Answers that asked the client to try again (409 with Retry-After, 429): retried, not errors. */
  retries: number | null;
  /**
   * `memory` with replication: the instances' copy counters over the load (a killed process counts
   * what it last reported), so a lost session can be put down to a write that stood without its
   * copy (`degraded`) or a read that found no copy; null for other strategies.
   */
  copies: ReplicationCounts | null;
  /** The two halves of bytesPerRequest. */
  requestHeaderBytes: number | null;
  responseHeaderBytes: number | null;
  cache: {
    /** GETs sent with If-None-Match. */
    conditionalRequests: number;
    /** Of those, answered 304. */
    notModified: number;
    /** The instances' `stateline_near_cache_hit_ratio` at the end (hybrid), else null. */
    nearCacheHitRatio: number | null;
  } | null;
  orders: {
    /** Checkouts answered 201. */
    placed: number;
    /** Orders the shop answered with that its list did not hold afterwards. */
    missing: number;
    /** Users whose orders could not be listed after the run. */
    auditFailures: number;
  } | null;
  /** Acknowledged cart adds and cart comparisons made. */
  cart: { addsAcknowledged: number; checks: number } | null;
  /** Faults asked for that do not apply to this config, with the reason. */
  faultsNotApplied: { kind: FaultKind; reason: string }[];
  /** One point per second of load. */
  timeline: TimelinePoint[];
  /** A strategy switch (`first>second`), else null. */
  switch: SwitchReport | null;
  /** What the workload counted by name (`report.count`) and its whole-run checks (`verify`). */
  counters: Record<string, number> | null;
  /** Durations the workload timed by name (`report.timing`): count and percentiles, ms. */
  timings: Record<string, TimingSummary> | null;
}

/** `report.json`. */
export interface LabReport {
  schema: typeof REPORT_SCHEMA;
  startedAt: string;
  finishedAt: string;
  /** True when the run was interrupted (Ctrl-C): the runs present are partial or missing. */
  aborted: boolean;
  seed: number;
  machine: { cpus: number; memoryGb: number; node: string; platform: string; cpuModel: string };
  options: {
    configs: string[];
    durationMs: number;
    users: number;
    instances: number;
    /** `--scale`: the instance counts each config ran at, or null. */
    scale: number[] | null;
    /** `--state-size`: the state sizes each config ran at, or null. */
    stateSizes: number[] | null;
    faults: FaultKind[];
    seed: number;
    app: string;
    out: string;
  };
  runs: RunReport[];
}

/**
 * The machine a report was made on.
 *
 * @example
 * ```ts
 * machineInfo(); // { cpus: 2, memoryGb: 23.4, node: 'v20.20.2', platform: 'linux x64', cpuModel: '…' }
 * ```
 */
export function machineInfo(): LabReport['machine'] {
  const list = cpus();
  return {
    cpus: list.length,
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
  };
}

/**
 * A run that did not happen, with the reason.
 *
 * @example
 * ```ts
 * skippedRun(parseConfig('server/redis'), 'no redis-server on PATH', { instances: 3, stateSize: null }, 'builtin');
 * ```
 */
export function skippedRun(
  c: {
    name: string;
    strategy: string;
    store: string;
    balance: string;
    replication: string;
    workload?: string | null;
    credentials: string;
  },
  reason: string,
  at: { instances: number; stateSize: number | null } = { instances: 0, stateSize: null },
  proxy: RunReport['proxy'] = 'builtin',
): RunReport {
  return {
    config: c.name,
    strategy: c.strategy,
    store: c.store,
    balance: c.balance,
    replication: c.replication,
    proxy,
    workload: c.workload ?? null,
    credentials: c.credentials,
    instances: at.instances,
    stateSize: at.stateSize,
    skipped: reason,
    requests: null,
    throughput: null,
    latencyMs: null,
    errors: null,
    sessionsLost: null,
    lostUpdates: null,
    staleReads: null,
    duplicateOrders: null,
    bytesPerRequest: null,
    storeOpsPerRequest: null,
    rssMb: null,
    cpuSecondsPer1k: null,
    storeCpuSecondsPer1k: null,
    load: null,
    recoveryMs: null,
    faults: [],
    durationMs: null,
    startupMs: null,
    phasesMs: null,
    sessionsLostBeforeFault: null,
    sessionsLostBy: null,
    errorsByType: {},
    retries: null,
    copies: null,
    requestHeaderBytes: null,
    responseHeaderBytes: null,
    cache: null,
    orders: null,
    cart: null,
    faultsNotApplied: [],
    timeline: [],
    switch: null,
    counters: null,
    timings: null,
  };
}

/**
 * Rounds to `digits` decimals.
 *
 * @example
 * ```ts
 * round(2.345, 2); // 2.35
 * ```
 */
export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * How a run is named where several share a config: `token`, `token ×4`, `token ×4 · 100 items`.
 *
 * @example
 * ```ts
 * runLabel({ config: 'token', instances: 4, stateSize: 100 }, { scale: [1, 4], stateSizes: [1, 100] }); // 'token ×4 · 100 items'
 * ```
 */
export function runLabel(
  r: Pick<RunReport, 'config' | 'instances' | 'stateSize'>,
  o: Pick<LabReport['options'], 'scale' | 'stateSizes'>,
): string {
  return [
    r.config,
    o.scale ? ` ×${r.instances}` : '',
    o.stateSizes && r.stateSize !== null ? ` · ${r.stateSize} items` : '',
  ].join('');
}
