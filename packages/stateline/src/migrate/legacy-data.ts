/** What every legacy-library reader shares: options checked alike, a record turned into a LegacySession. */
import { StatelineError } from '../errors.js';
import type { LegacySession } from './types.js';

/** How a reader finds the user in a legacy record's data. */
export type UserIdOf = (data: Record<string, unknown>) => unknown;

/** express-session's and iron-session's usual shapes: `userId`, or `user.id`. */
export const defaultUserId: UserIdOf = (data) =>
  data.userId ?? (data.user as { id?: unknown } | undefined)?.id;

/** A user id from what `userId(data)` returned: strings as they are, finite numbers as text, else none. */
export function userIdFrom(data: Record<string, unknown>, of: UserIdOf): string | null {
  const id = of(data);
  if (typeof id === 'string' && id !== '') return id;
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  return null;
}

/** The record's data without the library's own bookkeeping keys, logged in as its user. */
export function toLegacySession(
  record: Record<string, unknown>,
  own: readonly string[],
  of: UserIdOf,
  retire?: () => Promise<void>,
): LegacySession {
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (!own.includes(k) && v !== undefined) data[k] = v;
  const session: LegacySession = { data, userId: userIdFrom(data, of) };
  if (retire) session.retire = retire;
  return session;
}

/** The moment a stored express-style `cookie` (`expires`, or @fastify/session's `originalExpires`) ends; null: never. */
export function expiresAt(cookie: unknown): number | null {
  if (!cookie || typeof cookie !== 'object') return null;
  const c = cookie as { expires?: unknown; originalExpires?: unknown };
  const at = c.originalExpires ?? c.expires;
  if (at === undefined || at === null) return null;
  const t = new Date(at as string).getTime();
  // An unreadable date is treated as already past: nothing is taken over that cannot be vouched for.
  return Number.isNaN(t) ? 0 : t;
}

/** Secrets given as `secret` (one or a list) or `secrets`; at least one, each a non-empty string or Buffer. */
export function secretsOf(o: { secret?: unknown; secrets?: unknown }, what: string): (string | Buffer)[] {
  if (o.secret !== undefined && o.secrets !== undefined)
    throw bad(`${what}: give secret or secrets, not both`);
  const given = o.secrets ?? o.secret;
  const list: unknown[] = Array.isArray(given) ? given : given === undefined ? [] : [given];
  if (list.length === 0)
    throw bad(`${what} needs the secret (or secrets) the legacy cookies were signed with`);
  for (const s of list)
    if (!((typeof s === 'string' && s !== '') || (Buffer.isBuffer(s) && s.length > 0)))
      throw bad(`${what}: every secret must be a non-empty string or Buffer`);
  return list as (string | Buffer)[];
}

/** Checks an optional string option. */
export function stringOption(value: unknown, name: string, fallback: string, what: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw bad(`${what}: ${name} must be a string`);
  return value;
}

/** Checks a cookie name option (a valid cookie name). */
export function cookieNameOption(value: unknown, fallback: string, what: string): string {
  const name = stringOption(value, 'cookieName', fallback, what);
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name))
    throw bad(`${what}: cookieName ${JSON.stringify(name)} is not a valid cookie name`);
  return name;
}

/** Checks the `cookie: { path, domain }` option: where the legacy cookie was set. */
export function scopeOption(value: unknown, what: string): { path?: string; domain?: string } | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof value !== 'object') throw bad(`${what}: cookie must be { path?, domain? }`);
  const { path, domain, ...rest } = value as Record<string, unknown>;
  const unknownKey = Object.keys(rest)[0];
  if (unknownKey !== undefined)
    throw bad(`${what}: cookie has no option "${unknownKey}" (known: path, domain)`);
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/') || /[;\s]/.test(path)))
    throw bad(`${what}: cookie.path must be a path such as "/"`);
  if (domain !== undefined && (typeof domain !== 'string' || !/^[A-Za-z0-9.-]+$/.test(domain)))
    throw bad(`${what}: cookie.domain must be a host name`);
  return { ...(path ? { path } : {}), ...(domain ? { domain } : {}) };
}

/** Checks the `userId` option. */
export function userIdOption(value: unknown, what: string): UserIdOf {
  if (value === undefined) return defaultUserId;
  if (typeof value !== 'function') throw bad(`${what}: userId must be a function (data) => string | null`);
  return value as UserIdOf;
}

/** An `SL_ERR_INVALID_OPTION` error with `message`. */
export function bad(message: string): StatelineError {
  return new StatelineError('SL_ERR_INVALID_OPTION', message);
}
