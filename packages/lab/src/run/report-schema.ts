import { LAB_CREDENTIALS, LAB_STORES, LAB_WORKLOADS } from './config.js';
import { FAULT_KINDS } from './options.js';
import { REPORT_SCHEMA } from './report.js';

/** Checks one value at `path`, pushing a message per problem. */
type Check = (v: unknown, path: string, errors: string[]) => void;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function num(o: { min?: number; int?: boolean } = {}): Check {
  return (v, path, errors) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      return void errors.push(`${path}: expected a finite number, got ${JSON.stringify(v)}`);
    if (o.int && !Number.isInteger(v)) errors.push(`${path}: expected a whole number, got ${v}`);
    if (o.min !== undefined && v < o.min) errors.push(`${path}: expected ≥ ${o.min}, got ${v}`);
  };
}
const count = num({ min: 0, int: true });
const nonNegative = num({ min: 0 });

const str: Check = (v, path, errors) => {
  if (typeof v !== 'string') errors.push(`${path}: expected a string, got ${JSON.stringify(v)}`);
};
const nonEmpty: Check = (v, path, errors) => {
  if (typeof v !== 'string' || v === '')
    errors.push(`${path}: expected a non-empty string, got ${JSON.stringify(v)}`);
};
const bool: Check = (v, path, errors) => {
  if (typeof v !== 'boolean') errors.push(`${path}: expected a boolean, got ${JSON.stringify(v)}`);
};
const isoDate: Check = (v, path, errors) => {
  if (
    typeof v !== 'string' ||
    !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v) ||
    Number.isNaN(Date.parse(v))
  )
    errors.push(`${path}: expected an ISO 8601 UTC time, got ${JSON.stringify(v)}`);
};

function nullable(check: Check): Check {
  return (v, path, errors) => {
    if (v !== null) check(v, path, errors);
  };
}

function oneOf(values: readonly unknown[]): Check {
  return (v, path, errors) => {
    if (!values.includes(v))
      errors.push(
        `${path}: expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`,
      );
  };
}

function arrayOf(item: Check): Check {
  return (v, path, errors) => {
    if (!Array.isArray(v)) return void errors.push(`${path}: expected an array, got ${JSON.stringify(v)}`);
    v.forEach((x, i) => item(x, `${path}[${i}]`, errors));
  };
}

/** An object with exactly these fields (every one required, no others). */
/** Checks made by {@link optional}: their field may be absent. */
const optionalChecks = new WeakSet<Check>();

function optional(check: Check): Check {
  const c: Check = (v, path, errors) => check(v, path, errors);
  optionalChecks.add(c);
  return c;
}

function shape(fields: Record<string, Check>): Check {
  return (v, path, errors) => {
    if (!isObject(v)) return void errors.push(`${path}: expected an object, got ${JSON.stringify(v)}`);
    for (const [k, check] of Object.entries(fields)) {
      if (!(k in v)) {
        if (!optionalChecks.has(check)) errors.push(`${path}.${k}: missing`);
      } else check(v[k], `${path}.${k}`, errors);
    }
    for (const k of Object.keys(v)) if (!(k in fields)) errors.push(`${path}.${k}: unknown field`);
  };
}

function recordOf(value: Check): Check {
  return (v, path, errors) => {
    if (!isObject(v)) return void errors.push(`${path}: expected an object, got ${JSON.stringify(v)}`);
    for (const [k, x] of Object.entries(v)) value(x, `${path}[${JSON.stringify(k)}]`, errors);
  };
}

const windowFigures = shape({
  requests: count,
  throughput: nonNegative,
  p50Ms: nullable(nonNegative),
  p99Ms: nullable(nonNegative),
  errors: count,
  sessionsLost: count,
  lostUpdates: count,
});

const fault = shape({
  at: count,
  kind: oneOf(FAULT_KINDS),
  target: nonEmpty,
  impact: optional(
    shape({
      windowMs: count,
      p99MsBefore: nullable(count),
      p99MsDuring: nullable(count),
      errorsDuring: count,
      before: optional(windowFigures),
      during: optional(windowFigures),
      websocketsCut: optional(count),
    }),
  ),
});

const timelinePoint = shape({
  t: count,
  requests: count,
  errors: count,
  sessionsLost: count,
  p99: nullable(nonNegative),
});

const switchReport = shape({
  from: nonEmpty,
  to: nonEmpty,
  steps: arrayOf(shape({ id: nonEmpty, at: count, upAt: nullable(count) })),
  passed: bool,
});

