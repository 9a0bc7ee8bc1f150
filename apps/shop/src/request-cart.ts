import { randomUUID } from 'node:crypto';
import type { Store } from 'stateline/store';
import { changeAccountCart, readAccountCart } from './account-cart.js';
import { CART, mergeCart, readCart, type CartState } from './cart.js';
import type { SessionRequest } from './context.js';

/**
 * Moves the session's anonymous cart into the account's, once: the merge is keyed by the anonymous
 * cart's id, which the account cart records in the same compare-and-set write, so a retried login
 * (token: the old cookie still carries the anonymous cart) adds nothing the second time. The
 * session's copy is dropped after. Nothing happens when the session is anonymous or holds no cart.
 *
 * @example
 * ```ts
 * await mergeAnonymousCart(store, req.session, user.id); // before session.login(user.id)
 * ```
 */
export async function mergeAnonymousCart(
  store: Store,
  session: SessionRequest['session'],
  userId: string,
): Promise<void> {
  const raw = session.get(CART);
  if (raw === undefined) return;
  const anonymous = readCart(raw);
  if (anonymous.items.length > 0) {
    // A cart written before carts had ids is keyed by its session (stable across id renewal).
    const id = anonymous.id ?? `session:${session.handle ?? randomUUID()}`;
    await changeAccountCart(store, userId, (account) => mergeCart(account, anonymous, id));
  }
  session.delete(CART);
}

/**
 * The cart this request sees: the account's when logged in (an anonymous cart still in the session
 * is merged first), otherwise the session's.
 *
 * @example
 * ```ts
 * const { items } = await requestCart(store, req);
 * ```
 */
export async function requestCart(store: Store, req: SessionRequest): Promise<CartState> {
  const userId = req.session.userId;
  if (!userId) return readCart(req.session.get(CART));
  await mergeAnonymousCart(store, req.session, userId);
  return readAccountCart(store, userId);
}

/**
 * Read-modify-write of the request's cart: the account's with the Store's compare-and-set when
 * logged in, else the session's with `session.update` (an anonymous cart gets its id on its first
 * write). Concurrent changes all land, except anonymous carts under `token` (no server copy).
 *
 * @example
 * ```ts
 * const cart = await changeRequestCart(store, req, (c) => addLine(c, 'mug', 1));
 * ```
 */
export async function changeRequestCart(
  store: Store,
  req: SessionRequest,
  fn: (cart: CartState) => CartState,
): Promise<CartState> {
  const userId = req.session.userId;
  if (userId) {
    await mergeAnonymousCart(store, req.session, userId);
    return changeAccountCart(store, userId, fn);
  }
  return req.session.update<CartState>(CART, (raw) => {
    const next = fn(readCart(raw));
    return next.id ? next : { ...next, id: randomUUID() };
  });
}
