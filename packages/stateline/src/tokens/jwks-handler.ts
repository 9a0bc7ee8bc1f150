import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tokens } from './types.js';

/** Options of {@link jwksHandler}. */
export interface JwksHandlerOptions {
  /** `Cache-Control: public, max-age=…` in seconds (default 300). */
  maxAge?: number;
}

/** The JWKS answer any adapter sends as is: status, headers and body. */
export interface JwksResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The `GET /.well-known/jwks.json` answer: public keys only. `HEAD` gets the headers, any other
 * method 405 with `Allow`.
 *
 * @example
 * ```ts
 * const r = jwksResponse(tokens, 'GET');
 * res.writeHead(r.status, r.headers).end(r.body);
 * ```
 */
export function jwksResponse(tokens: Tokens, method = 'GET', options: JwksHandlerOptions = {}): JwksResponse {
  const maxAge = Math.max(0, Math.floor(options.maxAge ?? 300));
  if (method !== 'GET' && method !== 'HEAD')
    return { status: 405, headers: { allow: 'GET, HEAD', 'content-length': '0' }, body: '' };
  const body = JSON.stringify(tokens.jwks());
  return {
    status: 200,
    headers: {
      'content-type': 'application/jwk-set+json',
      'cache-control': `public, max-age=${maxAge}`,
      'content-length': String(Buffer.byteLength(body)),
    },
    body: method === 'HEAD' ? '' : body,
  };
}

/**
 * A node:http handler (also an Express handler) serving the tokens' JWKS, for other services that
 * verify access tokens on their own.
 *
 * @example
 * ```ts
 * import { jwksHandler } from 'stateline/tokens';
 * app.get('/.well-known/jwks.json', jwksHandler(tokens));
 * ```
 */
export function jwksHandler(
  tokens: Tokens,
  options: JwksHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const r = jwksResponse(tokens, req.method ?? 'GET', options);
    res.writeHead(r.status, r.headers).end(r.body);
  };
}
