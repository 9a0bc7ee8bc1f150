import type { Bus } from 'stateline/bus';
import type { Counter } from 'prom-client';

/**
 * A Bus that counts what it publishes and the publishes that fail; subscriptions pass through.
 *
 * @example
 * ```ts
 * const bus = instrumentBus(await createBus('ipc:'), metrics.busPublishes, metrics.busErrors);
 * ```
 */
export function instrumentBus(inner: Bus, publishes: Counter, errors: Counter): Bus {
  return {
    get backend() {
      return inner.backend;
    },
    async publish(channel, message) {
      publishes.inc();
      try {
        await inner.publish(channel, message);
      } catch (err) {
        errors.inc();
        throw err;
      }
    },
    subscribe: (channel, handler) => inner.subscribe(channel, handler),
    onConnectionChange: (listener) => inner.onConnectionChange(listener),
    close: () => inner.close(),
  };
}
