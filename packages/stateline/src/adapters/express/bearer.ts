import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BearerAuth, Tokens } from '../../tokens/types.js';
import { failBearer, type BearerOptions } from '../node/bearer.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified bearer token of the request, set by `bearer()` from `stateline/express`. */
      auth: BearerAuth;
    }
  }
}

export type { BearerOptions };

type Next = (err?: unknown) => void;

/**
 * Express middleware: `req.auth = { userId, scopes, sid }` from `Authorization: Bearer …`; a missing,
 * invalid or revoked token answers 401, a missing scope 403, each with `WWW-Authenticate` (RFC 6750)
 * and problem+json. A token verified before costs no signature check and no promise.
 *
 * @example
 * ```ts
 * import { bearer } from 'stateline/express';
 * app.get('/api/orders', bearer(tokens, { scopes: ['orders:read'] }), (req, res) => {
 *   res.json({ user: req.auth.userId });
 * });
 * ```
 */
export function bearer(
  tokens: Tokens,
  options: BearerOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const verify = { scopes: options.scopes ?? [] };
  return (req, res, next) => {
    let auth: BearerAuth | Promise<BearerAuth>;
    try {
      auth = tokens.authenticate(req.headers.authorization, verify);
    } catch (err) {
      failBearer(res, err, options);
      return;
    }
    if (auth instanceof Promise) {
      auth.then(
        (a) => {
          (req as IncomingMessage & { auth: BearerAuth }).auth = a;
          next();
        },
        (err: unknown) => failBearer(res, err, options),
      );
      return;
    }
    (req as IncomingMessage & { auth: BearerAuth }).auth = auth;
    next();
  };
}
