import type { FastifyInstance } from 'fastify';
import { createCsrf, csrfError, type CsrfOptions } from '../../csrf/csrf-core.js';
import { problemFor } from '../../http/problem.js';
import { csrfRequest } from '../node/csrf.js';

/**
 * Fastify plugin running the CSRF check of `stateline/csrf` in `onRequest` (before the body is
 * parsed): an unsafe request that is cross-site, or whose body is not JSON, is answered 403
 * problem+json `SL_ERR_CSRF`. Registered without encapsulation, so it covers the whole app.
 * See docs/csrf.md.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { csrfPlugin } from 'stateline/fastify';
 * const app = Fastify();
 * await app.register(csrfPlugin, { allowedOrigins: ['https://admin.example'] });
 * ```
 */
export const csrfPlugin = Object.assign(
  async function statelineCsrf(app: FastifyInstance, options: CsrfOptions): Promise<void> {
    const check = createCsrf(options);
    app.addHook('onRequest', async (request, reply) => {
      const v = check.check(csrfRequest(request.raw));
      if (v.ok) return;
      const p = problemFor(csrfError(v.reason));
      return reply.code(p.status).headers(p.headers).send(p.body);
    });
  },
  { [Symbol.for('skip-override')]: true },
);
