/** Reconnect backoff shared by every backend that keeps a connection open (Redis clients, the PostgreSQL bus). */

const BACKOFF_START_MS = 50;
const BACKOFF_CAP_MS = 2000;

/**
 * Milliseconds to wait before reconnect attempt `retries` (0-based): doubles from 50 ms up to 2 s,
 * then a random point in the upper half of that window so many clients do not reconnect in step.
 *
 * @example
 * ```ts
 * reconnectDelay(0); // 25…50
 * reconnectDelay(20); // 1000…2000
 * ```
 */
export function reconnectDelay(retries: number): number {
  const window = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** Math.min(retries, 16));
  return Math.round(window / 2 + (Math.random() * window) / 2);
}
