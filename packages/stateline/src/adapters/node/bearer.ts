import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerProblem } from '../../tokens/bearer-problem.js';
import type { BearerAuth, Tokens } from '../../tokens/types.js';

/** Options of the `bearer` middleware of every adapter. */
export interface BearerOptions {
  /** Scopes the token must grant, every one (else 403 `insufficient_scope`). */
  scopes?: readonly string[];
  /** `realm` of the `WWW-Authenticate` challenge (default `'api'`). */
  realm?: string;
}

/** A node:http request with its verified bearer token. */
export type BearerIncomingMessage = IncomingMessage & { auth: BearerAuth };

/** Answers a refused bearer request (401/403 with the RFC 6750 challenge, problem+json). */
export function failBearer(res: ServerResponse, err: unknown, options: BearerOptions): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const p = bearerProblem(err, options);
  res.writeHead(p.status, { ...p.headers, 'content-length': String(Buffer.byteLength(p.body)) }).end(p.body);
}

/**
 * node:http: wraps a handler so that it runs only for a request with a valid bearer token, with
 * `req.auth = { userId, scopes, sid }`; others get 401/403 with `WWW-Authenticate` (RFC 6750) and
 * problem+json.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { bearer } from 'stateline/node';
 * const orders = bearer(tokens, { scopes: ['orders:read'] });
 * http.createServer(orders((req, res) => res.end(`orders of ${req.auth.userId}`))).listen(3000);
 * ```
 */
export function bearer(
  tokens: Tokens,
  options: BearerOptions = {},
): <Req extends IncomingMessage, Res extends ServerResponse>(
  handler: (req: Req & { auth: BearerAuth }, res: Res) => unknown,
) => (req: Req, res: Res) => Promise<void> {
  const verify = { scopes: options.scopes ?? [] };
  return (handler) => async (req, res) => {
    let auth: BearerAuth;
    try {
      auth = await tokens.authenticate(req.headers.authorization, verify);
    } catch (err) {
      failBearer(res, err, options);
      return;
    }
    try {
      await handler(Object.assign(req, { auth }), res);
    } catch (err) {
      failBearer(res, err, options);
    }
  };
}
