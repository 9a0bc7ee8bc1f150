import type { Bus, BusSpec } from '../bus/types.js';
import type { Store, StoreSpec } from '../store/types.js';
import type { Logger } from '../logger.js';

/** Where a session's data lives. See docs/sessions.md for how to choose. */
export type SessionStrategyName = 'server' | 'token' | 'memory' | 'hybrid';

/**
 * The former name of {@link SessionStrategyName}, kept so existing code compiles.
 *
 * @deprecated Use `SessionStrategyName`; inside the library `SessionStrategy` names the strategy
 * interface (session/strategy.ts).
 * @example
 * ```ts
 * import type { SessionStrategyName } from 'stateline/session';
 * const strategy: SessionStrategyName = 'hybrid';
 * ```
 */
export type SessionStrategy = SessionStrategyName;

/** A duration in ms, or a string such as `'30s'`, `'30m'`, `'8h'`. */
export type Duration = number | string;

export interface SessionCookieOptions {
  /** Cookie name (default `'sl.sid'`); gets the `__Host-` prefix when the cookie is Secure. */
  name?: string;
  /** `'auto'` (default): Secure and `__Host-` when the request came over TLS (or `trustProxy` and `X-Forwarded-Proto: https`). */
  secure?: 'auto' | boolean;
  /** Default `'lax'`. */
  sameSite?: 'lax' | 'strict' | 'none';
  /** Only without the `__Host-` prefix; default: none (host-only). */
  domain?: string;
}

/**
 * Options of {@link createSessions}. Unknown keys are refused with `SL_ERR_INVALID_OPTION`.
 */
export interface SessionOptions {
  /** Default `'server'`. */
  strategy?: SessionStrategyName;
  /**
   * Store for `server` and `hybrid` records, and for indexes and revocations (default
   * `'sqlite:.stateline/state.db'`). `memory`: revocations only, and only when given.
   */
  store?: StoreSpec | Store;
  /**
   * Bus for hybrid invalidation, token and memory revocation, and memory listing and replication
   * (default `'memory:'`, i.e. this process only).
   */
  bus?: BusSpec | Bus;
  /** Signing/encryption secrets, newest first, each at least 32 characters. The first signs; all verify. */
  keys: readonly (string | undefined)[];
  /** Session ends after this long without a request (default `'30m'`). */
  idleTimeout?: Duration;
  /** Session ends this long after it began, whatever happens (default `'8h'`). */
  absoluteTimeout?: Duration;
  /** The id is replaced this often (old id honoured for `renewalGrace`); default `'1h'`. */
  renewalTimeout?: Duration;
  /** How long a renewed id's predecessor keeps working for requests already on their way (default `'30s'`). */
  renewalGrace?: Duration;
  /** Last-seen is written only once this much of the idle window has passed (default: a tenth of `idleTimeout`). */
  touchAfter?: Duration;
  cookie?: SessionCookieOptions;
  /** What a request gets when the Store cannot be reached: `'fail'` (503, default) or `'anonymous'`. */
  onStoreError?: 'fail' | 'anonymous';
  /** Trust `X-Forwarded-Proto` for the Secure decision (default false). */
  trustProxy?: boolean;
  /** `token`: largest cookie value in bytes (default 4096). */
  maxTokenBytes?: number;
  /**
   * `token`: deflate the sealed record (JWE `zip: "DEF"`) once its JSON reaches `threshold` bytes
   * (default 1024), so about 5× more state fits under `maxTokenBytes`. Off by default (`false`):
   * a compressed token's length leaks how well attacker-chosen data in the session compresses
   * against the rest of it (a compression oracle, see docs/sessions.md), so turn it on only when
   * the session holds no secret next to data an attacker can choose, or name the keys that hold
   * secrets in `except` (a session holding any of them is sealed uncompressed). Tokens of either
   * kind always open, whatever this says.
   */
  compress?: boolean | { threshold?: number; except?: string[] };
  /** `memory`: most sessions kept in this process (default 100,000; least recently used go first). */
  maxSessions?: number;
  /**
   * `memory`: copy sessions to other instances over the Bus: `'backup'` (one backup per session,
   * chosen by rendezvous hashing over the live instances, written before the response) or
   * `'all'` (every instance). Default `'off'`.
   */
  replication?: 'off' | 'backup' | 'all';
  /** This instance's id for replication (default: `STATELINE_INSTANCE_ID`, else random). */
  instanceId?: string;
  /**
   * `memory` replication: longest wait for a backup's acknowledgement, and for the peers' copies of
   * a session this instance does not hold (after a failover), default `'500ms'`.
   */
  replicationTimeout?: Duration;
  /** `hybrid`: most records in the near cache (default 10,000). */
  cacheSize?: number;
  /** `token`, `memory`: how often revocations are re-read from the Store as a backstop for missed bus messages (default `'1s'`). */
  revocationSync?: Duration;
  /**
   * Where the manager reports what no request can be told (revocations that cannot be re-read from
   * the Store, a Bus handler that threw); also given to the Store and Bus it opens from specs.
   * A pino logger fits. Default: process warnings.
   */
  logger?: Logger;
  /**
   * Readers of legacy cookies (`stateline/migrate`: `fromExpressSession`, `fromFastifySession`,
   * `fromIronSession`, `fromStateline`), tried in order on a request that has no valid session
   * but carries one of their cookies: the first that opens it becomes this request's session,
   * logged in as its user, and the legacy cookie is cleared. See docs/migrating.md.
   */
  migrate?: readonly MigrationReader[];
  /** Clock, for tests. */
  now?: () => number;
}

