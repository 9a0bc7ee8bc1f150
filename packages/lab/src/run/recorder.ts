import * as hdr from 'hdr-histogram-js';
import type { SessionLossReason } from 'stateline/instance';

/** One second of a run, for the charts. */
export interface TimelinePoint {
  /** Seconds since the load began (this point covers [t, t + 1)). */
  t: number;
  requests: number;
  errors: number;
  sessionsLost: number;
  /** 99th percentile latency of the responses that arrived in this second, ms; null when none did. */
  p99: number | null;
}

interface Bucket {
  requests: number;
  errors: number;
  sessionsLost: number;
  latencies: number[];
}

/** What the users saw within a span of whole seconds (see {@link Recorder.window}). */
export interface WindowFigures {
  requests: number;
  /** Requests per second over the span. */
  throughput: number;
  /** Over every answer that arrived in the span, ms; null when none did. */
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number;
  sessionsLost: number;
  lostUpdates: number;
}

/** A named duration's samples, summarised (ms). */
export interface TimingSummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Slowest latency the histogram tracks (longer ones are clamped): 10 minutes, in µs. */
const HIGHEST_US = 600_000_000;
/** At most this many error types are kept by name; the rest count under "other". */
const MAX_ERROR_TYPES = 40;
/** At most this many counter and timing names a workload may report; the rest are dropped. */
const MAX_NAMES = 40;
const NAME = /^[\w.:-]{1,64}$/;

/**
 * Everything the virtual users of one config report while the load runs: latencies into an
 * HdrHistogram (µs resolution, 3 significant digits), errors by type, and what the app's workload
 * judged (sessions lost, lost updates, stale reads, acknowledged writes), ETag revalidations, and
 * a per-second timeline. Times are ms since {@link Recorder.t0}.
 *
 * @example
 * ```ts
 * const rec = new Recorder();
 * rec.response(12.5);
 * rec.error('502 SL_ERR_UPSTREAM_FAILED');
 * rec.latency()?.p99; // 12.5
 * ```
 */
export class Recorder {
  /** `performance.now()` when the load began. */
  readonly t0 = performance.now();
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
  private readonly buckets: Bucket[] = [];
  /** Times (ms) of errors and lost sessions, in order: what recovery is measured on. */
  readonly badTimes: number[] = [];
  /** Times (ms) of lost sessions alone. */
  readonly lossTimes: number[] = [];
  readonly errorsByType = new Map<string, number>();
  requests = 0;
  errors = 0;
  sessionsLost = 0;
  readonly sessionsLostBy: Record<SessionLossReason, number> = {
    'logged-out': 0,
    'data-lost': 0,
    unauthenticated: 0,
  };
  lostUpdates = 0;
  /** Times (ms) of lost updates. */
  readonly lostUpdateTimes: number[] = [];
  /** Reads older than what the same user was already answered with (see {@link staleRead}). */
  staleReads = 0;
  /** Answers a client is meant to retry (409 in flight with Retry-After, 429). */
  retries = 0;
  conditionalRequests = 0;
  notModified = 0;
  /** Idempotent creates the app answered (the report's `orders.placed`). */
  created = 0;
  /** Writes the app acknowledged (`cart.addsAcknowledged`). */
  acknowledged = 0;
  /** Reads compared with the acknowledged writes (`cart.checks`). */
  checks = 0;
  /** What the workload counted by name (`report.count`), and its whole-run checks (`verify`). */
  readonly counters = new Map<string, number>();
  /** Durations the workload timed by name (`report.timing`), ms. */
  private readonly samples = new Map<string, number[]>();

  /** ms since the load began. */
  now(): number {
    return performance.now() - this.t0;
  }

  private bucket(at: number): Bucket {
    const i = Math.max(0, Math.floor(at / 1000));
    while (this.buckets.length <= i)
      this.buckets.push({ requests: 0, errors: 0, sessionsLost: 0, latencies: [] });
    return this.buckets[i]!;
  }

  /** A request was sent (counted whether or not an answer came). */
  sent(): void {
    this.requests++;
    this.bucket(this.now()).requests++;
  }

