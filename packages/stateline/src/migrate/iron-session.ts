import { loadPeer } from '../internal/peer.js';
import { rejectUnknown } from '../internal/spec.js';
import {
  bad,
  cookieNameOption,
  scopeOption,
  toLegacySession,
  userIdOption,
  type UserIdOf,
} from './legacy-data.js';
import type { Store, StoreSpec } from '../store/types.js';
import { RetiredSeals } from './retired-seals.js';
import type { MigrationReader } from './types.js';

/** Options of {@link fromIronSession}: the same values the iron-session app was configured with. */
export interface IronSessionOptions {
  /** iron-session's `password`: one (at least 32 characters), or a `{ id: password }` map for rotation. */
  password: string | Readonly<Record<string, string>>;
  /** iron-session's `cookieName` (it has no default there either). */
  cookieName: string;
  /** iron-session's `ttl` in seconds (default 14 days; 0: seals never expire). */
  ttl?: number;
  /** Who the session belongs to (default `data.userId ?? data.user?.id`); null or undefined: anonymous. */
  userId?: UserIdOf;
  /** iron-session's `cookieOptions.path` and `.domain`, so the legacy cookie is cleared where it was set. */
  cookie?: { path?: string; domain?: string };
  /**
   * A Stateline Store (or spec) where taken-over seals are remembered until they would have
   * expired, so a replayed copy of a legacy cookie gives an anonymous session. Without it a seal
   * keeps opening until its ttl, as it did under iron-session (a seal cannot be revoked).
   */
  store?: StoreSpec | Store;
}

/** The part of iron-session this reader uses. */
interface IronModule {
  unsealData(
    seal: string,
    options: { password: string | Record<string, string>; ttl?: number },
  ): Promise<unknown>;
}

const WHAT = 'fromIronSession';
const FOURTEEN_DAYS_S = 14 * 24 * 3600;

/**
 * Reads iron-session cookies: opens the seal with iron-session's own `unsealData` (so any of the
 * passwords it was configured with works, and an expired or tampered seal is nothing) and hands
 * its data to the new Stateline session, logged in as `userId(data)`. The cookie is the whole
 * record, so there is nothing to retire: the legacy cookie is just cleared. `iron-session` is an
 * optional peer dependency, loaded on the first legacy cookie.
 *
 * @example
 * ```ts
 * import { fromIronSession } from 'stateline/migrate';
 * import { createSessions } from 'stateline/session';
 * const sessions = await createSessions({
 *   strategy: 'server',
 *   store: 'redis://127.0.0.1:6379',
 *   keys: [process.env.SESSION_KEY],
 *   migrate: [fromIronSession({ password: { 2: 'the newest iron-session password, 32+ chars', 1: 'the one before it, 32 chars long' }, cookieName: 'app_session' })],
 * });
 * ```
 */
export function fromIronSession(options: IronSessionOptions): MigrationReader {
  if (!options || typeof options !== 'object') throw bad(`${WHAT} needs an options object`);
  rejectUnknown(options, ['password', 'cookieName', 'ttl', 'userId', 'cookie', 'store'], WHAT);
  const password = passwordOf(options.password);
  if (options.cookieName === undefined)
    throw bad(`${WHAT} needs the cookieName iron-session was configured with`);
  const cookieName = cookieNameOption(options.cookieName, '', WHAT);
  const ttl = options.ttl ?? FOURTEEN_DAYS_S;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0)
    throw bad(`${WHAT}: ttl is in seconds, a whole number of 0 or more (got ${JSON.stringify(ttl)})`);
  const userId = userIdOption(options.userId, WHAT);
  const scope = scopeOption(options.cookie, WHAT);
  if (
    options.store !== undefined &&
    (options.store === null || !['string', 'object'].includes(typeof options.store))
  )
    throw bad(`${WHAT}: store must be a Store or a store spec such as 'redis://127.0.0.1:6379'`);
  const retired = options.store === undefined ? null : new RetiredSeals(options.store);
  return {
    name: 'iron-session',
    cookieNames: [cookieName],
    ...(scope ? { cookieScope: scope } : {}),
    async read(_request, cookies) {
      const seal = cookies.get(cookieName);
      if (!seal) return null;
      if (retired && (await retired.has(seal))) return null;
      const iron = await loadPeer<IronModule>('iron-session', WHAT);
      let data: unknown;
      try {
        // Expired, tampered or foreign seals come back as {} from iron-session; anything else it throws is the same to us.
        data = await iron.unsealData(seal, { password, ttl });
      } catch {
        return null;
      }
      if (!data || typeof data !== 'object' || Array.isArray(data) || Object.keys(data).length === 0)
        return null;
      const until = sealExpiry(seal, ttl);
      return toLegacySession(
        data as Record<string, unknown>,
        [],
        userId,
        retired ? () => retired.add(seal, until) : undefined,
      );
    },
    ...(retired ? { close: () => retired.close() } : {}),
  };
}

/**
 * When a seal stops opening: the expiry iron sealed into it (`Fe26.2*id*salt*iv*data*expiration*…`), else `ttl`
 * seconds from now; null when it never expires.
 */
function sealExpiry(seal: string, ttl: number): number | null {
  const exp = Number(seal.split('*')[5]);
  if (Number.isFinite(exp) && exp > 0) return exp;
  return ttl === 0 ? null : Date.now() + ttl * 1000;
}

function passwordOf(given: unknown): string | Record<string, string> {
  const short = `${WHAT}: iron-session passwords are at least 32 characters`;
  if (typeof given === 'string') {
    if (given.length < 32) throw bad(short);
    return given;
  }
  if (given && typeof given === 'object' && !Array.isArray(given)) {
    const entries = Object.entries(given);
    if (entries.length === 0) throw bad(`${WHAT}: the password map is empty`);
    for (const [id, p] of entries) {
      if (!/^[0-9]+$/.test(id))
        throw bad(
          `${WHAT}: password ids are numbers, as iron-session takes them (got ${JSON.stringify(id)})`,
        );
      if (typeof p !== 'string' || p.length < 32) throw bad(short);
    }
    return { ...(given as Record<string, string>) };
  }
  throw bad(`${WHAT} needs the password iron-session sealed with (a string or a { id: password } map)`);
}
