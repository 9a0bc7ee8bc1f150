/**
 * `stateline/csrf`: the cross-site request check behind every adapter's `csrf` option
 * (`Sec-Fetch-Site`, `Origin`/`Referer`, JSON-only bodies, optional double-submit token).
 *
 * @example
 * ```ts
 * import { createCsrf, csrfError } from 'stateline/csrf';
 * const csrf = createCsrf({ trustedProxies: ['loopback'] });
 * const v = csrf.check({ method: req.method, header: (n) => req.headers[n], peer: req.socket.remoteAddress, encrypted: false });
 * if (!v.ok) throw csrfError(v.reason); // 403 SL_ERR_CSRF
 * ```
 * @module
 */
export { createCsrf, csrfError, type CsrfOptions, type CsrfRequest, type CsrfVerdict } from './csrf-core.js';
