/**
 * How a Redis Log finds out that it can publish on a Redis Bus itself: a single-server Redis Bus
 * registers where it publishes (its url and channel prefix) under the Bus object; the Log, on the
 * same url, publishes from its append script with the Bus's exact channel and framing. Nothing is
 * added to the public Bus contract.
 */
import type { Bus } from '../bus/types.js';

/** Where a single-server Redis Bus publishes. */
export interface RedisPublishRoute {
  /** The url the Bus connected with. */
  readonly url: string;
  /** Prepended to every channel (`PUBLISH ${prefix}${channel} message`). */
  readonly prefix: string;
  /** True once the Bus was closed: its publishes are refused. */
  readonly closed: () => boolean;
  /** Told of each message the Log's script published for this Bus (a wrapper's counters). */
  readonly published?: () => void;
}

const routes = new WeakMap<Bus, RedisPublishRoute>();

/** Registers `bus` as publishing by `route` (called by the Redis Bus when it opens). */
export function setRedisPublishRoute(bus: Bus, route: RedisPublishRoute): void {
  routes.set(bus, route);
}

/**
 * For a Bus that wraps `inner` (metrics, say): publishes by the same route, each one reported to
 * `published` too; no-op when `inner` has no route.
 */
export function forwardRedisPublishRoute(inner: Bus, outer: Bus, published: () => void): void {
  const route = routes.get(inner);
  if (!route) return;
  routes.set(outer, {
    ...route,
    published: () => {
      route.published?.();
      published();
    },
  });
}

/** The route of a single-server Redis Bus; `undefined` for any other Bus. */
export function redisPublishRoute(bus: Bus): RedisPublishRoute | undefined {
  return routes.get(bus);
}
