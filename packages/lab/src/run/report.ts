import { cpus, totalmem } from 'node:os';
import type { FaultKind } from './options.js';
import type { TimelinePoint, TimingSummary } from './recorder.js';
import type { SwitchStep } from './rolling-switch.js';

/** The version of `report.json`'s shape; it changes only when a field changes meaning or goes away. */
export const REPORT_SCHEMA = 1;

/** A fault the lab injected: `at` ms after the load began. */
export interface FaultRecord {
  at: number;
  kind: FaultKind;
  /** An instance id (`i2`) or the store server (`redis-server:43121`). */
  target: string;
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
 * skippedRun(parseConfig('server/redis'), 'no redis-server on PATH');
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
  },
  reason: string,
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
    recoveryMs: null,
    faults: [],
    durationMs: null,
    startupMs: null,
    phasesMs: null,
    sessionsLostBeforeFault: null,
    sessionsLostBy: null,
    errorsByType: {},
    retries: null,
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
