/**
 * `stateline/bus`: at-most-once publish/subscribe between instances.
 *
 * @example
 * ```ts
 * import { createBus } from 'stateline/bus';
 * const bus = await createBus('ipc:'); // relayed by `stateline up`'s supervisor
 * await bus.subscribe('revoked', (sid) => denyList.add(sid));
 * ```
 * @module
 */
import { openBackend, optionsFromSpec, type BackendFamily, type ByType } from '../internal/backend-family.js';
import { MemoryBus } from './memory-bus.js';
import type { Bus, BusOptions, BusSpec } from './types.js';

export type * from './types.js';
export { MemoryBus } from './memory-bus.js';
export { attachIpcRelay, type IpcRelay } from './ipc-relay.js';

const BUSES: BackendFamily<ByType<BusOptions>, Bus> = {
  what: 'bus',
  backends: {
    memory: { options: ['hub'], open: (o) => new MemoryBus(o) },
    ipc: { options: [], open: async (o) => (await import('./ipc-bus.js')).openIpcBus(o) },
    redis: { options: ['url'], open: async (o) => (await import('./redis-bus.js')).openRedisBus(o) },
    'redis-cluster': {
      options: ['nodes'],
      open: async (o) => (await import('./redis-bus.js')).openRedisBus(o),
    },
    'redis-sentinel': {
      options: ['sentinels', 'name', 'username', 'password'],
      open: async (o) => (await import('./redis-bus.js')).openRedisBus(o),
    },
    postgres: { options: ['url'], open: async (o) => (await import('./postgres-bus.js')).openPostgresBus(o) },
    nats: { options: ['url'], open: async (o) => (await import('./nats-bus.js')).openNatsBus(o) },
  },
};

/** Turns a spec string into the options object it stands for. */
export function busOptionsFromSpec(spec: BusSpec): BusOptions {
  return optionsFromSpec(BUSES, spec);
}

/**
 * Opens a Bus from a spec string or options.
 *
 * @example
 * ```ts
 * const bus = await createBus({ type: 'postgres', url: 'postgres://127.0.0.1/app' });
 * ```
 */
export function createBus(spec: BusSpec): Promise<Bus> {
  return openBackend(BUSES, spec);
}
