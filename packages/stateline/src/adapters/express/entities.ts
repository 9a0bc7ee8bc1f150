import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Entities } from '../../entities/entities.js';
import { answer, below, readBody, send, type EntityRoutesOptions } from '../node/entities.js';

type ExpressRequest = IncomingMessage & { originalUrl?: string; body?: unknown };

/**
 * Entity routes for Express: `POST <prefix>/:type/:key/:method` (JSON args, `Idempotency-Key`
 * header) → `entities.call`; other paths go to `next()`. Works with or without `express.json()`
 * before it.
 *
 * @example
 * ```ts
 * app.use(entityRoutes(entities, { prefix: '/entities', secret: process.env.ENTITY_SECRET }));
 * ```
 */
export function entityRoutes(
  entities: Entities,
  options: EntityRoutesOptions = {},
): (req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void) => void {
  const prefix = options.prefix ?? '/entities';
  const max = options.maxBodyBytes ?? 1 << 20;
  return (req, res, next) => {
    const path = below(prefix, req.originalUrl ?? req.url ?? '/');
    if (path === null) return next();
    // A body parser that already ran consumed the stream: use what it parsed.
    const body =
      req.body !== undefined && req.readableEnded
        ? Promise.resolve(JSON.stringify(req.body))
        : readBody(req, max);
    body.then((b) => answer(entities, req, path, b, options)).then((a) => send(res, a), next);
  };
}
