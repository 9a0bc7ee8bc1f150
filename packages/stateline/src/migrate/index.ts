/**
 * `stateline/migrate`: readers of legacy session cookies for `createSessions({ migrate })`, so a
 * switch to Stateline (or between Stateline strategies) logs nobody out. See docs/migrating.md.
 *
 * @example
 * ```ts
 * import type { MigrationReader } from 'stateline/migrate';
 * import { createSessions } from 'stateline/session';
 * declare const legacy: MigrationReader;
 * const sessions = await createSessions({ keys: [process.env.SESSION_KEY], migrate: [legacy] });
 * ```
 * @module
 */
export type { LegacySession, MigrationReader } from './types.js';
export { fromStateline, type FromStatelineOptions } from './from-stateline.js';
