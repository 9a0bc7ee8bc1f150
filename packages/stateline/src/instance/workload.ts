/**
 * The workload contract: what an app module may export (`export const workload`) so a load tool
 * such as `stateline lab` can drive it. Types only: the app describes what its users do and what
 * a right answer is; the tool supplies the HTTP client, the seeded random source, the timing and
 * the counting. See docs/lab.md, "Writing a workload".
 *
 * @module
 */

/** One answer as a workload sees it. */
export interface WorkloadAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** The body parsed as JSON; the text when it is not JSON; null when empty. */
  readonly body: unknown;
  /** The `code` of a problem answer (`SL_ERR_…`); `''` for any other answer. */
  readonly code: string;
}

/** Options of one request. */
export interface WorkloadRequestInit {
  /** Sent as JSON, with `content-type: application/json`. */
  readonly json?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Keep the answer's ETag and send `If-None-Match` with the next request to the same path. A
   * 304 comes back with the body of the copy it confirmed.
   */
  readonly revalidate?: boolean;
}

/**
 * The outcome of {@link WorkloadHttp.idempotent}.
 *
 * @example
 * ```ts
 * const { key, answer, uncertain } = await user.http.idempotent('POST', '/api/orders', { json: {} });
 * if (answer?.status === 201) user.report.created(key, (answer.body as { id: string }).id);
 * else if (!answer && uncertain) state.cart.clear(); // the order may exist: expect nothing
 * ```
 */
export interface IdempotentAnswer {
  /** The `Idempotency-Key` sent with every attempt. */
  readonly key: string;
  /**
   * The final answer, or null when none came in the end: every attempt failed (network error,
   * 5xx), or the deadline passed while the app kept saying "in flight".
   */
  readonly answer: WorkloadAnswer | null;
  /** An earlier attempt went unanswered, failed or was reported in flight: its effect may exist. */
  readonly uncertain: boolean;
}

/**
 * HTTP as one virtual user: its own cookie jar, JSON in and out, redirects not followed, a time
 * limit per request. Network errors and 5xx answers are counted as errors by the tool.
 *
 * @example
 * ```ts
 * const a = await user.http.request('POST', '/api/cart/items', { json: { productId: 'mug', qty: 1 } });
 * if (a?.status === 200) user.report.acknowledged();
 * ```
 */
export interface WorkloadHttp {
  /** One request; null when no answer came. */
  request(method: string, path: string, init?: WorkloadRequestInit): Promise<WorkloadAnswer | null>;
  /**
   * A request that must take effect once: a fresh `Idempotency-Key`, the same key on every retry
   * after a network error or 5xx (with backoff), and a `409`/`429` with `Retry-After` waited out
   * and asked again (each counted as a retry), within the tool's deadline.
   */
  idempotent(method: string, path: string, init?: WorkloadRequestInit): Promise<IdempotentAnswer>;
  /**
   * The absolute URL a request for `path` goes to (to open a WebSocket beside the requests, for
   * instance). Absent when the tool has no such address.
   */
  url?(path: string): string;
  /**
   * The `Cookie` header the next request would carry (the user's session), or undefined when the
   * jar is empty. A `cookie` given in a request's `headers` is sent instead of the jar's.
   */
  cookie?(): string | undefined;
}

/** A seeded source of choices: the same seed gives the same run. */
export interface WorkloadRandom {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T;
  /** 32 hex digits. */
  hex128(): string;
}

/**
 * What a user authenticates with: `cookie` (the app's session cookie, kept by the tool's cookie
 * jar) or `bearer` (tokens the workload obtains, sends in `Authorization` and refreshes itself).
 */
export type WorkloadCredentials = 'cookie' | 'bearer';

/**
 * How a user noticed that its session was gone without having ended it: the app said it is
 * signed out, the app answered 401, or the data the session held vanished.
 */
export type SessionLossReason = 'logged-out' | 'unauthenticated' | 'data-lost';

/**
 * What a workload tells the tool about the answers it judged. The tool counts network errors,
 * 5xx, latency and retries of {@link WorkloadHttp.idempotent} itself.
 *
 * @example
 * ```ts
 * if (a.status === 401) user.report.sessionLost('unauthenticated');
 * else if (a.status !== 200) user.report.unexpected(a, 'cart');
 * ```
 */
