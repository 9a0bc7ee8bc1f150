import { findProduct } from './catalog.js';
import { fail } from './http-error.js';
import { SL_ERR_CART_LIMIT } from './errors.js';

/** One cart line. */
export interface CartLine {
  productId: string;
  qty: number;
}

/**
 * The cart as the session keeps it: the lines, and the last orders already taken out of it (so a
 * checkout re-run after a crash does not take its items out twice).
 */
export interface CartState {
  items: CartLine[];
  settled?: string[];
  /** An anonymous cart's own id, made on its first write: what a merge at login is keyed by. */
  id?: string;
  /** An account cart's record of the anonymous carts already merged into it (the latest few). */
  merged?: string[];
}

/** Session key of the cart. */
export const CART = 'cart';
/** Largest quantity one add may bring, and largest a line may reach. */
export const MAX_ADD = 99;
export const MAX_LINE = 999;
const SETTLED_KEPT = 20;
const MERGED_KEPT = 20;

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/**
 * A cart read from the session, cleaned of anything that is not a valid line of a known product.
 *
 * @example
 * ```ts
 * const cart = readCart(req.session.get(CART)); // { items: [{ productId: 'mug', qty: 2 }] }
 * ```
 */
export function readCart(raw: unknown): CartState {
  const value = raw as Partial<CartState> | undefined;
  const items = Array.isArray(value?.items) ? value.items : [];
  const cart: CartState = {
    items: items.filter(
      (l): l is CartLine =>
        !!l &&
        typeof l.productId === 'string' &&
        findProduct(l.productId) !== undefined &&
        Number.isInteger(l.qty) &&
        l.qty > 0,
    ),
    settled: strings(value?.settled),
  };
  if (typeof value?.id === 'string') cart.id = value.id;
  if (value?.merged !== undefined) cart.merged = strings(value.merged);
  return cart;
}

/**
 * Adds `qty` of a product; `SL_ERR_CART_LIMIT` when the line would pass {@link MAX_LINE}.
 *
 * @example
 * ```ts
 * addLine(cart, 'mug', 2);
 * ```
 */
export function addLine(cart: CartState, productId: string, qty: number): CartState {
  const items = cart.items.map((l) => ({ ...l }));
  const line = items.find((l) => l.productId === productId);
  const next = (line?.qty ?? 0) + qty;
  if (next > MAX_LINE)
    fail(SL_ERR_CART_LIMIT, `a line may hold at most ${MAX_LINE} (this one has ${line?.qty ?? 0})`);
  if (line) line.qty = next;
  else items.push({ productId, qty });
  return { ...cart, items };
}

/**
 * Removes a product's line.
 *
 * @example
 * ```ts
 * removeLine(cart, 'mug');
 * ```
 */
export function removeLine(cart: CartState, productId: string): CartState {
  return { ...cart, items: cart.items.filter((l) => l.productId !== productId) };
}

/**
 * Takes an order's lines out of the cart, once per order id (what was added meanwhile stays).
 *
 * @example
 * ```ts
 * settleOrder(cart, order.id, order.items);
 * ```
 */
export function settleOrder(cart: CartState, orderId: string, ordered: readonly CartLine[]): CartState {
  const settled = cart.settled ?? [];
  if (settled.includes(orderId)) return cart;
  const items = cart.items
    .map((l) => ({ ...l, qty: l.qty - (ordered.find((o) => o.productId === l.productId)?.qty ?? 0) }))
    .filter((l) => l.qty > 0);
  return { ...cart, items, settled: [...settled, orderId].slice(-SETTLED_KEPT) };
}

/**
 * Adds an anonymous cart's lines to an account's cart, once per anonymous cart id: a merge whose id
 * the account cart already records changes nothing (a retried login). A line stops at {@link MAX_LINE}.
 *
 * @example
 * ```ts
 * const merged = mergeCart(account, anonymous, anonymous.id!);
 * ```
 */
export function mergeCart(account: CartState, anonymous: CartState, anonymousId: string): CartState {
  const merged = account.merged ?? [];
  if (merged.includes(anonymousId)) return account;
  const items = account.items.map((l) => ({ ...l }));
  for (const add of anonymous.items) {
    const line = items.find((l) => l.productId === add.productId);
    if (line) line.qty = Math.min(MAX_LINE, line.qty + add.qty);
    else items.push({ productId: add.productId, qty: Math.min(MAX_LINE, add.qty) });
  }
  return { ...account, items, merged: [...merged, anonymousId].slice(-MERGED_KEPT) };
}
