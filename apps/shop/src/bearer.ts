import type { IncomingMessage } from 'node:http';
import { StatelineError } from 'stateline/errors';
import { ShopError } from './http-error.js';

const BEARER = /^Bearer(?:\s+(.*))?$/i;

/**
 * The token of an `Authorization: Bearer …` header (`''` when the scheme comes without one), or
 * undefined when the request carries no bearer credentials.
 *
 * @example
 * ```ts
 * bearerToken(req); // 'eyJhbGciOiJFZERTQSIs…'
 * ```
 */
export function bearerToken(req: IncomingMessage): string | undefined {
  const raw = req.headers.authorization;
  if (raw === undefined) return undefined;
  const m = BEARER.exec(raw.trim());
  return m ? (m[1] ?? '').trim() : undefined;
}

/**
 * A refusal of a bearer token as RFC 6750 wants it: 401 with `WWW-Authenticate: Bearer
 * error="invalid_token"`, 403 with `error="insufficient_scope"`; any other error unchanged.
 *
 * @example
 * ```ts
 * try { await tokens.verify(token); } catch (err) { return sendError(res, challenge(err)); }
 * ```
 */
export function challenge(err: unknown): unknown {
  if (!(err instanceof StatelineError)) return err;
  if (err.code === 'SL_ERR_TOKEN_INVALID')
    return new ShopError(err.code, err.message, {
      'www-authenticate': 'Bearer realm="shop", error="invalid_token"',
    });
  if (err.code === 'SL_ERR_TOKEN_SCOPE')
    return new ShopError(err.code, err.message, {
      'www-authenticate': 'Bearer realm="shop", error="insufficient_scope"',
    });
  return err;
}
