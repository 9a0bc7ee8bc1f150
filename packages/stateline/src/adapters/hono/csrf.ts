import type { MiddlewareHandler } from 'hono';
import { createCsrf, csrfError, type CsrfOptions } from '../../csrf/csrf-core.js';
import { problemFor } from '../../http/problem.js';

/**
 * Hono middleware running the CSRF check of `stateline/csrf`: an unsafe request that is
 * cross-site, or whose body is not JSON, is answered 403 problem+json `SL_ERR_CSRF`. The peer
 * address (for `trustedProxies`) comes from @hono/node-server (`c.env.incoming`); elsewhere pass
 * `trustedProxies` as a function or leave it out. See docs/csrf.md.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { csrf } from 'stateline/hono';
 * const app = new Hono();
 * app.use(csrf());
 * ```
 */
export function csrf(options: CsrfOptions = {}): MiddlewareHandler {
  const check = createCsrf(options);
  return async (c, next) => {
    const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined)?.incoming;
    const peer = incoming?.socket?.remoteAddress;
    const v = check.check({
      method: c.req.method,
      header: (name) => c.req.header(name),
      peer: typeof peer === 'string' ? peer : undefined,
      encrypted: c.req.url.startsWith('https:'),
    });
    if (!v.ok) {
      const p = problemFor(csrfError(v.reason));
      return new Response(p.body, { status: p.status, headers: p.headers });
    }
    await next();
  };
}