export interface WorkloadReport {
  /** An answer the script did not expect (a 4xx): an error the user saw, typed by its problem code or `what`. */
  unexpected(answer: WorkloadAnswer, what: string): void;
  /** An answer that asked to be tried again later (`429`, `409` with `Retry-After`): not an error. */
  retry(): void;
  /** The user's session was gone without the user ending it (one incident). */
  sessionLost(reason: SessionLossReason): void;
  /** A value held less than the acknowledged writes put there, while the rest survived. */
  lostUpdate(): void;
  /** A read showed an older state than one the user was already answered with; a read right after agreed again. */
  staleRead(): void;
  /** A write the app acknowledged, which later reads must show. */
  acknowledged(): void;
  /** A read compared with what the acknowledged writes promise. */
  checked(): void;
  /** The app answered an idempotent create of `key` with resource `id` (the audit counts duplicates against it). */
  created(key: string, id: string): void;
  /**
   * Adds `n` (default 1) to a counter the app names (`drop.purchases`): the report's `counters`
   * hold every name any user counted, summed over users.
   */
  count(name: string, n?: number): void;
  /**
   * One sample of a duration the app names (`takeover`), in ms: the report's `timings` give each
   * name's count, p50, p95, p99 and max.
   */
  timing(name: string, ms: number): void;
}

/**
 * One virtual user, as an action sees it.
 *
 * @example
 * ```ts
 * const a = await user.http.request('GET', '/api/whoami');
 * await user.think();
 * ```
 */
export interface WorkloadUser {
  /**
   * Its number (an account to sign in as, for instance): 1 to the number of users, shifted by a
   * whole number of users for each earlier cell of a `--scale`/`--state-size` run that shares its
   * cluster (the workload's `env` is then asked for every cell's users).
   */
  readonly n: number;
  /** What this run's users authenticate with (one of the workload's {@link Workload.credentials}). */
  readonly credentials: WorkloadCredentials;
  /**
   * How much state this user should carry (`stateline lab --state-size`; the shop's session keeps
   * that many "recently viewed" entries), or null when the run does not set one: the workload's own mix.
   */
  readonly stateSize: number | null;
  readonly http: WorkloadHttp;
  readonly random: WorkloadRandom;
  readonly report: WorkloadReport;
  /** True once the load should end: finish the request in hand and return. */
  stopped(): boolean;
  /** The tool's think time between two requests (nothing once stopped). */
  think(): Promise<void>;
  sleep(ms: number): Promise<void>;
  /**
   * After a read that disagreed with the acknowledged writes: reads again a few times, a little
   * apart (even when the load has just ended). Null when one of them agrees (counted as a stale
   * read); otherwise the last value read (`first` when no read answered), and the disagreement
   * stands.
   */
  recheck<T>(first: T, read: () => Promise<T | null>, agrees: (value: T) => boolean): Promise<T | null>;
}

/**
 * One thing a user does, chosen at random in proportion to `weight`.
 *
 * @example
 * ```ts
 * const browse: WorkloadAction<Cart> = {
 *   name: 'browse',
 *   weight: 10,
 *   run: async (user) => void (await user.http.request('GET', '/api/products', { revalidate: true })),
 * };
 * ```
 */
export interface WorkloadAction<S> {
  /** Names the action in errors it throws. */
  readonly name: string;
  /** Relative frequency, greater than 0. */
  readonly weight: number;
  run(user: WorkloadUser, state: S): Promise<void>;
}

/** One record of an idempotent create as the app holds it after the load. */
export interface AuditRecord {
  readonly id: string;
  /** The `Idempotency-Key` it was made under, null when none. */
  readonly idempotencyKey: string | null;
}

/**
 * What {@link Workload.audit} is given.
 *
 * @example
 * ```ts
 * async audit({ http, n, signIn }) {
 *   if (signIn && (await http.request('POST', '/api/login', { json: { username: `user${n}` } }))?.status !== 200) return null;
 *   const a = await http.request('GET', '/api/orders');
 *   return a?.status === 200 ? (a.body as { orders: AuditRecord[] }).orders : null;
 * }
 * ```
 */
