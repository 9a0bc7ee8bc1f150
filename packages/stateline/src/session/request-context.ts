import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { RequestContext } from './types.js';

/**
 * What the session manager needs to know about a node:http request (also the realtime hub's
 * upgrade requests): its cookies, whether it came over TLS, what a proxy said of the scheme.
 *
 * @example
 * ```ts
 * const session = await sessions.load(requestContext(req));
 * ```
 */
export function requestContext(req: IncomingMessage): RequestContext {
  const h = req.headers;
  return {
    cookie: h.cookie,
    encrypted: (req.socket as TLSSocket).encrypted === true,
    forwardedProto: typeof h['x-forwarded-proto'] === 'string' ? h['x-forwarded-proto'] : undefined,
    userAgent: h['user-agent'],
  };
}