  /** An answer arrived after `ms`. */
  response(ms: number): void {
    this.histogram.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000))));
    this.bucket(this.now()).latencies.push(ms);
  }

  /** An error a user saw: a network error, a 5xx, or a 4xx the workload did not expect. */
  error(type: string): void {
    const at = this.now();
    this.errors++;
    this.bucket(at).errors++;
    this.badTimes.push(at);
    const key = this.errorsByType.has(type) || this.errorsByType.size < MAX_ERROR_TYPES ? type : 'other';
    this.errorsByType.set(key, (this.errorsByType.get(key) ?? 0) + 1);
  }

  /** A user found its session gone without having ended it (one incident). */
  sessionLost(reason: SessionLossReason): void {
    const at = this.now();
    this.sessionsLost++;
    this.sessionsLostBy[reason]++;
    this.bucket(at).sessionsLost++;
    this.badTimes.push(at);
    this.lossTimes.push(at);
  }

  /** A value held less than the acknowledged writes put there, while the rest survived. */
  lostUpdate(): void {
    this.lostUpdates++;
    this.lostUpdateTimes.push(this.now());
  }

  /**
   * A read showed a state older than one the same user was already answered with, and a read
   * right after showed the answered state again.
   */
  staleRead(): void {
    this.staleReads++;
  }

  /** Adds `n` to the workload's counter `name` (a name beyond the first 40, or malformed, is dropped). */
  count(name: string, n = 1): void {
    if (!NAME.test(name) || !Number.isFinite(n)) return;
    if (!this.counters.has(name) && this.counters.size >= MAX_NAMES) return;
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  /** One sample of the workload's duration `name`, ms (negative or not finite: dropped). */
  timing(name: string, ms: number): void {
    if (!NAME.test(name) || !Number.isFinite(ms) || ms < 0) return;
    let list = this.samples.get(name);
    if (!list) {
      if (this.samples.size >= MAX_NAMES) return;
      this.samples.set(name, (list = []));
    }
    list.push(ms);
  }

  /** The counters by name, sorted by name. */
  counterValues(): Record<string, number> {
    return Object.fromEntries([...this.counters].sort((a, b) => a[0].localeCompare(b[0])));
  }

  /** Each timed name's count and percentiles (nearest rank), sorted by name. */
  timings(): Record<string, TimingSummary> {
    const out: Record<string, TimingSummary> = {};
    for (const [name, list] of [...this.samples].sort((a, b) => a[0].localeCompare(b[0]))) {
      const at = (q: number) => percentile(list, q)!;
      out[name] = {
        count: list.length,
        p50: at(0.5),
        p95: at(0.95),
        p99: at(0.99),
        max: Math.round(list.reduce((a, b) => Math.max(a, b), 0) * 100) / 100,
      };
    }
    return out;
  }

  /** Latency percentiles over every answer, ms (null when no answer came). */
  latency(): { p50: number; p95: number; p99: number; max: number } | null {
    if (this.histogram.totalCount === 0) return null;
    const ms = (us: number) => Math.round(us / 10) / 100;
    const max = this.histogram.maxValue;
    // A percentile is its bucket's highest equivalent value, which may lie above the exact max.
    const at = (q: number) => ms(Math.min(this.histogram.getValueAtPercentile(q), max));
    return { p50: at(50), p95: at(95), p99: at(99), max: ms(max) };
  }

  /** One point per second from the start to `untilMs`. */
  timeline(untilMs: number): TimelinePoint[] {
    const n = Math.max(this.buckets.length, Math.ceil(untilMs / 1000));
    const out: TimelinePoint[] = [];
    for (let i = 0; i < n; i++) {
      const b = this.buckets[i] ?? { requests: 0, errors: 0, sessionsLost: 0, latencies: [] };
      out.push({
        t: i,
        requests: b.requests,
        errors: b.errors,
        sessionsLost: b.sessionsLost,
        p99: percentile(b.latencies, 0.99),
      });
    }
    return out;
  }

  /**
   * The whole seconds covering `[fromMs, toMs)` (from the second `fromMs` falls in to the one
   * `toMs` ends): requests, throughput, p50 and p99 of every answer in them, errors, and the
   * sessions and updates lost in them.
   *
   * @example
   * ```ts
   * rec.window(22_500, 28_500); // seconds 22–28: { requests: 2100, throughput: 300, p50Ms: 61.2, … }
   * ```
   */
  window(fromMs: number, toMs: number): WindowFigures {
    const from = Math.max(0, Math.floor(fromMs / 1000));
    const to = Math.max(from + 1, Math.ceil(toMs / 1000));
    const picked = this.buckets.slice(from, to);
    const latencies = picked.flatMap((b) => b.latencies);
    const requests = picked.reduce((n, b) => n + b.requests, 0);
    const inSpan = (t: number) => t >= from * 1000 && t < to * 1000;
    return {
      requests,
      throughput: Math.round((requests / (to - from)) * 10) / 10,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      errors: picked.reduce((n, b) => n + b.errors, 0),
      sessionsLost: this.lossTimes.filter(inSpan).length,
      lostUpdates: this.lostUpdateTimes.filter(inSpan).length,
    };
  }

  /** The recorded errors by type, most frequent first. */
  errorTypes(): Record<string, number> {
    return Object.fromEntries([...this.errorsByType].sort((a, b) => b[1] - a[1]));
  }

  /** Releases the histogram. */
  destroy(): void {
    this.histogram.destroy();
  }
}

function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const v = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return Math.round(v * 100) / 100;
}

/**
 * Time to recover after a kill: the kill at `killAt` ms starts a sequence of 1 s windows
 * `[killAt + k·1000, killAt + (k+1)·1000)`; the answer is `k·1000` for the first `k` such that
 * windows `k` and `k+1` (two seconds) hold no error and no lost session. 0 when users saw nothing
 * after the kill; null when they did and the run ended before two clean seconds.
 *
 * @example
 * ```ts
 * recoveryMs([5200, 5900], 5000, 20000); // 1000: [5000, 6000) was bad, [6000, 8000) clean
 * ```
 */
export function recoveryMs(badTimes: readonly number[], killAt: number, endMs: number): number | null {
  if (!badTimes.some((t) => t >= killAt)) return 0;
  for (let k = 0; killAt + (k + 2) * 1000 <= endMs; k++) {
    const from = killAt + k * 1000;
    const to = from + 2000;
    if (!badTimes.some((t) => t >= from && t < to)) return k * 1000;
  }
  return null;
}
