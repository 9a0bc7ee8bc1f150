import { createHash, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { IdempotencyStats } from 'stateline/idempotency';
import { withIdempotency, type IdempotentRequest, type NodeIdempotency } from 'stateline/node';
import type { Store } from 'stateline/store';
import { requireUser } from './auth-routes.js';
import { settleOrder } from './cart.js';
import { changeRequestCart, requestCart } from './request-cart.js';
import { findProduct } from './catalog.js';
import { checkDeclaredLength, limitBody } from './body.js';
import { fail } from './http-error.js';
import { SL_ERR_CART_EMPTY } from './errors.js';
import { sendJson } from './respond.js';
import type { SessionRequest, ShopContext } from './context.js';

/** An order as the API shows it; prices in integer cents. */
export interface Order {
  id: string;
  items: { productId: string; qty: number; price: number }[];
  total: number;
  createdAt: number;
  idempotencyKey: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest('base64url');
/** The order of a (user, Idempotency-Key): its key is known before the order exists. */
const orderKey = (userId: string, ref: string) => `shop:order:${userId}:${ref}`;
const ordersOf = (userId: string) => `shop:orders:${userId}`;

async function readOrder(store: Store, key: string): Promise<Order | null> {
  const rec = await store.get(key);
  if (!rec) return null;
  try {
    return JSON.parse(rec.value) as Order;
  } catch {
    return null;
  }
}

/**
 * The order of (user, Idempotency-Key), made once: an order already written under that key is
 * returned as it is (a retry, or a handler run again after its instance died), otherwise one is
 * made from `items()` with insert-if-absent. Either way it is in the user's order list after.
 *
 * @example
 * ```ts
 * const order = await recordOrder(store, 'alice', key, () => [{ productId: 'mug', qty: 1, price: 1200 }]);
 * ```
 */
export async function recordOrder(
  store: Store,
  userId: string,
  idempotencyKey: string,
  items: () => Order['items'],
): Promise<Order> {
  const ref = digest(idempotencyKey);
  let order = await readOrder(store, orderKey(userId, ref));
  if (!order) {
    const lines = items();
    const made: Order = {
      id: randomUUID(),
      items: lines,
      total: lines.reduce((sum, l) => sum + l.qty * l.price, 0),
      createdAt: Date.now(),
      idempotencyKey,
    };
    const created = await store.create(orderKey(userId, ref), JSON.stringify(made));
    order = created.ok ? made : await readOrder(store, orderKey(userId, ref));
    if (!order) fail('SL_ERR_INTERNAL', 'the order vanished while it was being made');
  }
  await store.indexAdd(ordersOf(userId), ref, null);
  return order;
}

/**
 * The user's orders, newest first.
 *
 * @example
 * ```ts
 * const orders = await listOrders(store, 'alice');
 * ```
 */
export async function listOrders(store: Store, userId: string): Promise<Order[]> {
  const refs = await store.indexMembers(ordersOf(userId));
  const orders = await Promise.all(refs.map((r) => readOrder(store, orderKey(userId, r.member))));
  return orders.filter((o): o is Order => o !== null).sort((a, b) => b.createdAt - a.createdAt);
}

/**
 * `POST /api/orders` (inside the Idempotency-Key middleware, scoped to the user) and
 * `GET /api/orders`.
 *
 * The order is written under a key derived from (user, Idempotency-Key) with insert-if-absent
 * before anything else. A handler re-run after its instance died (the middleware's lock expired
 * before the outcome was saved) finds that order and finishes the job instead of making a second
 * one: index entry and cart settlement are both safe to repeat.
 *
 * @example
 * ```ts
 * const orders = orderRoutes(ctx);
 * router.on('POST', '/api/orders', orders.create).on('GET', '/api/orders', orders.list);
 * ```
 */
export function orderRoutes(ctx: ShopContext) {
  const { store } = ctx;

  const place = async (req: IdempotentRequest & SessionRequest, res: ServerResponse): Promise<void> => {
    const userId = requireUser(req);
    const key = String(req.headers['idempotency-key']);
    // The account's cart: the same from every device of the user.
    const cart = await requestCart(store, req);
    const order = await recordOrder(store, userId, key, () => {
      if (cart.items.length === 0) fail(SL_ERR_CART_EMPTY, 'add something to the cart first');
      return cart.items.map((l) => ({ ...l, price: findProduct(l.productId)!.price }));
    });
    await changeRequestCart(store, req, (c) => settleOrder(c, order.id, order.items));
    sendJson(res, 201, { order });
  };

  const idempotent: NodeIdempotency<SessionRequest> = withIdempotency<SessionRequest>(
    {
      store,
      required: true,
      // Checkout takes milliseconds: a dead instance's reservation frees up quickly.
      lockTimeout: '5s',
      // Only server faults arrive here (a refusal such as SL_ERR_CART_EMPTY is an answer, logged as a request).
      onError: (err) =>
        ctx.log.error({ err }, 'checkout failed: the order or its saved answer could not be written'),
      scope: (req) => `u:${req.session.userId ?? ''}`,
    },
    place,
  );

  return {
    /** Login is checked first; the middleware then wants the key (400) and reads the body. */
    create(req: SessionRequest, res: ServerResponse): void {
      requireUser(req);
      checkDeclaredLength(req);
      idempotent(req, res);
      // After the middleware began reading: a chunked body is counted as it arrives.
      limitBody(req, res);
    },

    async list(req: SessionRequest, res: ServerResponse): Promise<void> {
      const userId = requireUser(req);
      sendJson(res, 200, { orders: await listOrders(store, userId) });
    },

    /** The checkout middleware's counters (replays, conflicts), for the metrics. */
    stats: idempotent.stats as Readonly<IdempotencyStats>,

    close: () => idempotent.close(),
  };
}
