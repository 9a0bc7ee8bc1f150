/**
 * `stateline/store`: one small contract for every database a strategy can keep state in.
 *
 * @example
 * ```ts
 * import { createStore } from 'stateline/store';
 * const store = await createStore('sqlite:.stateline/state.db');
 * await store.create('greeting', JSON.stringify({ hello: 'world' }), { ttl: 60_000 });
 * ```
 * @module
 */
import { StatelineError } from '../errors.js';
import { parseBackendSpec } from '../internal/backend-spec.js';
import { rejectUnknown } from '../internal/spec.js';
import { MemoryStore } from './memory-store.js';
import type { Store, StoreOptions, StoreSpec } from './types.js';

export type * from './types.js';
export { MemoryStore } from './memory-store.js';

const COMMON = ['type', 'prefix', 'timeout'];
const KNOWN: Record<StoreOptions['type'], string[]> = {
  memory: [...COMMON, 'now', 'maxEntries'],
  sqlite: [...COMMON, 'path'],
  redis: [...COMMON, 'url'],
  'redis-cluster': [...COMMON, 'nodes'],
  postgres: [...COMMON, 'url', 'poolSize'],
};

/** Turns a spec string into the options object it stands for. */
export function storeOptionsFromSpec(spec: StoreSpec): StoreOptions {
  if (typeof spec !== 'string') return spec;
  const { target, ...rest } = parseBackendSpec(spec, 'store', [
    'memory',
    'sqlite',
    'redis',
    'redis-cluster',
    'postgres',
  ]);
  return { ...target, ...rest } as StoreOptions;
}

/**
 * Opens a Store from a spec string or an options object. Drivers (`better-sqlite3`, `redis`,
 * `pg`) are optional peer dependencies loaded here on first use.
 *
 * @example
 * ```ts
 * const store = await createStore('redis://127.0.0.1:6379?prefix=app:');
 * const pg = await createStore({ type: 'postgres', url: 'postgres://127.0.0.1/app', timeout: 1000 });
 * ```
 */
export async function createStore(spec: StoreSpec): Promise<Store> {
  const options = storeOptionsFromSpec(spec);
  if (!options || typeof options !== 'object' || !(options.type in KNOWN)) {
    throw new StatelineError(
      'SL_ERR_INVALID_SPEC',
      `store type must be one of ${Object.keys(KNOWN).join(', ')}`,
    );
  }
  rejectUnknown(options, KNOWN[options.type], `${options.type} store`);
  if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout > 0)) {
    throw new StatelineError('SL_ERR_INVALID_OPTION', 'store timeout must be a positive number of ms');
  }
  switch (options.type) {
    case 'memory':
      return new MemoryStore(options);
    case 'sqlite':
      return (await import('./sqlite-store.js')).openSqliteStore(options);
    case 'redis':
    case 'redis-cluster':
      return (await import('./redis-store.js')).openRedisStore(options);
    case 'postgres':
      return (await import('./postgres-store.js')).openPostgresStore(options);
  }
}
export { ForwardingStore } from './decorators/forwarding-store.js';
export { NearCacheStore, type NearCacheOptions } from './decorators/near-cache-store.js';
export { redactSpec } from './redact-spec.js';
