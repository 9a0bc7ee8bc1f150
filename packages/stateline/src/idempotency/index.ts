/**
 * `stateline/idempotency`: the framework-neutral core of the Idempotency-Key middleware. Most
 * apps use an adapter (`stateline/express`, `stateline/fastify`, `stateline/hono`,
 * `stateline/node`); this module is for writing one.
 *
 * @example
 * ```ts
 * import { createIdempotency } from 'stateline/idempotency';
 * const idem = createIdempotency({ store: 'redis://127.0.0.1:6379', required: true });
 * ```
 * @module
 */
export { createIdempotency } from './idempotency-core.js';
export { parseIdempotencyKey, MAX_KEY_LENGTH, type KeyParse } from './key-parse.js';
export { DEFAULT_REPLAY_HEADERS, DEFAULT_STORE } from './options.js';
export type * from './types.js';
