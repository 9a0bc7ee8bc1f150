/**
 * `stateline/http`: problem+json answers with Stateline's stable error codes, the generic HTTP
 * problems every server answers with (400, 404, 405, 413), what a request says about its client
 * once trusted proxies have had their say, and a clean close after an early answer (an unread
 * upload is drained, not reset), for servers and proxies built on Stateline.
 *
 * @example
 * ```ts
 * import { problem } from 'stateline/http';
 * const p = problem('SL_ERR_STORE_UNAVAILABLE', 'redis did not answer');
 * res.writeHead(p.status, p.headers).end(p.body);
 * ```
 * @module
 */
export {
  problem,
  problemFor,
  PROBLEM_CONTENT_TYPE,
  type ProblemDocument,
  type ProblemResponse,
} from './problem.js';
export {
  SL_ERR_BAD_REQUEST,
  SL_ERR_NOT_FOUND,
  SL_ERR_METHOD_NOT_ALLOWED,
  SL_ERR_PAYLOAD_TOO_LARGE,
  HTTP_ERRORS,
} from './http-errors.js';
export {
  forwarded,
  proxyTrust,
  type Forwarded,
  type ForwardedInput,
  type TrustedProxies,
} from './forwarded.js';
export { lingerOnEarlyClose, trackRequest, LINGER_MS } from './linger.js';
