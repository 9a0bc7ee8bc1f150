import type { RequestContext } from '../session/types.js';

/**
 * What a reader found in a legacy cookie: becomes a new, ordinary Stateline session.
 *
 * @example
 * ```ts
 * import type { LegacySession } from 'stateline/migrate';
 * const found: LegacySession = { data: { cart: ['sku-1'] }, userId: 'alice', retire: async () => {} };
 * ```
 */
export interface LegacySession {
  /** Top-level values; each becomes `session.get(key)` in the new session. */
  data: Record<string, unknown>;
  /** When present the new session is logged in as this user. */
  userId: string | null;
  /** Runs only after the new session has been committed (its cookie set): delete the legacy record. Idempotent. */
  retire?: () => Promise<void>;
}

/**
 * Turns one kind of legacy cookie into session data. Made by `fromExpressSession(…)` etc.
 *
 * @example
 * ```ts
 * import type { MigrationReader } from 'stateline/migrate';
 * // A reader of a plain `theme=dark` cookie: no record behind it, nothing to retire.
 * const themeReader: MigrationReader = {
 *   name: 'theme-cookie',
 *   cookieNames: ['theme'],
 *   read: async (_request, cookies) => {
 *     const theme = cookies.get('theme');
 *     return theme === 'dark' || theme === 'light' ? { data: { theme }, userId: null } : null;
 *   },
 * };
 * ```
 */
export interface MigrationReader {
  /** For metrics and errors, e.g. 'express-session'. */
  readonly name: string;
  /** The cookies it reads; the manager calls `read` only when one of them is in the request. */
  readonly cookieNames: readonly string[];
  /**
   * Where the legacy cookies were set, so that clearing them reaches the same cookies (default:
   * `Path=/`, no `Domain`).
   */
  readonly cookieScope?: { readonly path?: string; readonly domain?: string };
  /**
   * Opens the legacy cookie. null when it is absent, tampered, signed with an unknown secret,
   * expired, or names no record. Rejects only when its legacy store cannot be reached
   * (SL_ERR_STORE_UNAVAILABLE), which the manager treats like its own store outage (onStoreError).
   */
  read(request: RequestContext, cookies: ReadonlyMap<string, string>): Promise<LegacySession | null>;
  /** Closes what the reader opened; the manager calls it from `close()`. */
  close?(): Promise<void>;
}