/** The measures that are null exactly when a run was skipped. */
const MEASURES: Record<string, Check> = {
  requests: count,
  throughput: nonNegative,
  latencyMs: shape({ p50: nonNegative, p95: nonNegative, p99: nonNegative, max: nonNegative }),
  errors: count,
  sessionsLost: count,
  lostUpdates: count,
  staleReads: count,
  durationMs: count,
  startupMs: count,
  phasesMs: shape({ audit: count, close: count }),
  sessionsLostBeforeFault: count,
  sessionsLostBy: shape({ loggedOut: count, cartLost: count, unauthenticated: count }),
  retries: count,
  cache: shape({
    conditionalRequests: count,
    notModified: count,
    nearCacheHitRatio: nullable(num({ min: 0 })),
  }),
  orders: shape({ placed: count, missing: count, auditFailures: count }),
  cart: shape({ addsAcknowledged: count, checks: count }),
  counters: recordOf(num()),
  timings: recordOf(
    shape({ count: count, p50: nonNegative, p95: nonNegative, p99: nonNegative, max: nonNegative }),
  ),
};

/** Measures that may be null in a run that was not skipped (nothing to measure them from). */
const OPTIONAL_MEASURES: Record<string, Check> = {
  duplicateOrders: count,
  copies: shape({ degraded: count, rerouted: count, fetchFailures: count, fetched: count }),
  bytesPerRequest: count,
  storeOpsPerRequest: nonNegative,
  rssMb: nonNegative,
  cpuSecondsPer1k: nonNegative,
  storeCpuSecondsPer1k: nonNegative,
  load: shape({
    hostBusy: num({ min: 0 }),
    instanceCores: nullable(nonNegative),
    storeCores: nullable(nonNegative),
    gatewayCores: nonNegative,
    bottleneck: oneOf(['host-cpu', 'store', 'gateway', 'none']),
  }),
  recoveryMs: count,
  requestHeaderBytes: count,
  responseHeaderBytes: count,
};

const run: Check = (v, path, errors) => {
  const fields: Record<string, Check> = {
    config: nonEmpty,
    strategy: oneOf(['server', 'token', 'memory', 'hybrid']),
    store: oneOf(LAB_STORES),
    balance: oneOf(['round-robin', 'least-conn', 'sticky', 'hash']),
    replication: oneOf(['off', 'backup', 'all']),
    proxy: oneOf(['builtin', 'haproxy', 'nginx']),
    workload: nullable(oneOf(LAB_WORKLOADS)),
    credentials: oneOf(LAB_CREDENTIALS),
    instances: count,
    stateSize: nullable(count),
    skipped: nullable(nonEmpty),
    faults: arrayOf(fault),
    errorsByType: recordOf(count),
    faultsNotApplied: arrayOf(shape({ kind: oneOf(FAULT_KINDS), reason: nonEmpty })),
    timeline: arrayOf(timelinePoint),
    switch: nullable(switchReport),
  };
  const skipped = isObject(v) && typeof v.skipped === 'string';
  for (const [k, check] of Object.entries(MEASURES)) fields[k] = skipped ? oneOf([null]) : check;
  for (const [k, check] of Object.entries(OPTIONAL_MEASURES))
    fields[k] = skipped ? oneOf([null]) : nullable(check);
  shape(fields)(v, path, errors);
  if (!isObject(v) || skipped) return;
  const l = v.latencyMs as Record<string, number> | null;
  if (isObject(l) && !(l.p50! <= l.p95! && l.p95! <= l.p99! && l.p99! <= l.max!))
    errors.push(`${path}.latencyMs: expected p50 ≤ p95 ≤ p99 ≤ max`);
  const t = v.timeline;
  if (Array.isArray(t)) {
    t.forEach((p: { t?: unknown }, i) => {
      if (p?.t !== i) errors.push(`${path}.timeline[${i}].t: expected ${i}`);
    });
    const sum = (k: string) =>
      t.reduce((a: number, p: Record<string, unknown>) => a + (Number(p?.[k]) || 0), 0);
    if (typeof v.requests === 'number' && sum('requests') !== v.requests)
      errors.push(`${path}.timeline: requests add up to ${sum('requests')}, not ${v.requests}`);
    if (typeof v.errors === 'number' && sum('errors') !== v.errors)
      errors.push(`${path}.timeline: errors add up to ${sum('errors')}, not ${v.errors}`);
  }
  const lost = v.sessionsLostBy as Record<string, number> | null;
  if (
    isObject(lost) &&
    typeof v.sessionsLost === 'number' &&
    lost.loggedOut! + lost.cartLost! + lost.unauthenticated! !== v.sessionsLost
  )
    errors.push(`${path}.sessionsLostBy: does not add up to sessionsLost`);
  const duration = v.durationMs;
  if (Array.isArray(v.faults) && typeof duration === 'number')
    (v.faults as { at?: unknown }[]).forEach((f, i) => {
      if (typeof f?.at === 'number' && f.at > duration)
        errors.push(`${path}.faults[${i}].at: after the end of the load`);
    });
  const sw = v.switch as { passed?: unknown; steps?: { upAt?: unknown }[] } | null;
  if (isObject(sw) && sw.passed === true && Array.isArray(sw.steps)) {
    const clean =
      v.sessionsLost === 0 &&
      v.lostUpdates === 0 &&
      sw.steps.length > 0 &&
      sw.steps.every((s) => s?.upAt !== null);
    if (!clean)
      errors.push(
        `${path}.switch.passed: true, yet a session or an update was lost or an instance did not switch`,
      );
  }
  const timings = v.timings;
  if (isObject(timings))
    for (const [k, t] of Object.entries(timings)) {
      const x = t as Record<string, number>;
      if (isObject(t) && !(x.p50! <= x.p95! && x.p95! <= x.p99! && x.p99! <= x.max!))
        errors.push(`${path}.timings[${JSON.stringify(k)}]: expected p50 ≤ p95 ≤ p99 ≤ max`);
    }
  const errs = v.errorsByType;
  if (isObject(errs) && typeof v.errors === 'number') {
    const total = Object.values(errs).reduce((a: number, n) => a + (Number(n) || 0), 0);
    if (total !== v.errors) errors.push(`${path}.errorsByType: adds up to ${total}, not ${v.errors}`);
  }
};

