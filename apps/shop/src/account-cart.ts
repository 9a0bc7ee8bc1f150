import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from 'stateline/store';
import { readCart, type CartState } from './cart.js';
import { SL_ERR_CART_CONTENDED } from './errors.js';
import { fail } from './http-error.js';

/** The Store key of a logged-in user's cart: one record per account, shared by all its sessions. */
export const accountCartKey = (userId: string) => `shop:cart:${userId}`;
const MAX_ATTEMPTS = 1000;

function parse(value: string | undefined): CartState {
  if (value === undefined) return readCart(undefined);
  try {
    return readCart(JSON.parse(value));
  } catch {
    return readCart(undefined);
  }
}

/**
 * The cart of an account as the Store holds it (empty when it has none yet).
 *
 * @example
 * ```ts
 * const cart = await readAccountCart(store, 'alice'); // { items: [{ productId: 'mug', qty: 2 }], … }
 * ```
 */
export async function readAccountCart(store: Store, userId: string): Promise<CartState> {
  return parse((await store.get(accountCartKey(userId)))?.value);
}

/**
 * Read-modify-write of an account's cart with the Store's compare-and-set: `fn` is applied to the
 * current cart and re-applied to a fresh read whenever another request (any instance, any device)
 * wrote in between, so no add is lost whatever the session strategy. `fn` may throw to refuse;
 * returning the cart it was given writes nothing. `SL_ERR_CART_CONTENDED` after 1000 conflicts.
 *
 * @example
 * ```ts
 * const cart = await changeAccountCart(store, 'alice', (c) => addLine(c, 'mug', 1));
 * ```
 */
export async function changeAccountCart(
  store: Store,
  userId: string,
  fn: (cart: CartState) => CartState,
): Promise<CartState> {
  const key = accountCartKey(userId);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const rec = await store.get(key);
    const cur = parse(rec?.value);
    const next = fn(cur);
    if (next === cur) return cur;
    const value = JSON.stringify(next);
    const res = rec
      ? await store.update(key, value, { ifVersion: rec.version })
      : await store.create(key, value);
    if (res.ok) return next;
    // Many writers on one key: a short random pause lets the one that read last get through.
    if (attempt >= 3) await sleep(Math.random() * Math.min(attempt, 20));
  }
  fail(SL_ERR_CART_CONTENDED, `gave up after ${MAX_ATTEMPTS} conflicting writes`, { 'retry-after': '1' });
}
