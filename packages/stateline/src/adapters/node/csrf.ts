import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { createCsrf, csrfError, type CsrfOptions, type CsrfRequest } from '../../csrf/csrf-core.js';
import { sendProblem } from './request-context.js';

/** What the CSRF check reads from a node:http request (Express and Fastify's `raw` are ones too). */
export function csrfRequest(req: IncomingMessage): CsrfRequest {
  return {
    method: req.method ?? 'GET',
    header: (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    peer: req.socket.remoteAddress,
    encrypted: (req.socket as TLSSocket).encrypted === true,
  };
}

/**
 * Wraps a node:http handler with the CSRF check of `stateline/csrf`: an unsafe request that is
 * cross-site, or whose body is not JSON, is answered 403 problem+json `SL_ERR_CSRF` and the
 * handler never runs. See docs/csrf.md for the rules and options.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { withCsrf, withSession } from 'stateline/node';
 * http.createServer(withCsrf({ trustedProxies: ['loopback'] }, withSession(sessions, handler))).listen(3000);
 * ```
 */
export function withCsrf<Req extends IncomingMessage, Res extends ServerResponse>(
  options: CsrfOptions,
  handler: (req: Req, res: Res) => unknown,
): (req: Req, res: Res) => unknown {
  const csrf = createCsrf(options);
  return (req, res) => {
    const v = csrf.check(csrfRequest(req));
    if (!v.ok) return sendProblem(res, csrfError(v.reason));
    return handler(req, res);
  };
}
