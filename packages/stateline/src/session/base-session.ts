import { StatelineError } from '../errors.js';
import type { CookieSettings } from './cookie.js';
import type { SessionRecord } from './record.js';
import { sealSessionClass } from './sealed-session.js';
import type { CommitResult, Session } from './types.js';

const REMOVED: unique symbol = Symbol('removed');
const MAX_KEY = 256;

/**
 * What every strategy's request session shares: the local view (`get`/`set`/`delete` over the
 * loaded record plus pending changes) and the single commit at the end of the request.
 */
export abstract class BaseSession implements Session {
  protected readonly dirty = new Map<string, unknown>();
  private committing: Promise<CommitResult> | undefined;

  protected constructor(
    protected rec: SessionRecord | null,
    protected readonly cookieSettings: CookieSettings,
    /** The request carried a session cookie (cleared when it turns out dead). */
    protected presented: boolean,
    readonly degraded = false,
  ) {}

  get userId(): string | null {
    return this.rec?.u ?? null;
  }

  get handle(): string | null {
    return this.isNew ? null : (this.rec?.h ?? null);
  }

  /** express-session's `req.session.cookie`: here the cookie is configured once, on the manager. */
  get cookie(): never {
    throw new TypeError(
      'session.cookie does not exist: the cookie is configured on the manager, createSessions({ cookie, idleTimeout, absoluteTimeout }) (docs/sessions.md)',
    );
  }

  abstract get isNew(): boolean;

  get<T = unknown>(key: string): T | undefined {
    if (this.dirty.has(key)) {
      const v = this.dirty.get(key);
      return (v === REMOVED ? undefined : v) as T | undefined;
    }
    return this.rec?.d[key] as T | undefined;
  }

  set(key: string, value: unknown): void {
    checkKey(key);
    if (value === undefined) this.dirty.set(key, REMOVED);
    else this.dirty.set(key, checkValue(key, value));
  }

  delete(key: string): void {
    checkKey(key);
    this.dirty.set(key, REMOVED);
  }

  /** `d` with the pending changes applied (a new object). */
  protected withChanges(d: Record<string, unknown>): Record<string, unknown> {
    const out = { ...d };
    for (const [k, v] of this.dirty) {
      if (v === REMOVED) delete out[k];
      else out[k] = v;
    }
    return out;
  }

  /** The value `update(key, fn)` starts from: a pending change wins over the stored value. */
  protected current(key: string, d: Record<string, unknown> | undefined): unknown {
    if (this.dirty.has(key)) {
      const v = this.dirty.get(key);
      return v === REMOVED ? undefined : v;
    }
    return d?.[key];
  }

  protected setIn(d: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
    const out = { ...d };
    if (value === undefined) delete out[key];
    else out[key] = checkValue(key, value);
    return out;
  }

  abstract update<T = unknown>(key: string, fn: (current: T | undefined) => T): Promise<T>;
  abstract login(userId: string): Promise<void>;
  abstract regenerate(): Promise<void>;
  abstract destroy(): Promise<void>;
  protected abstract doCommit(): Promise<CommitResult>;
  /** The commit done synchronously when no Store write is due; undefined (and nothing done) otherwise. */
  protected abstract doCommitNow(): CommitResult | undefined;

  /** Runs once; later calls get the same result, so adapters and handlers may both call it. */
  commit(): Promise<CommitResult> {
    this.committing ??= this.doCommit();
    return this.committing;
  }

  commitNow(): CommitResult | undefined {
    if (this.committing !== undefined) return undefined;
    const done = this.doCommitNow();
    if (done !== undefined) this.committing = Promise.resolve(done);
    return done;
  }

  /** A later change after commit starts a new commit cycle (e.g. a handler that streams twice). */
  protected reopen(): void {
    this.committing = undefined;
  }
}

// Writes of names a session does not have end in SEALED_PROTOTYPE and throw (sealed-session.ts).
sealSessionClass(BaseSession);

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY) {
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `session keys are non-empty strings of at most ${MAX_KEY} characters`,
    );
  }
}

/** Session values must survive JSON: refuse what would silently change (functions, cycles, bigint). */
function checkValue(key: string, value: unknown): unknown {
  const t = typeof value;
  if (t === 'function' || t === 'symbol' || t === 'bigint') {
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `session value for "${key}" must be JSON-serialisable (got a ${t})`,
    );
  }
  return value;
}

/** Checks a user id given to `login`. */
export function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 256) {
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      'login(userId) needs a non-empty string of at most 256 characters',
    );
  }
  return userId;
}
