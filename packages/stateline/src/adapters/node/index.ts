/**
 * `stateline/node`: sessions, CSRF checks and idempotency for plain node:http servers.
 * @module
 */
export { withSession, type SessionIncomingMessage } from './session.js';
export { requestContext } from './request-context.js';
export { withCsrf, csrfRequest } from './csrf.js';
export {
  withIdempotency,
  type IdempotentRequest,
  type IdempotentRequestHandler,
  type NodeIdempotency,
  type NodeIdempotencyOptions,
} from './idempotency.js';
export { bearer, type BearerOptions, type BearerIncomingMessage } from './bearer.js';
export { jwksHandler as jwks } from '../../tokens/jwks-handler.js';
