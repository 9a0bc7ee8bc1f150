import type { MiddlewareHandler } from 'hono';
import type { Entities } from '../../entities/entities.js';
import { handleEntityCall } from '../../entities/http.js';
import type { EntityRoutesOptions } from '../node/entities.js';
import { SL_ERR_PAYLOAD_TOO_LARGE } from '../../http/http-errors.js';
import { problemFor } from '../../http/problem.js';

/**
 * Entity routes for Hono, as middleware: `POST <prefix>/:type/:key/:method` (JSON args,
 * `Idempotency-Key` header) → `entities.call`; other paths go to `next()`.
 *
 * @example
 * ```ts
 * app.use('/entities/*', entityRoutes(entities, { prefix: '/entities', secret: process.env.ENTITY_SECRET }));
 * ```
 */
export function entityRoutes(entities: Entities, options: EntityRoutesOptions = {}): MiddlewareHandler {
  const prefix = (options.prefix ?? '/entities').replace(/\/+$/, '');
  const max = options.maxBodyBytes ?? 1 << 20;
  return async (c, next) => {
    const url = new URL(c.req.url);
    if (!url.pathname.startsWith(`${prefix}/`)) return next();
    const body = await c.req.text();
    const a =
      Buffer.byteLength(body) > max
        ? problemFor(new SL_ERR_PAYLOAD_TOO_LARGE(`the entity call body is over ${max} bytes`))
        : await handleEntityCall(
            entities,
            { method: c.req.method, path: url.pathname.slice(prefix.length), headers: c.req.header(), body },
            options,
          );
    if (!a) return next();
    return new Response(a.body, { status: a.status, headers: a.headers });
  };
}
