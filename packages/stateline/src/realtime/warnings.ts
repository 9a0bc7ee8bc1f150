/** The same warning is emitted at most once per this many ms: outages repeat it many times. */
const REPEAT_MS = 10_000;

/**
 * A `warn(message, err?)` that emits a `StatelineRealtimeWarning` process warning, each distinct
 * message at most once per 10 s.
 *
 * @example
 * ```ts
 * const warn = warnSparingly();
 * warn('realtime: publish to lobby failed', err); // emitted
 * warn('realtime: publish to lobby failed', err); // dropped for 10 s
 * ```
 */
export function warnSparingly(): (message: string, err?: unknown) => void {
  const warned = new Map<string, number>();
  return (message, err) => {
    const now = Date.now();
    if ((warned.get(message) ?? 0) > now) return;
    if (warned.size > 1000) warned.clear();
    warned.set(message, now + REPEAT_MS);
    const why = err === undefined ? '' : `: ${err instanceof Error ? err.message : String(err)}`;
    process.emitWarning(`${message}${why}`, 'StatelineRealtimeWarning');
  };
}
