/**
 * `stateline/express`: session, CSRF and idempotency middleware for Express 4 and 5.
 * @module
 */
export { session, problemHandler, type SessionRequest } from './session.js';
export { csrf } from './csrf.js';
export { idempotency, type ExpressIdempotency, type ExpressIdempotencyOptions } from './idempotency.js';
export { bearer, type BearerOptions } from './bearer.js';
export { jwksHandler as jwks } from '../../tokens/jwks-handler.js';
