import type { Bus } from '../bus/types.js';
import { forwardRedisPublishRoute } from '../internal/redis-publish-route.js';
import type { Counter } from 'prom-client';

/** The metrics a wrapped Bus feeds. */
export interface BusInstruments {
  publishes: Counter;
  errors: Counter;
  deliveries: Counter;
}

/**
 * A Bus that counts what it publishes, the publishes that fail, and the messages its subscribers
 * receive (one per handler call); everything else passes through. A Redis Log on the same server
 * still publishes for it from its append script (one round trip), and those publishes count too.
 *
 * @example
 * ```ts
 * const bus = instrumentBus(await createBus('redis://127.0.0.1:6379'), instruments);
 * ```
 */
export function instrumentBus(inner: Bus, m: BusInstruments): Bus {
  const outer: Bus = {
    get backend() {
      return inner.backend;
    },
    async publish(channel, message) {
      m.publishes.inc();
      try {
        await inner.publish(channel, message);
      } catch (err) {
        m.errors.inc();
        throw err;
      }
    },
    subscribe: (channel, handler) =>
      inner.subscribe(channel, (message, ch) => {
        m.deliveries.inc();
        handler(message, ch);
      }),
    onConnectionChange: (listener) => inner.onConnectionChange(listener),
    close: () => inner.close(),
  };
  forwardRedisPublishRoute(inner, outer, () => m.publishes.inc());
  return outer;
}
