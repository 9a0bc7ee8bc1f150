import { rejectUnknown } from '../internal/spec.js';
import { unsignValue } from './cookie-signature.js';
import {
  bad,
  cookieNameOption,
  expiresAt,
  scopeOption,
  secretsOf,
  stringOption,
  toLegacySession,
  userIdOption,
  type UserIdOf,
} from './legacy-data.js';
import { LegacyStore, type LegacyStoreOption } from './legacy-store.js';
import type { MigrationReader } from './types.js';

/** Options of {@link fromExpressSession}: the same values the express-session app was configured with. */
export interface ExpressSessionOptions {
  /** express-session's `secret`: one secret, or a list (the first signed, all verified). */
  secret?: string | Buffer | readonly (string | Buffer)[];
  /** The same list as `secret`, by another name; give one of the two. */
  secrets?: readonly (string | Buffer)[];
  /**
   * Where the records are: a `redis://` URL or a Redis client (connect-redis's layout: `prefix` +
   * session id, JSON), or the express-session store itself (`get(sid, cb)`, `destroy(sid, cb)`).
   */
  store: LegacyStoreOption;
  /** express-session's `name` (default `'connect.sid'`). */
  cookieName?: string;
  /** connect-redis's `prefix` (default `'sess:'`); unused with a store object. */
  prefix?: string;
  /** Who the session belongs to (default `data.userId ?? data.user?.id`); null or undefined: anonymous. */
  userId?: UserIdOf;
  /** express-session's `cookie.path` and `cookie.domain`, so the legacy cookie is cleared where it was set. */
  cookie?: { path?: string; domain?: string };
}

const WHAT = 'fromExpressSession';
/** express-session's own bookkeeping in a record, never session data. */
const OWN = ['cookie'];

/**
 * Reads express-session cookies (`connect.sid=s:<id>.<signature>`): verifies the signature
 * exactly as express-session does with each secret, loads the record (connect-redis's Redis
 * layout or any express-session store), and hands its data to the new Stateline session: every
 * top-level property but `cookie` becomes `session.get(name)`, and `userId(data)` logs it in. A
 * record whose `cookie.expires` has passed counts as absent. The legacy record is deleted once
 * the new session is committed.
 *
 * @example
 * ```ts
 * import { fromExpressSession } from 'stateline/migrate';
 * import { createSessions } from 'stateline/session';
 * const sessions = await createSessions({
 *   strategy: 'server',
 *   store: 'redis://127.0.0.1:6379',
 *   keys: [process.env.SESSION_KEY],
 *   migrate: [fromExpressSession({ secret: 'the express-session secret', store: 'redis://127.0.0.1:6379' })],
 * });
 * ```
 */
export function fromExpressSession(options: ExpressSessionOptions): MigrationReader {
  if (!options || typeof options !== 'object') throw bad(`${WHAT} needs an options object`);
  rejectUnknown(options, ['secret', 'secrets', 'store', 'cookieName', 'prefix', 'userId', 'cookie'], WHAT);
  const secrets = secretsOf(options, WHAT);
  const cookieName = cookieNameOption(options.cookieName, 'connect.sid', WHAT);
  const prefix = stringOption(options.prefix, 'prefix', 'sess:', WHAT);
  const userId = userIdOption(options.userId, WHAT);
  const scope = scopeOption(options.cookie, WHAT);
  const store = new LegacyStore(LegacyStore.check(options.store, WHAT), prefix, 'express-session store');
  return {
    name: 'express-session',
    cookieNames: [cookieName],
    ...(scope ? { cookieScope: scope } : {}),
    async read(_request, cookies) {
      const raw = cookies.get(cookieName);
      // Unsigned values are never sessions to express-session either.
      if (!raw?.startsWith('s:')) return null;
      const sid = unsignValue(raw.slice(2), secrets);
      if (sid === null) return null;
      const record = await store.get(sid);
      if (!record) return null;
      const end = expiresAt(record.cookie);
      if (end !== null && end <= Date.now()) return null;
      return toLegacySession(record, OWN, userId, () => store.destroy(sid));
    },
    close: () => store.close(),
  };
}