export interface WorkloadAudit {
  /** Straight to one instance (not through the balancer); not counted as load. */
  readonly http: WorkloadHttp;
  /** The user's number. */
  readonly n: number;
  /**
   * False while `http` carries the user's own cookies (asked on each instance in turn: sign in
   * only if nothing else works); true on later attempts, with an empty cookie jar.
   */
  readonly signIn: boolean;
}

/**
 * What {@link Workload.victim} is given: a way to ask the app, just before a kill, which instance
 * it should hit.
 *
 * @example
 * ```ts
 * async victim({ http }) {
 *   const a = await http.request('GET', '/api/drop/sku-1');
 *   return a?.status === 200 ? (a.body as { owner: string | null }).owner : null;
 * }
 * ```
 */
export interface WorkloadProbe {
  /** Straight to one live instance, with an empty cookie jar; not counted as load. */
  readonly http: WorkloadHttp;
}

/**
 * What {@link Workload.verify} is given once the load is over.
 *
 * @example
 * ```ts
 * async verify({ http, states }) {
 *   const acknowledged = states.reduce((n, s) => n + s.bought.length, 0);
 *   const a = await http.request('GET', '/api/drop/sku-1');
 *   const sold = (a?.body as { sold: number }).sold;
 *   return { 'drop.oversold': Math.max(0, sold - 100), 'drop.purchasesLost': Math.max(0, acknowledged - sold) };
 * }
 * ```
 */
export interface WorkloadCheck<S> {
  /** Straight to one live instance, with an empty cookie jar; not counted as load. */
  readonly http: WorkloadHttp;
  /** Every user's memory as the load left it, user 1 first. */
  readonly states: readonly S[];
}

/**
 * What an app's users do, and what a right answer is. `S` is one user's memory (what it was
 * answered, what it expects), made by `init`.
 *
 * @example
 * ```ts
 * import type { Workload } from 'stateline/instance';
 *
 * export const workload: Workload<{ count: number }> = {
 *   init: () => ({ count: 0 }),
 *   actions: [
 *     {
 *       name: 'increment',
 *       weight: 1,
 *       async run(user, state) {
 *         const a = await user.http.request('POST', '/api/counter');
 *         if (a?.status !== 200) return;
 *         user.report.acknowledged();
 *         const { counter } = a.body as { counter: number };
 *         if (counter < state.count + 1) user.report.lostUpdate();
 *         state.count = counter;
 *       },
 *     },
 *   ],
 * };
 * ```
 */
export interface Workload<S = unknown> {
  /**
   * The credentials the workload can drive users with (default `['cookie']`); a tool skips a run
   * that asks for another kind.
   */
  readonly credentials?: readonly WorkloadCredentials[];
  /**
   * Environment every instance needs for virtual users numbered 1 to `users` (accounts to seed,
   * for instance).
   */
  env?(users: number): Record<string, string>;
  /** Makes one user's memory, once, before its first action. */
  init(user: WorkloadUser): S;
  /**
   * Runs before every action: brings the user to where actions make sense (signed in). False:
   * not this time; the tool thinks and asks again.
   */
  prepare?(user: WorkloadUser, state: S): Promise<boolean>;
  readonly actions: readonly WorkloadAction<S>[];
  /**
   * After the load: the idempotent creates the app holds for user `n`, for the tool to count
   * duplicates and missing ones against what it reported as {@link WorkloadReport.created}.
   * Null when they could not be listed this way.
   */
  audit?(audit: WorkloadAudit): Promise<readonly AuditRecord[] | null>;
  /**
   * Just before a `kill` fault: the id of the instance it should hit (the owner of a hot key, for
   * instance). Null, a throw or an id that is not up: the tool's own seeded choice.
   */
  victim?(probe: WorkloadProbe): Promise<string | null>;
  /**
   * Once, after the load and the audit: whole-run checks over every user's memory and what the
   * app holds (units sold beyond the stock, acknowledged writes missing). Each returned number is
   * added to the report's `counters` under its name.
   */
  verify?(check: WorkloadCheck<S>): Promise<Record<string, number>>;
}
