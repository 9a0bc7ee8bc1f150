/**
 * The `migrate` option at work: a request that got a new session but carries a legacy cookie is
 * offered to the readers in order; the first that opens it seeds the new session, whose commit then
 * clears the legacy cookies and retires the legacy record.
 */
import { isStatelineError } from '../errors.js';
import type { LegacySession, MigrationReader } from './types.js';
import { checkUserId } from './base-session.js';
import { cookieMap, cookieSettings } from './cookie.js';
import type { ResolvedOptions } from './options.js';
import type { CommitResult, RequestContext, Session, SessionMetrics } from './types.js';
import { sealSessionClass } from './sealed-session.js';

/**
 * What the manager does when a legacy store (or its own, while logging the session in) cannot be
 * reached: its own `onStoreError` policy. Resolves with an anonymous session that is never seeded,
 * or rejects with `err`.
 */
export type OutagePolicy = (err: unknown, request: RequestContext) => Promise<Session>;

const MAX_KEY = 256;

/** The readers of one manager, tried on requests that got a new session. */
export class Migration {
  /** Every cookie name any reader reads, for the one check a request without them pays. */
  private readonly names: readonly string[];

  constructor(
    private readonly readers: readonly MigrationReader[],
    private readonly o: ResolvedOptions,
    private readonly metrics: SessionMetrics,
    private readonly outage: OutagePolicy,
  ) {
    this.names = [...new Set(readers.flatMap((r) => r.cookieNames))];
  }

  /** `fresh` (a new, empty session) seeded from the first legacy cookie a reader opens, else `fresh`. */
  async adopt(fresh: Session, request: RequestContext): Promise<Session> {
    if (!request.cookie || !this.names.some((n) => request.cookie!.includes(n))) return fresh;
    const cookies = cookieMap(request.cookie);
    const presented = this.names.filter((n) => cookies.has(n));
    if (presented.length === 0) return fresh;
    for (const reader of this.readers) {
      if (!reader.cookieNames.some((n) => cookies.has(n))) continue;
      let legacy: LegacySession | null;
      try {
        legacy = await reader.read(request, cookies);
      } catch (err) {
        if (isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE')) return this.outage(err, request);
        // A reader that cannot run at all (its package is not installed) must not log everyone out quietly.
        if (isStatelineError(err, 'SL_ERR_PEER_DEPENDENCY_MISSING')) throw err;
        this.metrics.migrationRefused++;
        continue;
      }
      if (legacy === null || !acceptable(legacy)) {
        this.metrics.migrationRefused++;
        continue;
      }
      for (const [key, value] of Object.entries(legacy.data)) fresh.set(key, value);
      if (legacy.userId !== null) {
        try {
          await fresh.login(legacy.userId);
        } catch (err) {
          return this.outage(err, request);
        }
      }
      this.metrics.migrated++;
      return new MigratedSession(fresh, this.clearing(presented, request), legacy.retire, this.metrics);
    }
    return fresh;
  }

  /** Set-Cookie values that delete the presented legacy cookies (the native one is overwritten anyway). */
  private clearing(presented: readonly string[], request: RequestContext): string[] {
    const native = cookieSettings(this.o.cookie, request, this.o.trustProxy);
    const out: string[] = [];
    for (const reader of this.readers) {
      const path = reader.cookieScope?.path ?? '/';
      const domain = reader.cookieScope?.domain;
      for (const name of reader.cookieNames) {
        if (name === native.name || !presented.includes(name)) continue;
        if (out.some((c) => c.startsWith(`${name}=`))) continue;
        out.push(
          `${name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=${path}` +
            `${domain ? `; Domain=${domain}` : ''}; HttpOnly; SameSite=Lax${native.secure ? '; Secure' : ''}`,
        );
      }
    }
    return out;
  }

  /** Closes every reader, even when one fails; the first failure is rethrown. */
  async close(): Promise<void> {
    const results = await Promise.allSettled(this.readers.map((r) => r.close?.()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** What a session accepts from a reader: keys as `set` takes them, a user id as `login` does. */
function acceptable(legacy: LegacySession): boolean {
  if (!legacy.data || typeof legacy.data !== 'object') return false;
  for (const key of Object.keys(legacy.data)) if (key.length === 0 || key.length > MAX_KEY) return false;
  if (legacy.userId === null) return true;
  try {
    checkUserId(legacy.userId);
    return true;
  } catch {
    return false;
  }
}

/**
 * A session taken over from a legacy cookie. It is the new session in every respect; its first
 * successful commit also answers with the legacy cookies cleared, then retires the legacy record.
 */
class MigratedSession implements Session {
  /** The inner commit this wrapper last answered for, and its answer (one per commit cycle). */
  private seen: Promise<CommitResult> | undefined;
  private answer: Promise<CommitResult> | undefined;

  constructor(
    private readonly inner: Session,
    /** Legacy cookies to clear; null once a commit sent them. */
    private clears: string[] | null,
    private readonly retire: (() => Promise<void>) | undefined,
    private readonly metrics: SessionMetrics,
  ) {
    Object.preventExtensions(this);
  }

  get userId(): string | null {
    return this.inner.userId;
  }

  get handle(): string | null {
    return this.inner.handle;
  }

  get isNew(): boolean {
    return this.inner.isNew;
  }

  get degraded(): boolean {
    return this.inner.degraded;
  }

  get<T = unknown>(key: string): T | undefined {
    return this.inner.get<T>(key);
  }

  set(key: string, value: unknown): void {
    this.inner.set(key, value);
  }

  delete(key: string): void {
    this.inner.delete(key);
  }

  update<T = unknown>(key: string, fn: (current: T | undefined) => T): Promise<T> {
    return this.inner.update(key, fn);
  }

  login(userId: string): Promise<void> {
    return this.inner.login(userId);
  }

  regenerate(): Promise<void> {
    return this.inner.regenerate();
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }

  commit(): Promise<CommitResult> {
    const p = this.inner.commit();
    if (p !== this.seen) {
      this.seen = p;
      this.answer = this.clears === null ? p : this.first(p);
    }
    return this.answer!;
  }

  commitNow(): CommitResult | undefined {
    // The first commit also retires the legacy record: that one is awaited.
    return this.clears === null ? this.inner.commitNow?.() : undefined;
  }

  private async first(commit: Promise<CommitResult>): Promise<CommitResult> {
    const result = await commit;
    const clears = this.clears;
    if (clears === null) return result;
    this.clears = null;
    if (this.retire) {
      try {
        await this.retire();
      } catch {
        this.metrics.migrationRetireFailures++;
      }
    }
    return { setCookie: [...result.setCookie, ...clears] };
  }
}

sealSessionClass(MigratedSession);
