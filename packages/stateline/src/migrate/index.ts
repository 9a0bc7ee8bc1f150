/**
 * `stateline/migrate`: readers of legacy session cookies for `createSessions({ migrate })`, so a
 * switch to Stateline (or between Stateline strategies) logs nobody out. See docs/migrating.md.
 *
 * @example
 * ```ts
 * import { fromExpressSession } from 'stateline/migrate';
 * import { createSessions } from 'stateline/session';
 * const sessions = await createSessions({
 *   keys: [process.env.SESSION_KEY],
 *   store: 'redis://127.0.0.1:6379',
 *   migrate: [fromExpressSession({ secret: 'the express-session secret', store: 'redis://127.0.0.1:6379' })],
 * });
 * ```
 * @module
 */
export { fromExpressSession, type ExpressSessionOptions } from './express-session.js';
export { fromFastifySession, type FastifySessionOptions, type FastifySigner } from './fastify-session.js';
export { fromIronSession, type IronSessionOptions } from './iron-session.js';
export type { UserIdOf } from './legacy-data.js';
export type { LegacyStoreOption, RedisClientLike, SessionStoreLike } from './legacy-store.js';
export type { LegacySession, MigrationReader } from './types.js';
export { fromStateline, type FromStatelineOptions } from './from-stateline.js';
