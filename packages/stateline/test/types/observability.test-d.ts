// Type tests of `stateline/logger` and `stateline/metrics`: a pino logger (and a child) is a
// Logger as it is, every component takes one, and the metrics take what the components expose.
import { expectTypeOf } from 'expect-type';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createBus } from 'stateline/bus';
import { withIdempotency } from 'stateline/node';
import type { Logger } from 'stateline/logger';
import { collectMetrics } from 'stateline/metrics';
import type { Hub } from 'stateline/realtime';
import { createSessions } from 'stateline/session';
import { createStore } from 'stateline/store';

const logger = pino();
expectTypeOf(logger).toMatchTypeOf<Logger>();
expectTypeOf(logger.child({ part: 'sessions' })).toMatchTypeOf<Logger>();
// Not a logger: console.log alone has none of the levels.
expectTypeOf({ log: console.log }).not.toMatchTypeOf<Logger>();

const sessions = await createSessions({ strategy: 'token', keys: [process.env.SESSION_KEY], logger });
const metrics = await collectMetrics({ registry: new Registry(), prefix: 'app_', sessions });
const store = metrics.store(await createStore({ type: 'memory', logger }));
const bus = metrics.bus(await createBus({ type: 'memory', logger: logger.child({}) }));
const checkout = withIdempotency({ store, logger }, (_req, res) => void res.end());
expectTypeOf(checkout.stats.replays).toEqualTypeOf<number>();
declare const hub: Hub;
metrics.watch({ idempotency: checkout, realtime: hub });
expectTypeOf(metrics.registry).toEqualTypeOf<Registry>();
expectTypeOf(bus.publish).parameters.toEqualTypeOf<[channel: string, message: string]>();
// @ts-expect-error: stats are read-only to the application
checkout.stats.replays = 0;
