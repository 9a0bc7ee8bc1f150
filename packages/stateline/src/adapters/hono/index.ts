/**
 * `stateline/hono`: session and idempotency middleware for Hono.
 * @module
 */
export { session, type SessionVariables } from './session.js';
export { idempotency, type HonoIdempotency, type HonoIdempotencyOptions } from './idempotency.js';
