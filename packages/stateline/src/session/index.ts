/**
 * `stateline/session`: one session API, four places for the state to live.
 *
 * @example
 * ```ts
 * import { createSessions } from 'stateline/session';
 * import { session } from 'stateline/express';
 * const sessions = await createSessions({ strategy: 'hybrid', store: 'redis://127.0.0.1:6379', bus: 'redis://127.0.0.1:6379', keys: [process.env.SESSION_KEY] });
 * app.use(session(sessions));
 * ```
 * @module
 */
export { createSessions } from './manager.js';
export { DEFAULT_STORE } from './resources.js';
export type * from './types.js';
