import { StatelineError } from '../errors.js';
import type { Store } from '../store/types.js';
import { BaseSession, checkUserId } from './base-session.js';
import { clearCookie, cookieSettings, readCookies, setCookie, type CookieSettings } from './cookie.js';
import { CompactJwe } from './jwe.js';
import { randomId } from './key-ring.js';
import type { ResolvedOptions } from './options.js';
import { isRecord, keys, newRecord, timedOut, type SessionRecord } from './record.js';
import type { Revocations } from './revocations.js';
import type { SessionStrategy } from './strategy.js';
import type { CommitResult, RequestContext, Session, SessionInfo, SessionMetrics } from './types.js';
import { sealSessionClass } from './sealed-session.js';

interface Env {
  o: ResolvedOptions;
  store: Store;
  metrics: SessionMetrics;
  revocations: Revocations;
  jwe: CompactJwe;
}

/** What the Store keeps of a logged-in token session, so `list()` can show it. */
interface TokenInfo {
  u: string;
  c: number;
  s: number;
  a: string | null;
}

/**
 * `token`: the whole session travels in an encrypted, authenticated cookie (JWE compact, `dir` +
 * A256GCM, `kid` naming the key of the ring, `zip: DEF` when `compress` is on; see jwe.ts). No Store round trip per request; revocation through
 * {@link Revocations}. Concurrent changes to one session cannot be merged: the last response wins.
 */
export class TokenStrategy implements SessionStrategy {
  private constructor(private readonly env: Env) {}

  /** Where revocations and the user's session list are kept. */
  get store(): Store {
    return this.env.store;
  }

  get revocations(): Revocations {
    return this.env.revocations;
  }

  static create(
    o: ResolvedOptions,
    store: Store,
    metrics: SessionMetrics,
    revocations: Revocations,
  ): TokenStrategy {
    const jwe = new CompactJwe(o.ring.encryptionKeys, { compressAbove: o.compress?.threshold ?? false });
    return new TokenStrategy({ o, store, metrics, revocations, jwe });
  }

  /** The first of `values` that opens to a live, unrevoked record (each refusal counted). */
  private find(values: readonly string[]): SessionRecord | null {
    const { o, metrics, revocations, jwe } = this.env;
    const now = o.now();
    for (const value of values) {
      let rec: SessionRecord | null = null;
      if (value.length <= o.maxTokenBytes) {
        const plaintext = jwe.decrypt(value);
        try {
          const x: unknown = plaintext === null ? null : JSON.parse(plaintext);
          if (isRecord(x)) rec = x;
        } catch {
          rec = null;
        }
      }
      if (!rec) {
        metrics.invalidCookies++;
        continue;
      }
      if (revocations.isRevoked(rec)) {
        metrics.revokedRefused++;
        continue;
      }
      if (timedOut(rec, now, o.idle, o.absolute)) {
        metrics.expired++;
        continue;
      }
      return rec;
    }
    return null;
  }

  async load(req: RequestContext): Promise<Session> {
    const cookie = cookieSettings(this.env.o.cookie, req, this.env.o.trustProxy);
    const values = readCookies(req.cookie, cookie.name);
    const rec = this.find(values);
    return new TokenSession(this.env, cookie, rec, rec !== null, values.length > 0, req.userAgent);
  }

  /** The live record the request's token holds, read without making a session (migration readers). */
  async open(req: RequestContext): Promise<SessionRecord | null> {
    const cookie = cookieSettings(this.env.o.cookie, req, this.env.o.trustProxy);
    return this.find(readCookies(req.cookie, cookie.name));
  }

  async list(userId: string): Promise<SessionInfo[]> {
    const { store, revocations } = this.env;
    const out: SessionInfo[] = [];
    await Promise.all(
      (await store.indexMembers(keys.user(userId))).map(async ({ member }) => {
        const info = await readInfo(store, member);
        if (
          !info ||
          info.u !== userId ||
          revocations.isRevoked({ ...newRecord(member, info.c, undefined), u: info.u })
        ) {
          await store.indexRemove(keys.user(userId), member);
          return;
        }
        out.push({
          handle: member,
          kind: 'cookie',
          createdAt: info.c,
          lastSeenAt: info.s,
          userAgent: info.a,
        });
      }),
    );
    return out.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  }

  async revoke(handle: string, userId?: string): Promise<boolean> {
    const { store, revocations, o } = this.env;
    const info = await readInfo(store, handle);
    if (userId !== undefined && info?.u !== userId) return false;
    await revocations.deny(handle, (info?.c ?? o.now()) + o.absolute);
    if (info) await forget(store, handle, info.u);
    return info !== null;
  }

  async revokeAll(userId: string): Promise<number> {
    const { store, revocations } = this.env;
    await revocations.revokeUser(userId);
    const members = await store.indexMembers(keys.user(userId));
    await Promise.all(members.map(({ member }) => forget(store, member, userId)));
    return members.length;
  }
}

async function readInfo(store: Store, handle: string): Promise<TokenInfo | null> {
  const found = await store.get(keys.tokenInfo(handle));
  if (!found) return null;
  try {
    return JSON.parse(found.value) as TokenInfo;
  } catch {
    return null;
  }
}

