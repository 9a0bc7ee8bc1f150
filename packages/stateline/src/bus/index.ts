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
import { StatelineError } from '../errors.js';
import { parseBackendSpec } from '../internal/backend-spec.js';
import { rejectUnknown } from '../internal/spec.js';
import { MemoryBus } from './memory-bus.js';
import type { Bus, BusOptions, BusSpec } from './types.js';

export type * from './types.js';
export { MemoryBus } from './memory-bus.js';
export { attachIpcRelay, type IpcRelay } from './ipc-relay.js';

const COMMON = ['type', 'prefix', 'timeout'];
const KNOWN: Record<BusOptions['type'], string[]> = {
  memory: [...COMMON, 'hub'],
  ipc: COMMON,
  redis: [...COMMON, 'url'],
  postgres: [...COMMON, 'url'],
};

/** Turns a spec string into the options object it stands for. */
export function busOptionsFromSpec(spec: BusSpec): BusOptions {
  if (typeof spec !== 'string') return spec;
  const { target, ...rest } = parseBackendSpec(spec, 'bus', ['memory', 'ipc', 'redis', 'postgres']);
  return { ...target, ...rest } as BusOptions;
}

/**
 * Opens a Bus from a spec string or options.
 *
 * @example
 * ```ts
 * const bus = await createBus({ type: 'postgres', url: 'postgres://127.0.0.1/app' });
 * ```
 */
export async function createBus(spec: BusSpec): Promise<Bus> {
  const options = busOptionsFromSpec(spec);
  if (!options || typeof options !== 'object' || !(options.type in KNOWN)) {
    throw new StatelineError('SL_ERR_INVALID_SPEC', `bus type must be one of ${Object.keys(KNOWN).join(', ')}`);
  }
  rejectUnknown(options, KNOWN[options.type], `${options.type} bus`);
  switch (options.type) {
    case 'memory':
      return new MemoryBus(options);
    case 'ipc':
      return (await import('./ipc-bus.js')).openIpcBus(options);
    case 'redis':
      return (await import('./redis-bus.js')).openRedisBus(options);
    case 'postgres':
      return (await import('./postgres-bus.js')).openPostgresBus(options);
  }
}
