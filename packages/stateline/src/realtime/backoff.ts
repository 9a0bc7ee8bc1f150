/**
 * Reconnect delay: exponential from `min` doubling per failed attempt up to `max`, with "equal
 * jitter" (half fixed, half random), so a crowd that lost the same instance does not come back
 * in lockstep while each client still waits at least half the nominal delay.
 *
 * @example
 * ```ts
 * backoff(0, 100, 10_000); // 50–100 ms
 * backoff(3, 100, 10_000); // 400–800 ms
 * ```
 */
export function backoff(
  attempt: number,
  min: number,
  max: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}
