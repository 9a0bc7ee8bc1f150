/**
 * `stateline/hono`: session, CSRF and idempotency middleware for Hono.
 * @module
 */
export { session, type SessionVariables } from './session.js';
export { csrf } from './csrf.js';
export { idempotency, type HonoIdempotency, type HonoIdempotencyOptions } from './idempotency.js';
export { bearer, jwks, type BearerOptions, type BearerVariables } from './bearer.js';