const report = shape({
  schema: oneOf([REPORT_SCHEMA]),
  startedAt: isoDate,
  finishedAt: isoDate,
  aborted: bool,
  seed: count,
  machine: shape({ cpus: count, memoryGb: nonNegative, node: nonEmpty, platform: nonEmpty, cpuModel: str }),
  options: shape({
    configs: arrayOf(nonEmpty),
    durationMs: count,
    users: count,
    instances: count,
    scale: nullable(arrayOf(num({ min: 1, int: true }))),
    stateSizes: nullable(arrayOf(count)),
    faults: arrayOf(oneOf(FAULT_KINDS)),
    seed: count,
    app: nonEmpty,
    out: nonEmpty,
  }),
  runs: arrayOf(run),
});

/**
 * Checks a parsed `report.json` against schema 2 as documented in docs/lab.md: every field
 * present with its type and range, no unknown field, measures null exactly when a run was
 * skipped, and the sums that must agree (timeline vs totals, errors by type, sessions lost by
 * reason). Returns one message per problem, with its JSON path; empty when the report is valid.
 *
 * @example
 * ```ts
 * const problems = validateReport(JSON.parse(readFileSync('lab-report/report.json', 'utf8')));
 * if (problems.length) throw new Error(problems.join('\n'));
 * ```
 */
export function validateReport(value: unknown): string[] {
  const errors: string[] = [];
  report(value, '$', errors);
  if (
    isObject(value) &&
    Array.isArray(value.runs) &&
    isObject(value.options) &&
    Array.isArray(value.options.configs)
  ) {
    const o = value.options;
    const counts = Array.isArray(o.scale) ? o.scale : [o.instances];
    const sizes: unknown[] = Array.isArray(o.stateSizes) ? o.stateSizes : [null];
    const expected = (o.configs as unknown[]).flatMap((config) =>
      counts.flatMap((instances) => sizes.map((stateSize) => [config, instances, stateSize])),
    );
    // Under `--proxy haproxy|nginx` each run is followed by the same through the proxy.
    const got = (
      value.runs as { config?: unknown; instances?: unknown; stateSize?: unknown; proxy?: unknown }[]
    )
      .filter((r) => r?.proxy !== 'haproxy' && r?.proxy !== 'nginx')
      .map((r) => [r?.config, r?.instances, r?.stateSize]);
    if (JSON.stringify(got) !== JSON.stringify(expected) && value.aborted !== true)
      errors.push(
        '$.runs: expected one run per config of options.configs, instance count and state size (and proxy), in order',
      );
  }
  return errors;
}
