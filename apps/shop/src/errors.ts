import { defineError } from 'stateline/errors';

/*
 * The shop's own error codes. Its routes also answer with the generic problems of `stateline/http`
 * (`SL_ERR_BAD_REQUEST`, `SL_ERR_NOT_FOUND`, `SL_ERR_METHOD_NOT_ALLOWED`, `SL_ERR_PAYLOAD_TOO_LARGE`)
 * and the library's own codes; docs/ERRORS.md lists these under @stateline/shop.
 */

/**
 * 401: the route needs a logged-in session.
 *
 * @example
 * ```ts
 * if (!userId) fail(SL_ERR_UNAUTHENTICATED, 'log in first (POST /api/login)');
 * ```
 */
export const SL_ERR_UNAUTHENTICATED = defineError(
  'SL_ERR_UNAUTHENTICATED',
  401,
  'This needs a logged-in session',
);

/**
 * 401: an unknown username or a wrong password (the two are not told apart).
 *
 * @example
 * ```ts
 * if (!ok) fail(SL_ERR_BAD_CREDENTIALS);
 * ```
 */
export const SL_ERR_BAD_CREDENTIALS = defineError(
  'SL_ERR_BAD_CREDENTIALS',
  401,
  'The username or password is wrong',
);

/**
 * 429: too many failed logins for one username from one client address; sent with `Retry-After`.
 *
 * @example
 * ```ts
 * fail(SL_ERR_RATE_LIMITED, `too many failed logins; retry in ${wait} s`, { 'retry-after': String(wait) });
 * ```
 */
export const SL_ERR_RATE_LIMITED = defineError(
  'SL_ERR_RATE_LIMITED',
  429,
  'Too many attempts; wait before trying again',
);

/**
 * 409: checkout of an empty cart.
 *
 * @example
 * ```ts
 * if (cart.items.length === 0) fail(SL_ERR_CART_EMPTY, 'add something to the cart first');
 * ```
 */
export const SL_ERR_CART_EMPTY = defineError('SL_ERR_CART_EMPTY', 409, 'The cart is empty');

/**
 * 409: an addition would take a cart line past its largest quantity.
 *
 * @example
 * ```ts
 * fail(SL_ERR_CART_LIMIT, `a line may hold at most ${MAX_LINE}`);
 * ```
 */
export const SL_ERR_CART_LIMIT = defineError(
  'SL_ERR_CART_LIMIT',
  409,
  'A cart line would exceed its largest quantity',
);

/**
 * 409: the drop has no unit left (its entity refused the purchase; nothing was sold).
 *
 * @example
 * ```ts
 * fail(SL_ERR_SOLD_OUT, 'aurora-lamp: all 100 units are sold');
 * ```
 */
export const SL_ERR_SOLD_OUT = defineError('SL_ERR_SOLD_OUT', 409, 'The drop is sold out');

/**
 * 409: the shared list already holds its largest number of items.
 *
 * @example
 * ```ts
 * fail(SL_ERR_LIST_FULL, `a list holds at most ${MAX_ITEMS} items`);
 * ```
 */
export const SL_ERR_LIST_FULL = defineError('SL_ERR_LIST_FULL', 409, 'The list is full');

/**
 * 503: the account's cart kept changing under this write (a great many writes to it at once); nothing was changed.
 *
 * @example
 * ```ts
 * fail(SL_ERR_CART_CONTENDED, 'gave up after 1000 conflicting writes');
 * ```
 */
export const SL_ERR_CART_CONTENDED = defineError(
  'SL_ERR_CART_CONTENDED',
  503,
  'The cart is being changed by too many requests at once',
);

/**
 * Every code the shop defines (docs/ERRORS.md, section @stateline/shop).
 *
 * @example
 * ```ts
 * SHOP_ERRORS.map((e) => `${e.status} ${e.code}`); // ['401 SL_ERR_UNAUTHENTICATED', …]
 * ```
 */
export const SHOP_ERRORS = [
  SL_ERR_UNAUTHENTICATED,
  SL_ERR_BAD_CREDENTIALS,
  SL_ERR_RATE_LIMITED,
  SL_ERR_CART_EMPTY,
  SL_ERR_CART_LIMIT,
  SL_ERR_SOLD_OUT,
  SL_ERR_LIST_FULL,
  SL_ERR_CART_CONTENDED,
] as const;
