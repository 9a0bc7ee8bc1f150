/** The same warning is emitted at most once per this many ms: outages repeat it many times. */
const REPEAT_MS = 10_000;

import { processLogger, type Logger } from '../logger.js';

/**
 * A `warn(message, err?)` that passes each distinct message to `log.warn` at most once per 10 s
 * (default: a `StatelineRealtimeWarning` process warning).
 *
 * @example
 * ```ts
 * const warn = warnSparingly(pino());
 * warn('realtime: publish to lobby failed', err); // emitted
 * warn('realtime: publish to lobby failed', err); // dropped for 10 s
 * ```
 */
export function warnSparingly(
  log: Logger = processLogger('StatelineRealtimeWarning'),
): (message: string, err?: unknown) => void {
  const warned = new Map<string, number>();
  return (message, err) => {
    const now = Date.now();
    if ((warned.get(message) ?? 0) > now) return;
    if (warned.size > 1000) warned.clear();
    warned.set(message, now + REPEAT_MS);
    log.warn(err === undefined ? {} : { err }, message);
  };
}
