import { api, ApiError } from './api.js';
import { setState } from './state.js';
import type { Order } from './types.js';

/** Answers after which the same attempt may be sent again: it may or may not have happened. */
const RETRYABLE = new Set([0, 502, 503, 504]);
const AUTO_RETRIES = 3;

/** The key of the checkout attempt whose outcome is not known yet (kept only in memory). */
let pendingKey: string | null = null;

/**
 * A random UUID for an Idempotency-Key; `crypto.randomUUID` needs a secure context,
 * `getRandomValues` does not.
 *
 * @example
 * ```ts
 * const key = newKey(); // '1b4e28ba-2fa1-4d2e-8c3f-7a9e0b1c2d3e'
 * ```
 */
export function newKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * True for an answer after which the same attempt may be sent again (no answer, 502/503/504,
 * still in flight): it may or may not have happened.
 *
 * @example
 * ```ts
 * if (retryable(err)) await sleep(500); // then the same key again
 * ```
 */
export function retryable(err: unknown): err is ApiError {
  return (
    err instanceof ApiError && (RETRYABLE.has(err.status) || err.code === 'SL_ERR_IDEMPOTENCY_IN_FLIGHT')
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * True while a checkout attempt failed in a way that leaves its outcome open: the next
 * {@link placeOrder} sends the same Idempotency-Key, so the server answers with the order it
 * may already have made instead of making a second one.
 *
 * @example
 * ```ts
 * button.textContent = checkoutPending() ? 'Retry order' : 'Place order';
 * ```
 */
export function checkoutPending(): boolean {
  return pendingKey !== null;
}

/**
 * Places the order for the cart. One attempt = one Idempotency-Key (`crypto.randomUUID()`), reused
 * for the automatic retries after a lost answer (network, 502/503/504, still in flight) and for a
 * retry the user starts after those ran out; a definite answer (the order, or a refusal such as an
 * empty cart) ends the attempt.
 *
 * @example
 * ```ts
 * const order = await placeOrder(); // 201 → the order; the cart is now empty
 * ```
 */
export async function placeOrder(): Promise<Order> {
  const key = (pendingKey ??= newKey());
  for (let attempt = 0; ; attempt++) {
    try {
      const { order } = await api<{ order: Order }>('/api/orders', {
        method: 'POST',
        headers: { 'idempotency-key': key },
      });
      pendingKey = null;
      setState({ cartCount: 0 });
      return order;
    } catch (err) {
      if (retryable(err) && attempt < AUTO_RETRIES) {
        await sleep(err.retryAfter !== null ? err.retryAfter * 1000 : 250 * 2 ** attempt);
        continue;
      }
      if (!retryable(err)) pendingKey = null;
      throw err;
    }
  }
}
