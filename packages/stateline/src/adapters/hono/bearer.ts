import type { Handler, MiddlewareHandler } from 'hono';
import { bearerProblem } from '../../tokens/bearer-problem.js';
import { jwksResponse, type JwksHandlerOptions } from '../../tokens/jwks-handler.js';
import type { BearerAuth, Tokens } from '../../tokens/types.js';
import type { BearerOptions } from '../node/bearer.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The verified bearer token of the request, set by `bearer()` from `stateline/hono`. */
    auth: BearerAuth;
  }
}

export type { BearerOptions };

/**
 * Hono context variables set by {@link bearer}, for apps that spell out their `Env`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import type { BearerVariables } from 'stateline/hono';
 * const app = new Hono<{ Variables: BearerVariables }>();
 * ```
 */
export interface BearerVariables {
  auth: BearerAuth;
}

/**
 * Hono middleware: `c.get('auth') = { userId, scopes, sid }` from `Authorization: Bearer …`; a
 * missing, invalid or revoked token answers 401, a missing scope 403, each with `WWW-Authenticate`
 * (RFC 6750) and problem+json.
 *
 * @example
 * ```ts
 * import { bearer } from 'stateline/hono';
 * app.get('/api/orders', bearer(tokens, { scopes: ['orders:read'] }), (c) => c.json({ user: c.get('auth').userId }));
 * ```
 */
export function bearer(
  tokens: Tokens,
  options: BearerOptions = {},
): MiddlewareHandler<{ Variables: BearerVariables }> {
  const verify = { scopes: options.scopes ?? [] };
  return async (c, next) => {
    let auth: BearerAuth;
    try {
      auth = await tokens.authenticate(c.req.header('authorization'), verify);
    } catch (err) {
      const p = bearerProblem(err, options);
      return new Response(p.body, { status: p.status, headers: p.headers });
    }
    c.set('auth', auth);
    await next();
  };
}

/**
 * A Hono handler serving the tokens' public keys (`GET /.well-known/jwks.json`).
 *
 * @example
 * ```ts
 * import { jwks } from 'stateline/hono';
 * app.get('/.well-known/jwks.json', jwks(tokens));
 * ```
 */
export function jwks(tokens: Tokens, options: JwksHandlerOptions = {}): Handler {
  return (c) => {
    const r = jwksResponse(tokens, c.req.method, options);
    return new Response(r.body === '' ? null : r.body, { status: r.status, headers: r.headers });
  };
}
