import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionMetrics } from 'stateline/session';
import type { HubStats } from 'stateline/realtime';
import type { TokenMetrics } from 'stateline/tokens';

/** What the app itself counts about sessions (the library counts refusals; see {@link ShopMetrics}). */
export interface SessionCounters {
  created: number;
  renewed: number;
  revoked: number;
  /** Well-signed cookies of sessions that no longer exist (revoked, logged out elsewhere, swept). */
  ended: number;
}

/** Where the collectors read library state from at scrape time. */
export interface MetricSources {
  /** Undefined until the session manager exists. */
  sessions: () => Readonly<SessionMetrics> | undefined;
  counters: Readonly<SessionCounters>;
  hub: () => Readonly<HubStats> | undefined;
  /** Undefined until the tokens exist. */
  tokens: () => Readonly<TokenMetrics> | undefined;
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** A counter whose value is read from elsewhere when Prometheus scrapes. */
function mirror(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(Math.max(0, read()));
    },
  });
}

/**
 * One instance's metrics, in a registry of its own (never prom-client's global one), with the
 * names of the shop contract: HTTP requests, every Store call, the Bus, sessions, idempotency,
 * realtime, and prom-client's process metrics.
 *
 * @example
 * ```ts
 * const metrics = new ShopMetrics(sources);
 * metrics.request('GET', '/api/cart', 200, 0.004);
 * res.end(await metrics.registry.metrics());
 * ```
 */
export class ShopMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly durations: Histogram<'method' | 'route' | 'status'>;
  readonly storeOps: Counter<'op'>;
  readonly storeDurations: Histogram<'op'>;
  readonly storeErrors: Counter<'op'>;
  readonly busPublishes: Counter;
  readonly busErrors: Counter;
  readonly idempotencyReplays: Counter;
  readonly idempotencyConflicts: Counter;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.durations = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request to the end of the response, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.storeOps = new Counter({
      name: 'stateline_store_operations_total',
      help: 'Store calls this instance made, by operation',
      labelNames: ['op'],
      registers,
    });
    this.storeDurations = new Histogram({
      name: 'stateline_store_operation_duration_seconds',
      help: 'Store call latency, by operation',
      labelNames: ['op'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.storeErrors = new Counter({
      name: 'stateline_store_errors_total',
      help: 'Store calls that failed, by operation',
      labelNames: ['op'],
      registers,
    });
    this.busPublishes = new Counter({
      name: 'stateline_bus_publishes_total',
      help: 'Bus messages this instance published',
      registers,
    });
    this.busErrors = new Counter({
      name: 'stateline_bus_errors_total',
      help: 'Bus publishes that failed',
      registers,
    });
    this.idempotencyReplays = new Counter({
      name: 'stateline_idempotency_replays_total',
      help: 'Requests answered with the saved outcome of an earlier one with the same Idempotency-Key',
      registers,
    });
    this.idempotencyConflicts = new Counter({
      name: 'stateline_idempotency_conflicts_total',
      help: 'Idempotency-Key refusals: still in flight (409) or reused with another body (422)',
      registers,
    });
    const c = sources.counters;
    mirror(
      this.registry,
      'stateline_sessions_created_total',
      'Sessions saved for the first time',
      () => c.created,
    );
    mirror(
      this.registry,
      'stateline_sessions_renewed_total',
      'Session ids replaced (login, regenerate)',
      () => c.renewed,
    );
    mirror(
      this.registry,
      'stateline_sessions_revoked_total',
      'Sessions ended here: logout, revoke, logout-all',
      () => c.revoked,
    );
    new Counter({
      name: 'stateline_sessions_rejected_total',
      help: 'Session cookies refused, by reason: tampered, expired, revoked (token), ended (no such session any more)',
      labelNames: ['reason'],
      registers,
      collect() {
        const m = sources.sessions();
        this.reset();
        this.inc({ reason: 'tampered' }, m?.invalidCookies ?? 0);
        this.inc({ reason: 'expired' }, m?.expired ?? 0);
        this.inc({ reason: 'revoked' }, m?.revokedRefused ?? 0);
        this.inc({ reason: 'ended' }, c.ended);
        this.inc({ reason: 'store_unavailable' }, m?.storeErrors ?? 0);
      },
    });
    mirror(
      this.registry,
      'stateline_tokens_issued_total',
      'Token families started (POST /api/tokens)',
      () => sources.tokens()?.issued ?? 0,
    );
    mirror(
      this.registry,
      'stateline_tokens_refreshed_total',
      'Refresh tokens rotated',
      () => sources.tokens()?.refreshed ?? 0,
    );
    mirror(
      this.registry,
      'stateline_tokens_reuse_detected_total',
      'Spent refresh tokens presented again; each revoked its family (theft detection)',
      () => sources.tokens()?.reuseDetected ?? 0,
    );
    new Counter({
      name: 'stateline_tokens_rejected_total',
      help: 'Tokens refused, by kind: access (malformed, bad signature, expired, revoked…), of which revoked, and refresh',
      labelNames: ['kind'],
      registers,
      collect() {
        const m = sources.tokens();
        this.reset();
        this.inc({ kind: 'access' }, m?.refused ?? 0);
        this.inc({ kind: 'access_revoked' }, m?.revokedRefused ?? 0);
        this.inc({ kind: 'refresh' }, m?.refreshRefused ?? 0);
      },
    });
    new Gauge({
      name: 'stateline_near_cache_hit_ratio',
      help: 'Share of session reads the hybrid near cache answered (0 for other strategies)',
      registers,
      collect() {
        const m = sources.sessions();
        const total = m ? m.nearCacheHits + m.nearCacheMisses : 0;
        this.set(total === 0 ? 0 : m!.nearCacheHits / total);
      },
    });
    new Gauge({
      name: 'stateline_realtime_sockets',
      help: 'WebSocket connections open on this instance',
      registers,
      collect() {
        this.set(sources.hub()?.connections ?? 0);
      },
    });
    mirror(
      this.registry,
      'stateline_realtime_messages_total',
      'Chat messages this instance stored',
      () => sources.hub()?.appended ?? 0,
    );
    mirror(
      this.registry,
      'stateline_realtime_slow_consumer_drops_total',
      'Frames dropped or sockets closed because a client fell behind',
      () => (sources.hub()?.dropped ?? 0) + (sources.hub()?.slowConsumers ?? 0),
    );
  }

  /** Records one answered request. `route` is the pattern, never the raw path. */
  request(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.durations.observe(labels, seconds);
  }
}