/** One of a user's sessions, as `list()` shows it. `handle` is opaque and is not the session id. */
export interface SessionInfo {
  handle: string;
  /** `'cookie'`: a browser session of the manager's strategy; `'token'`: a bearer-token family (`stateline/tokens`). */
  kind: 'cookie' | 'token';
  createdAt: number;
  lastSeenAt: number;
  userAgent: string | null;
}

/** What an adapter knows about the incoming request. */
export interface RequestContext {
  /** The raw `Cookie` header, if any. */
  cookie: string | undefined;
  /** The request came over TLS. */
  encrypted: boolean;
  /** The raw `X-Forwarded-Proto` header (used only with `trustProxy`). */
  forwardedProto?: string | undefined;
  userAgent?: string | undefined;
}

/** What an adapter must send after the handler: `Set-Cookie` values (possibly none). */
export interface CommitResult {
  setCookie: string[];
}

/**
 * The session of one request, as `req.session` (Express, node:http), `request.session` (Fastify)
 * or `c.get('session')` (Hono).
 *
 * @example
 * ```ts
 * const theme = req.session.get<string>('theme') ?? 'light';
 * req.session.set('theme', 'dark');
 * await req.session.update<Item[]>('cart', (cart = []) => [...cart, item]);
 * await req.session.login(user.id);
 * ```
 */
export interface Session {
  /** The logged-in user, or `null` when anonymous. */
  readonly userId: string | null;
  /** Opaque, stable for the life of the session (survives id renewal); `null` until the session is saved. */
  readonly handle: string | null;
  /** True until the session has been saved for the first time. */
  readonly isNew: boolean;
  /** True when the Store could not be reached and `onStoreError: 'anonymous'` gave an empty session that will not be saved. */
  readonly degraded: boolean;
  get<T = unknown>(key: string): T | undefined;
  /** Changed keys are written when the response is sent, merged with concurrent changes to other keys. */
  set(key: string, value: unknown): void;
  delete(key: string): void;
  /**
   * Read-modify-write of one key, saved at once and re-applied to the fresh value when another
   * request changed the session in between, so concurrent updates never lose each other
   * (except with the `token` strategy, which has no server copy to compare against).
   */
  update<T = unknown>(key: string, fn: (current: T | undefined) => T): Promise<T>;
  /** Binds the session to a user and replaces its id at once (the old id stops working); data is kept. */
  login(userId: string): Promise<void>;
  /** Replaces the session id at once, keeping the data. */
  regenerate(): Promise<void>;
  /** Ends the session everywhere; the cookie is cleared. */
  destroy(): Promise<void>;
  /** Writes pending changes now (adapters call it before the response; call it yourself before streaming). */
  commit(): Promise<CommitResult>;
  /**
   * The commit, done at once when it has nothing to wait for: no Store write is due (nothing
   * pending, no renewal or touch; after an `update()` that saved the record itself, say). Returns
   * its result, which `commit()` then answers too; undefined, having done nothing, when the commit
   * must be awaited. Throws what `commit()` would reject with. Adapters use it to skip awaiting a
   * commit that has nothing to write; a custom `Session` may leave it out.
   *
   * @example
   * ```ts
   * const done = session.commitNow?.() ?? (await session.commit());
   * for (const c of done.setCookie) res.appendHeader('set-cookie', c);
   * ```
   */
  commitNow?(): CommitResult | undefined;
}

