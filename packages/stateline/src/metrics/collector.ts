import { StatelineError } from '../errors.js';
import type { Bus } from '../bus/types.js';
import type { IdempotencyStats } from '../idempotency/types.js';
import { loadPeer } from '../internal/peer.js';
import { rejectUnknown } from '../internal/spec.js';
import type { HubStats } from '../realtime/types.js';
import type { SessionManager, SessionMetrics } from '../session/types.js';
import type { Store } from '../store/types.js';
import type { TokenMetrics } from '../tokens/types.js';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import { instrumentBus } from './instrument-bus.js';
import { instrumentStore } from './instrument-store.js';

/**
 * Options of {@link collectMetrics}.
 *
 * @example
 * ```ts
 * const options: MetricsOptions = { registry: new Registry(), prefix: 'shop_', sessions };
 * ```
 */
export interface MetricsOptions {
  /** Where the metrics are registered (default: a new Registry of its own, never prom-client's global one). */
  registry?: Registry;
  /** Prepended to every metric name (default `'stateline_'`). */
  prefix?: string;
  /** Store latency histogram buckets, in seconds (default 1 ms … 5 s). */
  buckets?: readonly number[];
  /** Watched at once; same as calling `watch` with them. */
  sessions?: SessionManager;
  idempotency?: { readonly stats: Readonly<IdempotencyStats> };
  realtime?: { readonly stats: Readonly<HubStats> };
  tokens?: { readonly metrics: Readonly<TokenMetrics> };
}

/**
 * What {@link StatelineMetrics.watch} reads at scrape time: anything with the counters, so a
 * wrapped manager or middleware fits too.
 *
 * @example
 * ```ts
 * metrics.watch({ sessions, idempotency: withIdempotency(options, handler), realtime: hub });
 * ```
 */
export interface MetricSources {
  sessions?: { readonly metrics: Readonly<SessionMetrics> };
  idempotency?: { readonly stats: Readonly<IdempotencyStats> };
  realtime?: { readonly stats: Readonly<HubStats> };
  /** A `createTokens` instance (`stateline/tokens`). */
  tokens?: { readonly metrics: Readonly<TokenMetrics> };
}

/**
 * Prometheus metrics of one process's Stateline components, in one registry.
 *
 * @example
 * ```ts
 * const metrics = await collectMetrics();
 * const store = metrics.store(await createStore('redis://127.0.0.1:6379'));
 * const sessions = await createSessions({ strategy: 'server', store, keys });
 * metrics.watch({ sessions });
 * res.end(await metrics.registry.metrics());
 * ```
 */
export interface StatelineMetrics {
  readonly registry: Registry;
  /** The Store, counted and timed per operation (`store_operations_total`, `…_duration_seconds`, `…_errors_total`). */
  store(store: Store): Store;
  /** The Bus, counting publishes, failed publishes and deliveries to this process's subscribers. */
  bus(bus: Bus): Bus;
  /** Adds a session manager, an idempotency middleware, a realtime hub or bearer tokens; their counters are read at each scrape. */
  watch(sources: MetricSources): void;
}

const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const bad = (msg: string) => new StatelineError('SL_ERR_INVALID_OPTION', `collectMetrics: ${msg}`);

/**
 * Loads `prom-client` (an optional peer: `npm install prom-client`) and registers Stateline's
 * metrics: sessions (created, renewed, revoked, refused by reason, near-cache hit ratio, conflicts
 * resolved), Store operations, Bus traffic, idempotency replays and conflicts, realtime sockets,
 * messages, deliveries and slow-consumer drops. Names and meanings: docs/observability.md.
 *
 * @example
 * ```ts
 * import { collectMetrics } from 'stateline/metrics';
 * const metrics = await collectMetrics({ prefix: 'shop_' });
 * const bus = metrics.bus(await createBus('redis://127.0.0.1:6379'));
 * const hub = await createHub({ server, log: 'redis://127.0.0.1:6379', bus });
 * metrics.watch({ realtime: hub });
 * app.get('/metrics', async (_req, res) => res.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
 * ```
 */
