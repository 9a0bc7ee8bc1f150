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
import { StatelineError } from '../errors.js';
import { parseBackendSpec } from '../internal/backend-spec.js';
import { rejectUnknown } from '../internal/spec.js';
import { MemoryLog } from './memory-log.js';
import { normalizeRetention } from './retention.js';
import type { Log, LogOptions, LogSpec } from './types.js';

export type * from './types.js';
export { MemoryLog } from './memory-log.js';

const COMMON = ['type', 'prefix', 'timeout', 'retention'];
const KNOWN: Record<LogOptions['type'], string[]> = {
  memory: [...COMMON, 'now'],
  sqlite: [...COMMON, 'path'],
  redis: [...COMMON, 'url'],
  postgres: [...COMMON, 'url', 'poolSize'],
};

/** Turns a spec string into the options object it stands for. */
export function logOptionsFromSpec(spec: LogSpec): LogOptions {
  if (typeof spec !== 'string') return spec;
  const { target, ...rest } = parseBackendSpec(spec, 'log', ['memory', 'sqlite', 'redis', 'postgres']);
  return { ...target, ...rest } as LogOptions;
}

/**
 * Opens a Log from a spec string or options.
 *
 * @example
 * ```ts
 * const log = await createLog({ type: 'postgres', url: 'postgres://127.0.0.1/app', retention: { maxAge: 86_400_000 } });
 * ```
 */
export async function createLog(spec: LogSpec): Promise<Log> {
  const options = logOptionsFromSpec(spec);
  if (!options || typeof options !== 'object' || !(options.type in KNOWN)) {
    throw new StatelineError('SL_ERR_INVALID_SPEC', `log type must be one of ${Object.keys(KNOWN).join(', ')}`);
  }
  rejectUnknown(options, KNOWN[options.type], `${options.type} log`);
  normalizeRetention(options.retention);
  switch (options.type) {
    case 'memory':
      return new MemoryLog(options);
    case 'sqlite':
      return (await import('./sqlite-log.js')).openSqliteLog(options);
    case 'redis':
      return (await import('./redis-log.js')).openRedisLog(options);
    case 'postgres':
      return (await import('./postgres-log.js')).openPostgresLog(options);
  }
}
