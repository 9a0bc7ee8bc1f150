/**
 * The migration contract. It is defined beside the session types (the manager consumes it) and
 * shown here under `stateline/migrate`, where the readers live.
 */
export type { LegacySession, MigrationReader } from '../session/types.js';
