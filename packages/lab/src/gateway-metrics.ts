import type { ResponseEvent, StateChange } from '@stateline/gateway';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The instance label of answers the gateway made itself (no instance up, upstream failed). */
export const GATEWAY_LABEL = 'gateway';

/** prom-client's process metrics, once per process: each call would add event-loop and GC monitors that are never stopped. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Prometheus metrics of the lab's gateway, in a registry of their own. */
export interface GatewayMetrics {
  /** The gateway's own metrics (the process metrics are added by {@link GatewayMetrics.text}). */
  readonly registry: Registry;
  /** For the gateway's `onStateChange` option: counts health transitions. */
  onStateChange(change: StateChange): void;
  /** For the gateway's `onResponse` option: counts one answer (by instance and status) and times it. */
  observe(event: ResponseEvent): void;
  /** The Prometheus text exposition. */
  text(): Promise<string>;
}

/**
 * The gateway's metrics: `stateline_gateway_requests_total{instance,status}`,
 * `stateline_gateway_request_duration_seconds` (histogram), `stateline_gateway_retries_total{instance}`
 * (`retries()`: each instance's retries so far, read at each scrape),
 * `stateline_gateway_health_transitions_total{instance,to}`, and prom-client's default process
 * metrics of the gateway process. `instance` is the id of the instance whose answer the gateway
 * relayed, or `gateway` for answers the gateway made itself.
 *
 * @example
 * ```ts
 * const metrics = createGatewayMetrics(() => gw.instances());
 * const gw = createGateway({ onStateChange: (c) => metrics.onStateChange(c), onResponse: (e) => metrics.observe(e) });
 * console.log(await metrics.text());
 * ```
 */
export function createGatewayMetrics(
  retries: () => readonly { id: string; retries: number }[],
): GatewayMetrics {
  const registry = new Registry();
  const defaults = processMetrics();
  const requests = new Counter({
    name: 'stateline_gateway_requests_total',
    help: 'Requests the gateway answered, by the instance that answered and the status',
    labelNames: ['instance', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'stateline_gateway_request_duration_seconds',
    help: 'Time from a request reaching the gateway to the end of its answer',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const transitions = new Counter({
    name: 'stateline_gateway_health_transitions_total',
    help: 'Instance state changes seen by the gateway, by the state entered',
    labelNames: ['instance', 'to'] as const,
    registers: [registry],
  });
  // A count that went back (a restarted process counted by the gateway alone) is a new start.
  const seen = new Map<string, number>();
  new Counter({
    name: 'stateline_gateway_retries_total',
    help: 'Requests that failed on an instance and were retried on another one',
    labelNames: ['instance'] as const,
    registers: [registry],
    collect() {
      for (const i of retries()) {
        const prev = seen.get(i.id);
        const delta = prev === undefined || i.retries < prev ? i.retries : i.retries - prev;
        seen.set(i.id, i.retries);
        // inc(0) still creates the series, so every instance shows up from the first scrape.
        this.inc({ instance: i.id }, delta);
      }
    },
  });

  return {
    registry,
    onStateChange(change) {
      transitions.inc({ instance: change.id, to: change.to });
    },
    observe(event) {
      // An answer cut off before its end counts as `aborted`, not as the status it began with.
      const status = event.completed ? String(event.status) : 'aborted';
      requests.inc({ instance: event.instance ?? GATEWAY_LABEL, status });
      duration.observe(event.duration / 1000);
    },
    text: async () => `${await registry.metrics()}\n${await defaults.metrics()}`,
  };
}