/** Counters of what the manager did, refused or saw; `stateline/metrics` exports them to Prometheus. */
export interface SessionMetrics {
  /** Sessions saved (or, `token`, issued) for the first time. */
  created: number;
  /** Ids replaced on a saved session by `login()` or `regenerate()`. */
  renewed: number;
  /** Sessions ended here: `destroy()` of a saved session, `revoke()` that found it live (a token family too), and what `revokeAll()` ended (token families included). */
  revoked: number;
  /** Cookies that were malformed, tampered, signed with an unknown key, or too large. */
  invalidCookies: number;
  /** Sessions ended by idle or absolute timeout when they came back. */
  expired: number;
  /**
   * Requests whose validly signed cookie named a record the Store no longer had: evicted (memcached
   * under memory pressure), lost with its server, or dropped by the Store's own expiry. The request
   * went on with a new, anonymous session.
   */
  missing: number;
  /** Requests served while the Store was unreachable. */
  storeErrors: number;
  /** Version conflicts that `update()` or a commit resolved by re-applying. */
  conflictsResolved: number;
  /** Tokens, and `memory` sessions, refused because they were revoked. */
  revokedRefused: number;
  /** `memory` replication: writes no peer acknowledged in time (they stood without a copy). */
  replicationDegraded: number;
  /** `memory` replication: writes whose backup did not acknowledge in time, copied to the next peer in line. */
  replicationRerouted: number;
  /** `memory` replication: reads of a missing session that failed because a live peer did not answer in time. */
  replicaFetchFailures: number;
  /** `memory` replication: sessions fetched from a peer after a failover. */
  replicasFetched: number;
  /** `hybrid`: session-record reads the near cache answered without asking the Store. */
  nearCacheHits: number;
  /** `hybrid`: session-record reads that went to the Store (not cached, expired, or invalidated). */
  nearCacheMisses: number;
  /** `migrate`: sessions taken over from a legacy cookie. */
  migrated: number;
  /** `migrate`: legacy cookies that were present but no reader could open (tampered, expired, unknown). */
  migrationRefused: number;
  /** `migrate`: legacy records whose removal failed after their session was taken over (they expire on their own). */
  migrationRetireFailures: number;
}

/**
 * One manager per process: loads and commits request sessions and manages a user's sessions.
 *
 * @example
 * ```ts
 * const sessions = await createSessions({ strategy: 'server', store: 'redis://127.0.0.1:6379', keys: [process.env.SESSION_KEY] });
 * for (const s of await sessions.list('alice')) console.log(s.handle, s.userAgent);
 * await sessions.revokeAll('alice');
 * ```
 */
export interface SessionManager {
  readonly strategy: SessionStrategyName;
  readonly store: Store;
  readonly metrics: Readonly<SessionMetrics>;
  /** Reads the request's session; rejects with `SL_ERR_STORE_UNAVAILABLE` under `onStoreError: 'fail'`. */
  load(request: RequestContext): Promise<Session>;
  /**
   * The live sessions of a user (`memory`: gathered from every instance, waiting at most 500 ms),
   * cookie sessions and the token families of every `stateline/tokens` built on this manager.
   */
  list(userId: string): Promise<SessionInfo[]>;
  /**
   * Ends one session by its handle; true when it was live. Every instance refuses it within a
   * second. With `userId`, only a session of that user is ended (for "log out that device" pages).
   */
  revoke(handle: string, options?: { userId?: string }): Promise<boolean>;
  /** Ends every session of a user, token families included; returns how many were live. */
  revokeAll(userId: string): Promise<number>;
  close(): Promise<void>;
}

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
