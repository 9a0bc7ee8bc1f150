import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { bearerProblem } from '../../tokens/bearer-problem.js';
import { jwksResponse, type JwksHandlerOptions } from '../../tokens/jwks-handler.js';
import type { BearerAuth, Tokens } from '../../tokens/types.js';
import type { BearerOptions } from '../node/bearer.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified bearer token of the request, set by the `bearer()` hook from `stateline/fastify`. */
    auth: BearerAuth;
  }
}

export type { BearerOptions };

function refuse(reply: FastifyReply, err: unknown, options: BearerOptions): void {
  const p = bearerProblem(err, options);
  void reply.code(p.status).headers(p.headers).send(p.body);
}

/**
 * Fastify `onRequest` (or `preHandler`) hook: `request.auth = { userId, scopes, sid }` from
 * `Authorization: Bearer …`; a missing, invalid or revoked token answers 401, a missing scope 403,
 * each with `WWW-Authenticate` (RFC 6750) and problem+json.
 *
 * @example
 * ```ts
 * import { bearer } from 'stateline/fastify';
 * app.get('/api/orders', { onRequest: bearer(tokens, { scopes: ['orders:read'] }) }, async (request) => ({
 *   user: request.auth.userId,
 * }));
 * ```
 */
export function bearer(
  tokens: Tokens,
  options: BearerOptions = {},
): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  const verify = { scopes: options.scopes ?? [] };
  return (request, reply, done) => {
    let auth: BearerAuth | Promise<BearerAuth>;
    try {
      auth = tokens.authenticate(request.headers.authorization, verify);
    } catch (err) {
      refuse(reply, err, options);
      return;
    }
    if (auth instanceof Promise) {
      auth.then(
        (a) => {
          request.auth = a;
          done();
        },
        (err: unknown) => refuse(reply, err, options),
      );
      return;
    }
    request.auth = auth;
    done();
  };
}

/**
 * A Fastify route handler serving the tokens' public keys (`GET /.well-known/jwks.json`).
 *
 * @example
 * ```ts
 * import { jwks } from 'stateline/fastify';
 * app.get('/.well-known/jwks.json', jwks(tokens));
 * ```
 */
export function jwks(
  tokens: Tokens,
  options: JwksHandlerOptions = {},
): (request: FastifyRequest, reply: FastifyReply) => Promise<string> {
  return async (request, reply) => {
    const r = jwksResponse(tokens, request.method, options);
    void reply.code(r.status).headers(r.headers);
    return r.body;
  };
}
