import { StatelineError, type ErrorCode, type ErrorDefinition } from 'stateline/errors';
import { problemFor } from 'stateline/http';
import type { ServerResponse } from 'node:http';

/**
 * A Stateline error that carries extra response headers (`Retry-After`, `Allow`).
 *
 * @example
 * ```ts
 * throw new ShopError(SL_ERR_RATE_LIMITED, 'retry in 42 s', { 'retry-after': '42' });
 * ```
 */
export class ShopError extends StatelineError {
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode | ErrorDefinition, detail?: string, headers: Record<string, string> = {}) {
    super(code, detail);
    this.headers = headers;
  }
}

/**
 * Throws a problem with a stable code (the library's, or a definition from `stateline/http` or
 * ./errors.ts); the router turns it into `application/problem+json`.
 *
 * @example
 * ```ts
 * if (!user) fail(SL_ERR_UNAUTHENTICATED, 'log in first');
 * ```
 */
export function fail(
  code: ErrorCode | ErrorDefinition,
  detail?: string,
  headers?: Record<string, string>,
): never {
  throw new ShopError(code, detail, headers);
}

/**
 * Sends any error as problem+json: Stateline errors keep their code and status, anything else is a
 * 500 `SL_ERR_INTERNAL` without the original message. A response already under way is cut.
 *
 * @example
 * ```ts
 * try { await route(req, res); } catch (err) { sendError(res, err); }
 * ```
 */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const p = problemFor(err, err instanceof ShopError ? err.headers : {});
  // Whatever the failed handler set goes, except the cookie and the request id.
  for (const name of res.getHeaderNames())
    if (name !== 'set-cookie' && name !== 'x-request-id') res.removeHeader(name);
  res.writeHead(p.status, { ...p.headers, 'content-length': String(Buffer.byteLength(p.body)) });
  res.end(p.body);
}
