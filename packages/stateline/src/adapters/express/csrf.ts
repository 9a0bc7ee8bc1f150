import type { IncomingMessage, ServerResponse } from 'node:http';
import { createCsrf, csrfError, type CsrfOptions } from '../../csrf/csrf-core.js';
import { csrfRequest } from '../node/csrf.js';
import { sendProblem } from '../node/request-context.js';

/**
 * Express middleware running the CSRF check of `stateline/csrf`: an unsafe request that is
 * cross-site, or whose body is not JSON, is answered 403 problem+json `SL_ERR_CSRF`. Mount it
 * before the body parser and the session, so a refused request costs nothing. See docs/csrf.md.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { csrf, session } from 'stateline/express';
 * const app = express();
 * app.use(csrf({ trustedProxies: ['loopback'] }), express.json(), session(sessions));
 * ```
 */
export function csrf(
  options: CsrfOptions = {},
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const check = createCsrf(options);
  return (req, res, next) => {
    const v = check.check(csrfRequest(req));
    if (v.ok) next();
    else sendProblem(res, csrfError(v.reason));
  };
}
