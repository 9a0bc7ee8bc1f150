import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { withIdempotency, type IdempotentRequest } from 'stateline/node';
import { checkDeclaredLength, limitBody, parseJsonObject } from './body.js';
import { addLine, addLineOnce, MAX_ADD, removeLine } from './cart.js';
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
 * record shared by all the user's sessions, devices and token families); an anonymous visitor's
 * lives in the session. An add sent with an `Idempotency-Key` is applied once: a retry with the
 * same key (the client's, or the gateway's after a reset) gets the first answer again.
 *
 * @example
 * ```ts
 * const cart = cartRoutes(ctx);
 * router.on('POST', '/api/cart/items', cart.add);
 * ```
 */
export function cartRoutes(ctx: ShopContext) {
  const { store } = ctx;
  const addLineOf = async (req: IdempotentRequest<SessionRequest>, res: ServerResponse): Promise<void> => {
    const body = parseJsonObject(req.body);
    const productId = knownProduct(body.productId);
    const qty = body.qty;
    if (typeof qty !== 'number' || !Number.isInteger(qty) || qty < 1 || qty > MAX_ADD)
      fail(SL_ERR_BAD_REQUEST, `qty must be a whole number from 1 to ${MAX_ADD}`);
    const key = req.headers['idempotency-key'];
    const ref =
      key === undefined ? null : createHash('sha256').update(String(key)).digest('base64url').slice(0, 16);
    const cart = await changeRequestCart(store, req, (c) =>
      ref === null ? addLine(c, productId, qty) : addLineOnce(c, ref, productId, qty),
    );
    sendJson(res, 200, { items: cart.items });
  };
  const idempotentAdd = withIdempotency<SessionRequest>(
    {
      store: ctx.store,
      required: false,
      lockTimeout: '5s',
      onError: (err) => ctx.log.error({ err }, 'cart add failed: its saved answer could not be written'),
      // One cart's keys: the session's (or family's), else the user's, else the client address'.
      scope: (req) =>
        req.session.handle
          ? `s:${req.session.handle}`
          : req.session.userId
            ? `u:${req.session.userId}`
            : `a:${ctx.client(req).address}`,
    },
    addLineOf,
  );
  return {
    async get(req: SessionRequest, res: ServerResponse): Promise<void> {
      sendJson(res, 200, { items: (await requestCart(store, req)).items });
    },

    add(req: SessionRequest, res: ServerResponse): void {
      checkDeclaredLength(req);
      idempotentAdd(req, res);
      // After the middleware began reading: a chunked body is counted as it arrives.
      limitBody(req, res);
    },

    async remove(req: SessionRequest, res: ServerResponse, params: Params): Promise<void> {
      const productId = knownProduct(params.productId);
      const cart = await changeRequestCart(store, req, (c) => removeLine(c, productId));
      sendJson(res, 200, { items: cart.items });
    },

    close: () => idempotentAdd.close(),
  };
}
