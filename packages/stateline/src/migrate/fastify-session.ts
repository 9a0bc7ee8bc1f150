import { createHmac } from 'node:crypto';
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

/** A signer as @fastify/session takes one in place of `secret`: `unsign` says whether the value is valid. */
export interface FastifySigner {
  unsign(signed: string): { valid: boolean; value: string | null };
}

/** Options of {@link fromFastifySession}: the same values the @fastify/session app was registered with. */
export interface FastifySessionOptions {
  /** @fastify/session's `secret`: a string, a list (the first signed, all verified) or a signer object. */
  secret: string | Buffer | readonly (string | Buffer)[] | FastifySigner;
  /**
   * Where the records are: a `redis://` URL or a Redis client (connect-redis's layout: `prefix` +
   * session id, JSON), or the store given to @fastify/session (`get(sid, cb)`, `destroy(sid, cb)`).
   */
  store: LegacyStoreOption;
  /** @fastify/session's `cookieName` (default `'sessionId'`). */
  cookieName?: string;
  /** @fastify/session's `cookiePrefix` (default none; `'s:'` for cookies shared with express-session). */
  cookiePrefix?: string;
  /** @fastify/session's `algorithm` (default `'sha256'`). */
  algorithm?: string;
  /** connect-redis's `prefix` (default `'sess:'`); unused with a store object. */
  prefix?: string;
  /** Who the session belongs to (default `data.userId ?? data.user?.id`); null or undefined: anonymous. */
  userId?: UserIdOf;
  /** @fastify/session's `cookie.path` and `cookie.domain`, so the legacy cookie is cleared where it was set. */
  cookie?: { path?: string; domain?: string };
}

const WHAT = 'fromFastifySession';
/** @fastify/session's own bookkeeping in a record, never session data. */
const OWN = ['cookie', 'sessionId', 'encryptedSessionId'];

/**
 * Reads @fastify/session cookies (`sessionId=<id>.<signature>`, signed by @fastify/cookie's
 * signer): verifies the signature as @fastify/session does, loads the record from its store, and
 * hands its data to the new Stateline session (every top-level property but `cookie`; `userId(data)`
 * logs it in). A record past its `cookie.originalExpires` (or `expires`) counts as absent. The
 * legacy record is deleted once the new session is committed.
 *
 * @example
 * ```ts
 * import { fromFastifySession } from 'stateline/migrate';
 * import { createSessions } from 'stateline/session';
 * const sessions = await createSessions({
 *   strategy: 'server',
 *   store: 'redis://127.0.0.1:6379',
 *   keys: [process.env.SESSION_KEY],
 *   migrate: [
 *     fromFastifySession({ secret: 'the @fastify/session secret, 32 characters or more', store: 'redis://127.0.0.1:6379' }),
 *   ],
 * });
 * ```
 */
export function fromFastifySession(options: FastifySessionOptions): MigrationReader {
  if (!options || typeof options !== 'object') throw bad(`${WHAT} needs an options object`);
  rejectUnknown(
    options,
    ['secret', 'store', 'cookieName', 'cookiePrefix', 'algorithm', 'prefix', 'userId', 'cookie'],
    WHAT,
  );
  const signer = signerOf(options.secret, stringOption(options.algorithm, 'algorithm', 'sha256', WHAT));
  const cookieName = cookieNameOption(options.cookieName, 'sessionId', WHAT);
  const cookiePrefix = stringOption(options.cookiePrefix, 'cookiePrefix', '', WHAT);
  const prefix = stringOption(options.prefix, 'prefix', 'sess:', WHAT);
  const userId = userIdOption(options.userId, WHAT);
  const scope = scopeOption(options.cookie, WHAT);
  const store = new LegacyStore(LegacyStore.check(options.store, WHAT), prefix, '@fastify/session store');
  return {
    name: '@fastify/session',
    cookieNames: [cookieName],
    ...(scope ? { cookieScope: scope } : {}),
    async read(_request, cookies) {
      const raw = cookies.get(cookieName);
      if (!raw?.startsWith(cookiePrefix)) return null;
      const sid = signer(raw.slice(cookiePrefix.length));
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

/** The session id in a signed value, or null: @fastify/cookie's Signer, or the app's own signer. */
function signerOf(
  secret: FastifySessionOptions['secret'],
  algorithm: string,
): (signed: string) => string | null {
  if (secret && typeof secret === 'object' && !Buffer.isBuffer(secret) && !Array.isArray(secret)) {
    const custom = secret as FastifySigner;
    if (typeof custom.unsign !== 'function') throw bad(`${WHAT}: a secret object must have unsign(value)`);
    return (signed) => {
      const r = custom.unsign(signed);
      return r.valid && typeof r.value === 'string' ? r.value : null;
    };
  }
  const secrets = secretsOf({ secret }, WHAT);
  try {
    createHmac(algorithm, 'probe');
  } catch {
    throw bad(`${WHAT}: algorithm ${JSON.stringify(algorithm)} is not an HMAC algorithm this Node knows`);
  }
  return (signed) => unsignValue(signed, secrets, algorithm);
}