export async function collectMetrics(options: MetricsOptions = {}): Promise<StatelineMetrics> {
  if (!options || typeof options !== 'object') throw bad('options must be an object');
  rejectUnknown(
    options,
    ['registry', 'prefix', 'buckets', 'sessions', 'idempotency', 'realtime', 'tokens'],
    'collectMetrics',
  );
  const prefix = options.prefix ?? 'stateline_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(prefix))
    throw bad(`prefix ${JSON.stringify(prefix)} is not a valid start of a Prometheus metric name`);
  const prom = await loadPeer<typeof PromClient>('prom-client', 'stateline/metrics');
  const registry = options.registry ?? new prom.Registry();
  const registers = [registry];
  const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)];

  const sessions: { readonly metrics: Readonly<SessionMetrics> }[] = [];
  const idempotency: { readonly stats: Readonly<IdempotencyStats> }[] = [];
  const hubs: { readonly stats: Readonly<HubStats> }[] = [];
  const tokens: { readonly metrics: Readonly<TokenMetrics> }[] = [];
  const sum = <T>(list: readonly T[], read: (x: T) => number) => list.reduce((n, x) => n + read(x), 0);

  /** A counter whose value is read from the watched components when Prometheus scrapes. */
  const mirror = (name: string, help: string, read: () => number) =>
    new prom.Counter({
      name: prefix + name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(Math.max(0, read()));
      },
    });
  const s = (read: (m: Readonly<SessionMetrics>) => number) => () => sum(sessions, (x) => read(x.metrics));
  const hub = (read: (h: Readonly<HubStats>) => number) => () => sum(hubs, (x) => read(x.stats));
  const t = (read: (m: Readonly<TokenMetrics>) => number) => () => sum(tokens, (x) => read(x.metrics));

  const storeInstruments = {
    operations: new prom.Counter({
      name: `${prefix}store_operations_total`,
      help: 'Store calls this process made, by operation',
      labelNames: ['op'] as const,
      registers,
    }),
    durations: new prom.Histogram({
      name: `${prefix}store_operation_duration_seconds`,
      help: 'Store call latency, by operation',
      labelNames: ['op'] as const,
      buckets,
      registers,
    }),
    errors: new prom.Counter({
      name: `${prefix}store_errors_total`,
      help: 'Store calls that failed, by operation',
      labelNames: ['op'] as const,
      registers,
    }),
  };
  const busInstruments = {
    publishes: new prom.Counter({
      name: `${prefix}bus_publishes_total`,
      help: 'Bus messages this process published',
      registers,
    }),
    errors: new prom.Counter({
      name: `${prefix}bus_errors_total`,
      help: 'Bus publishes that failed',
      registers,
    }),
    deliveries: new prom.Counter({
      name: `${prefix}bus_deliveries_total`,
      help: "Bus messages handed to this process's subscribers (one per handler)",
      registers,
    }),
  };

  mirror(
    'sessions_created_total',
    'Sessions saved (token: issued) for the first time',
    s((m) => m.created),
  );
  mirror(
    'sessions_renewed_total',
    'Session ids replaced on a saved session (login, regenerate)',
    s((m) => m.renewed),
  );
  mirror(
    'sessions_revoked_total',
    'Sessions ended here: destroy (logout), revoke, revokeAll',
    s((m) => m.revoked),
  );
  mirror(
    'sessions_replication_degraded_total',
    '`memory` replication: writes no peer acknowledged in time (they stood without a copy)',
    s((m) => m.replicationDegraded),
  );
  mirror(
    'sessions_replication_rerouted_total',
    '`memory` replication: writes copied to the next peer in line because their backup did not acknowledge in time',
    s((m) => m.replicationRerouted),
  );
  mirror(
    'sessions_replica_fetch_failures_total',
    '`memory` replication: reads of a missing session that failed because a live peer did not answer in time',
    s((m) => m.replicaFetchFailures),
  );
  mirror(
    'sessions_replicas_fetched_total',
    '`memory` replication: sessions fetched from a peer after their owner died',
    s((m) => m.replicasFetched),
  );
  mirror(
    'sessions_conflicts_resolved_total',
    'Concurrent session writes reconciled by re-applying a change',
    s((m) => m.conflictsResolved),
  );
  new prom.Counter({
    name: `${prefix}sessions_rejected_total`,
    help: 'Session cookies refused, by reason: tampered, expired, revoked, ended (the session no longer exists), store_unavailable',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      this.inc({ reason: 'tampered' }, s((m) => m.invalidCookies)());
      this.inc({ reason: 'expired' }, s((m) => m.expired)());
      this.inc({ reason: 'revoked' }, s((m) => m.revokedRefused)());
      this.inc({ reason: 'ended' }, s((m) => m.missing)());
      this.inc({ reason: 'store_unavailable' }, s((m) => m.storeErrors)());
    },
  });
  new prom.Gauge({
    name: `${prefix}near_cache_hit_ratio`,
    help: 'Share of session reads the hybrid near cache answered (0 for other strategies)',
    registers,
    collect() {
      const hits = s((m) => m.nearCacheHits)();
      const total = hits + s((m) => m.nearCacheMisses)();
      this.set(total === 0 ? 0 : hits / total);
    },
  });
  mirror(
    'idempotency_replays_total',
    'Requests answered with the saved outcome of an earlier one with the same Idempotency-Key',
    () => sum(idempotency, (x) => x.stats.replays),
  );
  new prom.Counter({
    name: `${prefix}idempotency_conflicts_total`,
    help: 'Idempotency-Key refusals, by reason: in_flight (409) or mismatch (422, reused with another body)',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      this.inc(
        { reason: 'in_flight' },
        sum(idempotency, (x) => x.stats.inFlight),
      );
      this.inc(
        { reason: 'mismatch' },
        sum(idempotency, (x) => x.stats.mismatches),
      );
    },
  });
  new prom.Gauge({
    name: `${prefix}realtime_sockets`,
    help: 'WebSocket connections open on this process',
    registers,
    collect() {
      this.set(hub((h) => h.connections)());
    },
  });
  mirror(
    'realtime_messages_total',
    'Realtime messages this process stored',
    hub((h) => h.appended),
  );
  mirror(
    'realtime_deliveries_total',
    'Realtime message frames written to sockets',
    hub((h) => h.deliveries),
  );
  mirror(
    'realtime_slow_consumer_drops_total',
    'Frames dropped (drop-oldest) or sockets closed (disconnect) because a client fell behind',
    hub((h) => h.dropped + h.slowConsumers),
  );

  mirror(
    'tokens_issued_total',
    'Token families started (issue)',
    t((m) => m.issued),
  );
  mirror(
    'tokens_refreshed_total',
    'Refresh tokens rotated',
    t((m) => m.refreshed),
  );
  mirror(
    'tokens_reuse_detected_total',
    'Rotated refresh tokens presented again; each revoked its family (theft detection)',
    t((m) => m.reuseDetected),
  );
  new prom.Counter({
    name: `${prefix}tokens_rejected_total`,
    help: 'Tokens refused, by kind: access (malformed, bad signature, expired, revoked…), access_revoked (of those, revoked), refresh',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      this.reset();
      this.inc({ kind: 'access' }, t((m) => m.refused)());
      this.inc({ kind: 'access_revoked' }, t((m) => m.revokedRefused)());
      this.inc({ kind: 'refresh' }, t((m) => m.refreshRefused)());
    },
  });

  const metrics: StatelineMetrics = {
    registry,
    store: (store) => instrumentStore(store, storeInstruments),
    bus: (bus) => instrumentBus(bus, busInstruments),
    watch(sources) {
      if (sources.sessions) sessions.push(sources.sessions);
      if (sources.idempotency) idempotency.push(sources.idempotency);
      if (sources.realtime) hubs.push(sources.realtime);
      if (sources.tokens) tokens.push(sources.tokens);
    },
  };
  metrics.watch(options);
  return metrics;
}
