import { collectDefaultMetrics, Counter, Histogram } from 'prom-client';
import { collectMetrics, type StatelineMetrics } from 'stateline/metrics';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * One instance's metrics, in a registry of its own (never prom-client's global one): Stateline's
 * own (sessions, Store, Bus, idempotency, realtime: `stateline/metrics`), the shop's HTTP requests
 * and prom-client's process metrics.
 *
 * @example
 * ```ts
 * const metrics = await ShopMetrics.create();
 * const store = metrics.stateline.store(await createStore(spec));
 * metrics.request('GET', '/api/cart', 200, 0.004);
 * res.end(await metrics.registry.metrics());
 * ```
 */
export class ShopMetrics {
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly durations: Histogram<'method' | 'route' | 'status'>;

  private constructor(readonly stateline: StatelineMetrics) {
    const registers = [stateline.registry];
    collectDefaultMetrics({ register: stateline.registry });
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
  }

  static async create(): Promise<ShopMetrics> {
    return new ShopMetrics(await collectMetrics({ buckets: DURATION_BUCKETS }));
  }

  get registry() {
    return this.stateline.registry;
  }

  /** Records one answered request. `route` is the pattern, never the raw path. */
  request(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.durations.observe(labels, seconds);
  }
}
