import type { ServerResponse } from 'node:http';
import { readJson } from './body.js';
import { addLine, MAX_ADD, removeLine } from './cart.js';
import { findProduct } from './catalog.js';
import { fail } from './http-error.js';
import { SL_ERR_BAD_REQUEST, SL_ERR_NOT_FOUND } from 'stateline/http';
import { sendJson } from './respond.js';
import type { Params } from './router.js';
import { changeRequestCart, requestCart } from './request-cart.js';
import type { SessionRequest, ShopContext } from './context.js';

function knownProduct(id: unknown): string {
  if (typeof id !== 'string' || id === '') fail(SL_ERR_BAD_REQUEST, 'productId must be a product id string');
  if (!findProduct(id)) fail(SL_ERR_NOT_FOUND, `no product ${JSON.stringify(id.slice(0, 64))}`);
  return id;
}

/**
 * `GET /api/cart`, `POST /api/cart/items` (`{ productId, qty }` adds to the line),
 * `DELETE /api/cart/items/:productId`. A logged-in user's cart lives with the account (one Store
 * record shared by all the user's sessions and devices); an anonymous visitor's lives in the session.
 *
 * @example
 * ```ts
 * const cart = cartRoutes(ctx);
 * router.on('POST', '/api/cart/items', cart.add);
 * ```
 */
export function cartRoutes(ctx: ShopContext) {
  const { store } = ctx;
  return {
    async get(req: SessionRequest, res: ServerResponse): Promise<void> {
      sendJson(res, 200, { items: (await requestCart(store, req)).items });
    },

    async add(req: SessionRequest, res: ServerResponse): Promise<void> {
      const body = await readJson(req);
      const productId = knownProduct(body.productId);
      const qty = body.qty;
      if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < 1 || qty > MAX_ADD)
        fail(SL_ERR_BAD_REQUEST, `qty must be a whole number from 1 to ${MAX_ADD}`);
      const cart = await changeRequestCart(store, req, (c) => addLine(c, productId, qty));
      sendJson(res, 200, { items: cart.items });
    },

    async remove(req: SessionRequest, res: ServerResponse, params: Params): Promise<void> {
      const productId = knownProduct(params.productId);
      const cart = await changeRequestCart(store, req, (c) => removeLine(c, productId));
      sendJson(res, 200, { items: cart.items });
    },
  };
}
