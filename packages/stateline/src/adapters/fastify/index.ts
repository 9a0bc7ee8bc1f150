/**
 * `stateline/fastify`: session, CSRF and idempotency plugins for Fastify 4 and 5.
 * @module
 */
export { csrfPlugin } from './csrf.js';
export { sessionPlugin, type SessionFastifyRequest, type SessionPluginOptions } from './session.js';
export { idempotency, type FastifyIdempotency, type FastifyIdempotencyOptions } from './idempotency.js';
export { bearer, jwks, type BearerOptions } from './bearer.js';
