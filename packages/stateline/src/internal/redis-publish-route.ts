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
}

const routes = new WeakMap<Bus, RedisPublishRoute>();

/** Registers `bus` as publishing by `route` (called by the Redis Bus when it opens). */
export function setRedisPublishRoute(bus: Bus, route: RedisPublishRoute): void {
  routes.set(bus, route);
}

/** The route of a single-server Redis Bus; `undefined` for any other Bus. */
export function redisPublishRoute(bus: Bus): RedisPublishRoute | undefined {
  return routes.get(bus);
}
