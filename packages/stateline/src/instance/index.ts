/**
 * `stateline/instance`: what an app runs in production behind any balancer. One process per
 * instance that listens on `PORT`/`HOST`, answers `/healthz` and `/readyz`, marks every response
 * with `X-Stateline-Instance`, drains on SIGTERM and closes its Store, Bus and Log in order. A
 * supervisor (the lab's `stateline up`) speaks to it through the protocol exported here.
 *
 * @example
 * ```ts
 * import { failStartup, isMainModule, runInstance } from 'stateline/instance';
 * import { createStore } from 'stateline/store';
 * if (isMainModule(import.meta.url)) {
 *   const store = await createStore(process.env.STATELINE_STORE ?? 'memory:').catch(failStartup);
 *   await runInstance((_req, res) => res.end('hi'), { close: [store] });
 * }
 * ```
 * @module
 */
export { runInstance, type InstanceOptions, type RunningInstance } from './run.js';
export type { Closable } from './close.js';
export { failStartup } from './fail-startup.js';
export { isMainModule } from './main-module.js';
export { INSTANCE_ENV, GATEWAY_PROOF_HEADER } from './env.js';
export { migrateFromEnv, type MigrateFrom } from './migrate-from.js';
export { isSupervisorMessage, type SupervisorMessage } from './supervisor-protocol.js';
export type * from './workload.js';
