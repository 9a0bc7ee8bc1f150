import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Entities } from '../../entities/entities.js';
import { handleEntityCall, type EntityHttpResponse } from '../../entities/http.js';
import { SL_ERR_NOT_FOUND, SL_ERR_PAYLOAD_TOO_LARGE } from '../../http/http-errors.js';
import { problemFor } from '../../http/problem.js';

export interface EntityRoutesOptions {
  /** Where the routes are mounted (default `'/entities'`): `POST <prefix>/:type/:key/:method`. */
  prefix?: string;
  /** The fleet's forward secret (`forward.secret` of `createEntities`): marks forwarded calls. */
  secret?: string;
  /** Largest JSON body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
}

/** The path below `prefix`, or null when the request is not under it. */
export function below(prefix: string, url: string): string | null {
  const p = prefix.replace(/\/+$/, '');
  const path = url.split('?')[0]!;
  return path.startsWith(`${p}/`) ? path.slice(p.length) : null;
}

/** Reads a request body as UTF-8, refusing more than `max` bytes. */
export function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(null);
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Answers a node response with the route's answer. */
export function send(res: ServerResponse, a: EntityHttpResponse): void {
  res.writeHead(a.status, a.headers).end(a.body);
}

/** The answer to a request below the prefix whose body is `body` (null: too large). */
export async function answer(
  entities: Entities,
  req: IncomingMessage,
  path: string,
  body: string | null,
  options: EntityRoutesOptions,
): Promise<EntityHttpResponse> {
  if (body === null)
    return problemFor(
      new SL_ERR_PAYLOAD_TOO_LARGE(`the entity call body is over ${options.maxBodyBytes ?? 1 << 20} bytes`),
    );
  return (
    (await handleEntityCall(
      entities,
      { method: req.method ?? 'GET', path, headers: req.headers, body },
      options,
    )) ?? problemFor(new SL_ERR_NOT_FOUND('no such entity route'))
  );
}

/**
 * Entity routes for `node:http`: returns a handler that answers `POST <prefix>/:type/:key/:method`
 * (JSON args, `Idempotency-Key` header) with `entities.call` and resolves true, or resolves false
 * for any other path.
 *
 * @example
 * ```ts
 * const routes = entityRoutes(entities, { prefix: '/entities', secret: process.env.ENTITY_SECRET });
 * http.createServer(async (req, res) => { if (!(await routes(req, res))) res.writeHead(404).end(); });
 * ```
 */
export function entityRoutes(
  entities: Entities,
  options: EntityRoutesOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const prefix = options.prefix ?? '/entities';
  const max = options.maxBodyBytes ?? 1 << 20;
  return async (req, res) => {
    const path = below(prefix, req.url ?? '/');
    if (path === null) return false;
    send(res, await answer(entities, req, path, await readBody(req, max), options));
    return true;
  };
}
