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
import { openBackend, optionsFromSpec, type BackendFamily, type ByType } from '../internal/backend-family.js';
import { MemoryStore } from './memory-store.js';
import type { Store, StoreOptions, StoreSpec } from './types.js';

export type * from './types.js';
export { MemoryStore } from './memory-store.js';

const STORES: BackendFamily<ByType<StoreOptions>, Store> = {
  what: 'store',
  backends: {
    memory: { options: ['now', 'maxEntries'], open: (o) => new MemoryStore(o) },
    sqlite: { options: ['path'], open: async (o) => (await import('./sqlite-store.js')).openSqliteStore(o) },
    redis: { options: ['url'], open: async (o) => (await import('./redis-store.js')).openRedisStore(o) },
    'redis-cluster': {
      options: ['nodes'],
      open: async (o) => (await import('./redis-store.js')).openRedisStore(o),
    },
    'redis-sentinel': {
      options: ['sentinels', 'name', 'username', 'password'],
      open: async (o) => (await import('./redis-store.js')).openRedisStore(o),
    },
    postgres: {
      options: ['url', 'poolSize'],
      open: async (o) => (await import('./postgres-store.js')).openPostgresStore(o),
    },
    memcached: {
      options: ['servers', 'itemSize', 'poolSize'],
      open: async (o) => (await import('./memcached-store.js')).openMemcachedStore(o),
    },
  },
};

/** Turns a spec string into the options object it stands for. */
export function storeOptionsFromSpec(spec: StoreSpec): StoreOptions {
  return optionsFromSpec(STORES, spec);
}

/**
 * Opens a Store from a spec string or an options object. Drivers (`better-sqlite3`, `redis`,
 * `pg`, `memcached`) are optional peer dependencies loaded here on first use.
 *
 * @example
 * ```ts
 * const store = await createStore('redis://127.0.0.1:6379?prefix=app:');
 * const pg = await createStore({ type: 'postgres', url: 'postgres://127.0.0.1/app', timeout: 1000 });
 * const mc = await createStore('memcached://10.0.0.1:11211,10.0.0.2:11211?prefix=app:');
 * ```
 */
export function createStore(spec: StoreSpec): Promise<Store> {
  return openBackend(STORES, spec);
}
export { ForwardingStore } from './decorators/forwarding-store.js';
export { NearCacheStore, type NearCacheOptions } from './decorators/near-cache-store.js';
export { redactSpec } from './redact-spec.js';
