/**
 * How the memcached Store names and times its items: memcached keys are at most 250 bytes with no
 * whitespace or control characters, and its expiry is in whole seconds, relative up to 30 days and
 * an absolute unix time beyond (a larger relative number would be read as a date in 1970).
 */
import { createHash } from 'node:crypto';

/** memcached's longest key, in bytes. */
const MAX_KEY = 250;
/** memcached reads an exptime above this (30 days in seconds) as an absolute unix time. */
export const RELATIVE_LIMIT_S = 30 * 24 * 3600;
/** Printable ASCII without space; `#` may not start a plain key (it marks hashed ones). */
const PLAIN_KEY = /^[!"$-~][!-~]*$/;

/**
 * The memcached key for `full` (prefix + key): itself when memcached accepts it, else `#` and the
 * base64url SHA-256 of it (44 bytes). Plain keys never start with `#`, so the two never meet.
 *
 * @example
 * ```ts
 * itemKey('sl:cart:1'); // 'sl:cart:1'
 * itemKey('sl:with space'); // '#q2…' (hashed)
 * ```
 */
export function itemKey(full: string): string {
  if (full.length <= MAX_KEY && PLAIN_KEY.test(full)) return full;
  return `#${createHash('sha256').update(full).digest('base64url')}`;
}

/**
 * memcached's exptime for a record live until `expiresAt` (epoch ms, `null`: never): seconds from
 * `now`, rounded up plus one (memcached's clock ticks once a second, so an item could otherwise go
 * up to a second early; the Store itself hides a record the moment its own `expiresAt` passes),
 * or past 30 days the absolute unix time. A past instant gives -1: stored already expired.
 *
 * @example
 * ```ts
 * exptime(null, now); // 0 (never)
 * exptime(now + 1500, now); // 3
 * exptime(now + 40 * 86_400_000, now); // Math.ceil((now + 40 * 86_400_000) / 1000) + 1
 * ```
 */
export function exptime(expiresAt: number | null, now: number): number {
  if (expiresAt === null) return 0;
  if (expiresAt <= now) return -1;
  const seconds = Math.ceil((expiresAt - now) / 1000) + 1;
  return seconds <= RELATIVE_LIMIT_S ? seconds : Math.ceil(expiresAt / 1000) + 1;
}
