/**
 * Socket writes per millisecond one room's fan-out may cost before it starts batching. A flush
 * writes once per member, so a room of 100 sockets flushes at once while its last flush is at
 * least 1 ms old (up to ~1,000 flushes/s), and batches beyond that.
 */
export const WRITE_BUDGET_PER_MS = 100;

/**
 * When a room's fan-out should flush, given how long ago it last flushed: 0 means at the end of
 * this event-loop turn (`setImmediate`), anything else is a timer of that many ms. A quiet room
 * (last flush at least `members / WRITE_BUDGET_PER_MS` ms ago, or `interval` ago) writes at once,
 * so a message at low rates pays no batching delay; a busy one flushes at most once per
 * `interval`, so each socket gets several frames per syscall under load.
 *
 * @example
 * ```ts
 * flushDelay(50, 200, 10); // 0: quiet, write now
 * flushDelay(0.3, 200, 10); // 9.7: under load, batch until 10 ms after the last flush
 * ```
 */
export function flushDelay(sinceLastMs: number, members: number, interval: number): number {
  if (interval <= 0) return 0;
  const quiet = Math.min(interval, members / WRITE_BUDGET_PER_MS);
  return sinceLastMs >= quiet ? 0 : interval - sinceLastMs;
}
