/**
 * `stateline/metrics`: Prometheus metrics (through the optional peer `prom-client`) for sessions,
 * Stores, Buses, idempotency and realtime hubs.
 *
 * @example
 * ```ts
 * import { collectMetrics } from 'stateline/metrics';
 * const metrics = await collectMetrics();
 * const store = metrics.store(await createStore(process.env.STATELINE_STORE ?? 'sqlite:.stateline/state.db'));
 * metrics.watch({ sessions: await createSessions({ strategy: 'server', store, keys }) });
 * ```
 * @module
 */
export {
  collectMetrics,
  type MetricsOptions,
  type MetricSources,
  type StatelineMetrics,
} from './collector.js';