async function forget(store: Store, handle: string, userId: string): Promise<void> {
  await store.delete(keys.tokenInfo(handle));
  await store.indexRemove(keys.user(userId), handle);
}

class TokenSession extends BaseSession {
  private changed = false;
  private destroyed = false;

  constructor(
    private readonly env: Env,
    cookie: CookieSettings,
    rec: SessionRecord | null,
    /** The record came from a valid token (it is not new). */
    private fromToken: boolean,
    presented: boolean,
    private readonly userAgent: string | undefined,
  ) {
    super(rec, cookie, presented);
    // Every field exists by now; Object.defineProperty of a new name fails too (sealed-session.ts).
    Object.preventExtensions(this);
  }

  get isNew(): boolean {
    return !this.fromToken;
  }

  /** No server copy to compare against: applied locally, the last response wins (documented). */
  async update<T = unknown>(key: string, fn: (current: T | undefined) => T): Promise<T> {
    const value = fn(this.get<T>(key));
    this.set(key, value);
    this.reopen();
    return value;
  }

  /** Refuses the current token everywhere (when it was ever issued). */
  private async retire(): Promise<void> {
    const { revocations, o, store } = this.env;
    if (this.rec && this.fromToken) await revocations.deny(this.rec.h, this.rec.c + o.absolute);
    if (this.rec?.u) await forget(store, this.rec.h, this.rec.u);
  }

  private async reissue(userId: string | null): Promise<void> {
    const { o, store, metrics } = this.env;
    if (this.rec && this.fromToken) metrics.renewed++;
    else metrics.created++;
    await this.retire();
    const now = o.now();
    const rec = {
      ...newRecord(randomId(), now, this.userAgent),
      u: userId,
      d: this.withChanges(this.rec?.d ?? {}),
    };
    if (userId) {
      const info: TokenInfo = { u: userId, c: now, s: now, a: rec.a };
      await store.create(keys.tokenInfo(rec.h), JSON.stringify(info), { ttl: o.absolute });
      await store.indexAdd(keys.user(userId), rec.h, now + o.absolute);
    }
    this.rec = rec;
    this.dirty.clear();
    this.fromToken = true;
    this.changed = true;
    this.reopen();
  }

  login(userId: string): Promise<void> {
    return this.reissue(checkUserId(userId));
  }

  regenerate(): Promise<void> {
    return this.reissue(this.rec?.u ?? null);
  }

  async destroy(): Promise<void> {
    // Already counted when a revoke or revokeAll ended it (a "log out everywhere" then a logout).
    if (this.rec && this.fromToken && !this.env.revocations.isRevoked(this.rec)) this.env.metrics.revoked++;
    await this.retire();
    this.rec = null;
    this.dirty.clear();
    this.fromToken = false;
    this.destroyed = true;
    this.reopen();
  }

  protected doCommitNow(): CommitResult | undefined {
    const { o } = this.env;
    const now = o.now();
    if (!this.rec) {
      if (this.dirty.size === 0) {
        const clear = this.destroyed || this.presented;
        this.destroyed = this.presented = false;
        return { setCookie: clear ? [clearCookie(this.cookieSettings)] : [] };
      }
      // A new token is bound to no user, so it has no last-seen to write.
      return this.seal(newRecord(randomId(), now, this.userAgent), now, true);
    }
    // A touch of a logged-in token writes its last-seen for list(): that one waits for the Store.
    if (this.rec.u && now - this.rec.s >= o.touchAfter) return undefined;
    return this.seal(this.rec, now, false);
  }

  protected async doCommit(): Promise<CommitResult> {
    const done = this.doCommitNow();
    if (done !== undefined) return done;
    const now = this.env.o.now();
    const rec = this.rec!;
    const info: TokenInfo = { u: rec.u!, c: rec.c, s: now, a: rec.a };
    const out = this.seal(rec, now, false);
    // Best effort: list() shows last-seen from here; the token itself stays valid without it.
    await this.env.store.update(keys.tokenInfo(rec.h), JSON.stringify(info)).catch(() => {});
    return out;
  }

  /** Seals `rec` with the pending changes into the cookie when anything changed or is due. */
  private seal(rec: SessionRecord, now: number, fresh: boolean): CommitResult {
    const { o, jwe } = this.env;
    const touch = now - rec.s >= o.touchAfter;
    const renew = now - rec.i > o.renewal;
    if (!(fresh || this.changed || this.dirty.size > 0 || touch || renew)) return { setCookie: [] };
    const next: SessionRecord = { ...rec, d: this.withChanges(rec.d), s: now, i: renew ? now : rec.i };
    const compress = o.compress !== null && !o.compress.except.some((k) => Object.hasOwn(next.d, k));
    const token = jwe.encrypt(JSON.stringify(next), compress);
    const value = setCookie(this.cookieSettings, token, next.c + o.absolute - now);
    if (token.length > o.maxTokenBytes) {
      throw new StatelineError(
        'SL_ERR_SESSION_TOO_LARGE',
        `the session token would be ${token.length} bytes, over the ${o.maxTokenBytes}-byte budget; keep less in the session or use another strategy`,
      );
    }
    this.rec = next;
    this.dirty.clear();
    this.changed = false;
    this.fromToken = true;
    if (fresh) this.env.metrics.created++;
    return { setCookie: [value] };
  }
}

sealSessionClass(TokenSession);
