/**
 * `stateline/log`: per-stream ordered history with offsets and epochs (chat rooms, audit trails).
 *
 * @example
 * ```ts
 * import { createLog } from 'stateline/log';
 * const log = await createLog('sqlite:.stateline/state.db');
 * await log.append('room:lobby', '{"text":"hello"}');
 * ```
 * @module
 */
import { openBackend, optionsFromSpec, type BackendFamily, type ByType } from '../internal/backend-family.js';
import { MemoryLog } from './memory-log.js';
import { normalizeRetention } from './retention.js';
import type { Log, LogOptions, LogSpec } from './types.js';

export type * from './types.js';
export { MemoryLog } from './memory-log.js';
export { fillAppendMessage } from './append-message.js';

const LOGS: BackendFamily<ByType<LogOptions>, Log> = {
  what: 'log',
  common: ['retention'],
  backends: {
    memory: { options: ['now'], open: (o) => new MemoryLog(o) },
    sqlite: { options: ['path'], open: async (o) => (await import('./sqlite-log.js')).openSqliteLog(o) },
    redis: { options: ['url'], open: async (o) => (await import('./redis-log.js')).openRedisLog(o) },
    'redis-cluster': {
      options: ['nodes'],
      open: async (o) => (await import('./redis-log.js')).openRedisLog(o),
    },
    'redis-sentinel': {
      options: ['sentinels', 'name', 'username', 'password'],
      open: async (o) => (await import('./redis-log.js')).openRedisLog(o),
    },
    postgres: {
      options: ['url', 'poolSize'],
      open: async (o) => (await import('./postgres-log.js')).openPostgresLog(o),
    },
    nats: {
      options: ['url', 'replicas', 'storage'],
      open: async (o) => (await import('./nats-log.js')).openNatsLog(o),
    },
  },
  check: (o) => void normalizeRetention(o.retention),
};

/** Turns a spec string into the options object it stands for. */
export function logOptionsFromSpec(spec: LogSpec): LogOptions {
  return optionsFromSpec(LOGS, spec);
}

/**
 * Opens a Log from a spec string or options.
 *
 * @example
 * ```ts
 * const log = await createLog({ type: 'postgres', url: 'postgres://127.0.0.1/app', retention: { maxAge: 86_400_000 } });
 * ```
 */
export function createLog(spec: LogSpec): Promise<Log> {
  return openBackend(LOGS, spec);
}
