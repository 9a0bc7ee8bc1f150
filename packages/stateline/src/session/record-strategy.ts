/**
 * The record strategies (`server`, `hybrid`, `memory`): a session is one record in a Store. Over
 * 400 lines on purpose: the strategy (load, list, revoke) and its request session (read, commit
 * with compare-and-set, renew, destroy) share one private environment, the record's parse and
 * serialize, and the cookie-verification cache; split apart, each half would have to export what
 * is now private to both.
 */
import { StatelineError } from '../errors.js';
import type { NearCacheStore } from '../store/decorators/near-cache-store.js';
import type { Store, StoredRecord } from '../store/types.js';
import { BaseSession, checkUserId } from './base-session.js';
import {
  clearCookie,
  cookieSettings,
  readCookies,
  readVersion,
  setCookie,
  versionSettings,
  type CookieSettings,
} from './cookie.js';
import { randomId, verifierOf } from './key-ring.js';
import type { ResolvedOptions } from './options.js';
import { isRecord, keys, newRecord, timedOut, type SessionRecord } from './record.js';
import { rewriteRecord, type Changed } from './record-text.js';
import type { Revocations } from './revocations.js';
import type { SessionStrategy } from './strategy.js';
import type { CommitResult, RequestContext, Session, SessionInfo, SessionMetrics } from './types.js';
import { sealSessionClass } from './sealed-session.js';

/** A record as the Store holds it: the session plus the verifier of its current (and previous) id. */
export interface Stored extends SessionRecord {
  /** Verifier of the current secret. */
  k: string;
  /** Verifier of the previous secret, honoured until `q` (periodic renewal only). */
  p?: string;
  q?: number;
  /** When it was bound to its user (login); a user-wide revocation refuses sessions bound at or before it. */
  l?: number;
}

const MAX_ATTEMPTS = 1000;
/**
 * Records shorter than this are serialized whole on a write: locating the loaded text's members
 * costs ~3 µs whatever the size, JSON.stringify of a 1 KB record about as much (of 4 KB, ~9 µs).
 */
const REWRITE_MIN = 1024;
/** Cookies whose signature was checked recently, with their secret's verifier (insertion-ordered). */
const VERIFIED_CACHE = 4096;
const ID_RE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
/**
 * What an ended record is overwritten with (compare-and-set) before it is deleted: `parse`
 * refuses it, so the handle is dead from that write on and can never be issued again.
 */
const ENDED = '{"ended":true}';
/** How long a tombstone outlives a delete that never arrived. */
const ENDED_TTL = 60_000;

/** Shared by every request session of one manager. */
interface Env {
  o: ResolvedOptions;
  /** Where records are read and written: the Store, or a decorator in front of it. */
  store: Store;
  metrics: SessionMetrics;
  /** `memory`: revocations heard from every instance; a revoked record is refused and removed. */
  revocations?: Revocations | undefined;
  /**
   * `hybrid`: the near cache `store` is. The client then holds the record version it was last
   * answered with (cookie `<name>.v`), and a read never returns an older one (read-your-writes on
   * every instance, whatever the invalidations on the Bus are doing).
   */
  near?: NearCacheStore | undefined;
}

/** Reads a session record: through the near cache no older than `floor`, else from the Store. */
function read(env: Env, handle: string, floor: number): Promise<StoredRecord | null> {
  return env.near ? env.near.get(keys.session(handle), floor) : env.store.get(keys.session(handle));
}

/**
 * `server`, `memory` and `hybrid`: the session is a Store record keyed by its handle; the cookie
 * carries `handle.secret.signature`. The three differ only in the Store they are given (a real
 * one, a bounded in-process one, a near-cached one).
 */
export class RecordStrategy implements SessionStrategy {
  /**
   * Cookie value → verifier of its secret, for cookies whose signature already checked out: a
   * returning client skips the HMAC and the hash. Keyed by the whole signed value, so only a
   * cookie this ring signed can be in it; bounded, oldest out first.
   */
  private readonly verified = new Map<string, string>();

  /** `store`: the Store behind `env.store`'s decorators, as the manager shows it (default: `env.store`). */
  constructor(
    private readonly env: Env,
    readonly store: Store = env.store,
  ) {}

  /** The verifier of the secret in a well-signed cookie value, else undefined. */
  private check(value: string): string | undefined {
    const known = this.verified.get(value);
    if (known !== undefined) return known;
    const m = value.length <= 100 ? ID_RE.exec(value) : null;
    if (!m || !this.env.o.ring.verify(`${m[1]}.${m[2]}`, m[3]!)) return undefined;
    const v = verifierOf(m[2]!);
    if (this.verified.size >= VERIFIED_CACHE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(value, v);
    return v;
  }

  /**
   * The live record the request's cookie names, with its Store version and the secret the cookie
   * holds; null when no cookie value is valid, live and unrevoked (each refusal counted).
   */
  private async find(
    values: readonly string[],
    floor: number,
  ): Promise<{ rec: Stored; version: number; secret: string; text: string } | null> {
    const { o, metrics } = this.env;
    const now = o.now();
    for (const value of values) {
      const v = this.check(value);
      if (v === undefined) {
        metrics.invalidCookies++;
        continue;
      }
      // `handle.secret.signature`, 22 + 1 + 22 characters before the signature (ID_RE).
      const handle = value.slice(0, 22);
      const secret = value.slice(23, 45);
      const found = await read(this.env, handle, floor);
      const rec = found && parse(found, handle);
      if (!found || !rec) {
        metrics.missing++;
        continue;
      }
      if (rec.k !== v && !(rec.p === v && (rec.q ?? 0) > now)) {
        metrics.invalidCookies++;
        continue;
      }
      if (timedOut(rec, now, o.idle, o.absolute)) {
        metrics.expired++;
        await this.remove(rec);
        continue;
      }
      if (this.env.revocations?.isRevoked(rec, rec.l ?? rec.c)) {
        metrics.revokedRefused++;
        await this.remove(rec);
        continue;
      }
      return { rec, version: found.version, secret, text: found.value };
    }
    return null;
  }

  async load(req: RequestContext): Promise<Session> {
    const { o } = this.env;
    const cookie = cookieSettings(o.cookie, req, o.trustProxy);
    const values = readCookies(req.cookie, cookie.name);
    const floor = this.env.near && values.length > 0 ? readVersion(req.cookie, cookie) : 0;
    const hit = await this.find(values, floor);
    const s = hit
      ? new RecordSession(this.env, this, cookie, hit.rec, hit.version, hit.secret, req.userAgent, hit.text)
      : new RecordSession(this.env, this, cookie, null, 0, null, req.userAgent, '', values.length > 0);
    s.sentVersion = floor;
    return s;
  }

  /** The live record the request's cookie names, read without making a session (migration readers). */
  async open(req: RequestContext): Promise<SessionRecord | null> {
    const cookie = cookieSettings(this.env.o.cookie, req, this.env.o.trustProxy);
    const values = readCookies(req.cookie, cookie.name);
    const floor = this.env.near && values.length > 0 ? readVersion(req.cookie, cookie) : 0;
    return (await this.find(values, floor))?.rec ?? null;
  }

  /** An empty session that is never saved: the Store is down and the policy is `anonymous`. */
  degraded(req: RequestContext): Session {
    const cookie = cookieSettings(this.env.o.cookie, req, this.env.o.trustProxy);
    return new RecordSession(this.env, this, cookie, null, 0, null, req.userAgent, '', false, true);
  }

  async remove(rec: SessionRecord): Promise<boolean> {
    const removed = await this.env.store.delete(keys.session(rec.h));
    if (rec.u) await this.env.store.indexRemove(keys.user(rec.u), rec.h);
    return removed;
  }

  /**
   * Ends the record `handle` (`found`: as last read) while `still` holds for it, fenced by its
   * version like every other session write: a tombstone written with compare-and-set, then the
   * delete and the index entry. A write sent before a timeout or a partition may reach the Store
   * long after its caller gave up; an unconditional delete would then end whatever the handle
   * became meanwhile (a login answered since re-issues the same handle), while a stale version
   * only conflicts. On a conflict it reads again and goes on while `still` holds. True when it
   * ended a live record.
   */
  async end(handle: string, found: StoredRecord | null, still: (rec: Stored) => boolean): Promise<boolean> {
    const { store, metrics } = this.env;
    const key = keys.session(handle);
    let cur = found;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = cur && parse(cur, handle);
      if (!cur || !rec || !still(rec)) return false;
      const res = await store.update(key, ENDED, { ifVersion: cur.version, ttl: ENDED_TTL });
      if (res.ok || res.reason === 'missing') {
        // The handle is dead either way: removing what is left of it cannot touch a live session.
        if (res.ok) await store.delete(key);
        if (rec.u) await store.indexRemove(keys.user(rec.u), handle);
        return res.ok;
      }
      cur = await read(this.env, handle, res.version);
      metrics.conflictsResolved++;
    }
    throw new StatelineError('SL_ERR_SESSION_CONTENDED', `gave up after ${MAX_ATTEMPTS} conflicting writes`);
  }

  async list(userId: string): Promise<SessionInfo[]> {
    const { store, o } = this.env;
    const members = await store.indexMembers(keys.user(userId));
    const now = o.now();
    const out: SessionInfo[] = [];
    await Promise.all(
      members.map(async ({ member }) => {
        const found = await store.get(keys.session(member));
        const rec = found && parse(found, member);
        if (!rec || rec.u !== userId || timedOut(rec, now, o.idle, o.absolute)) {
          await store.indexRemove(keys.user(userId), member);
          return;
        }
        out.push({ handle: rec.h, kind: 'cookie', createdAt: rec.c, lastSeenAt: rec.s, userAgent: rec.a });
      }),
    );
    return out.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  }

  async revoke(handle: string, userId?: string): Promise<boolean> {
    const found = await this.env.store.get(keys.session(handle));
    return this.end(handle, found, (rec) => userId === undefined || rec.u === userId);
  }

  async revokeAll(userId: string): Promise<number> {
    const { store } = this.env;
    const members = await store.indexMembers(keys.user(userId));
    let n = 0;
    await Promise.all(
      members.map(async ({ member }) => {
        const found = await store.get(keys.session(member));
        if (await this.end(member, found, (rec) => rec.u === userId)) n++;
        // Not a live session of the user (gone, or bound to another since): its entry goes.
        else await store.indexRemove(keys.user(userId), member);
      }),
    );
    return n;
  }
}

/** The handle is the record's key, so it is not repeated inside the stored JSON. */
export function parse(found: StoredRecord, handle: string): Stored | null {
  try {
    const x: unknown = JSON.parse(found.value);
    if (!x || typeof x !== 'object') return null;
    (x as Stored).h = handle;
    return isRecord(x) && typeof (x as Stored).k === 'string' ? (x as Stored) : null;
  } catch {
    return null;
  }
}

/** The one key an `update` changes. */
function only(key: string): Changed {
  return { has: (k) => k === key, size: 1 };
}

function serialize(rec: Stored): string {
  const { h: _handle, ...rest } = rec;
  return JSON.stringify(rest);
}

class RecordSession extends BaseSession {
  private destroyed = false;

  constructor(
    private readonly env: Env,
    private readonly strategy: RecordStrategy,
    cookie: CookieSettings,
    rec: Stored | null,
    private version: number,
    /** The secret of the id this request holds; null while the session is unsaved. */
    private secret: string | null,
    private readonly userAgent: string | undefined,
    /** The Store's value at `version` (what `rec` was parsed from): writes send what differs from it. */
    private text: string,
    presented = false,
    degraded = false,
  ) {
    super(rec, cookie, presented, degraded);
    this.sentSecret = secret;
    // Every field exists by now; Object.defineProperty of a new name fails too (sealed-session.ts).
    Object.preventExtensions(this);
  }

  /** The secret the client holds (the one it sent, then the last one we set). */
  private sentSecret: string | null;
  /** `hybrid`: the record version the client holds (its version cookie, then the last one we set). */
  sentVersion = 0;

  private get stored(): Stored | null {
    return this.rec as Stored | null;
  }

  get isNew(): boolean {
    return this.rec === null;
  }

  private ttl(rec: SessionRecord, now: number): number {
    return Math.max(1, Math.min(this.env.o.idle, rec.c + this.env.o.absolute - now));
  }

  /**
   * Re-reads after a conflict (the Store holds `seen` or newer); null when the session is gone or
   * this request's id is no longer valid.
   */
  private async refresh(seen: number): Promise<Stored | null> {
    const found = await read(this.env, this.rec!.h, seen);
    const rec = found && parse(found, this.rec!.h);
    if (!found || !rec || !this.secret) return null;
    const v = verifierOf(this.secret);
    if (rec.k !== v && !(rec.p === v && (rec.q ?? 0) > this.env.o.now())) return null;
    this.rec = rec;
    this.version = found.version;
    this.text = found.value;
    return rec;
  }

  private ended(): StatelineError {
    this.rec = null;
    this.secret = null;
    this.dirty.clear();
    return new StatelineError(
      'SL_ERR_SESSION_ENDED',
      'the session was ended (logged out, revoked or expired) while this request ran',
    );
  }

  /**
   * Writes `next(rec)` with compare-and-set, re-reading and re-applying on conflict; `null` stops.
   * `changed`: the keys of `d` that `next` sets or deletes (the rest are copied from the loaded text).
   */
  private async casLoop(next: (rec: Stored) => Stored | null, changed: Changed): Promise<void> {
    const { store, metrics } = this.env;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const cur = this.stored!;
      const want = next(cur);
      if (!want) return;
      const text =
        (this.text.length >= REWRITE_MIN && rewriteRecord(this.text, cur, want, changed)) || serialize(want);
      const res = await store.update(keys.session(cur.h), text, {
        ifVersion: this.version,
        ttl: this.ttl(want, this.env.o.now()),
        previous: this.text,
      });
      if (res.ok) {
        this.rec = want;
        this.version = res.version;
        this.text = text;
        return;
      }
      if (res.reason === 'missing' || !(await this.refresh(res.version))) throw this.ended();
      metrics.conflictsResolved++;
    }
    throw new StatelineError('SL_ERR_SESSION_CONTENDED', `gave up after ${MAX_ATTEMPTS} conflicting writes`);
  }

  /** Saves a new session (with pending changes) under a fresh handle and secret. */
  private async create(userId: string | null): Promise<void> {
    const { store, o } = this.env;
    const now = o.now();
    const secret = randomId();
    const rec: Stored = { ...newRecord(randomId(), now, this.userAgent), u: userId, k: verifierOf(secret) };
    if (userId) rec.l = now;
    rec.d = this.withChanges(rec.d);
    const text = serialize(rec);
    const res = await store.create(keys.session(rec.h), text, { ttl: this.ttl(rec, now) });
    if (!res.ok) throw new StatelineError('SL_ERR_INTERNAL', 'a fresh session handle collided');
    this.rec = rec;
    this.version = res.version;
    this.text = text;
    this.secret = secret;
    this.dirty.clear();
    this.destroyed = false;
    this.env.metrics.created++;
    if (userId) await store.indexAdd(keys.user(userId), rec.h, rec.c + o.absolute);
  }

  async update<T = unknown>(key: string, fn: (current: T | undefined) => T): Promise<T> {
    this.reopen();
    if (this.degraded)
      throw new StatelineError(
        'SL_ERR_STORE_UNAVAILABLE',
        'the session is degraded (the store was unreachable)',
      );
    if (!this.rec) {
      const value = fn(this.current(key, undefined) as T | undefined);
      this.set(key, value);
      await this.create(null);
      return value;
    }
    let result!: T;
    await this.casLoop((rec) => {
      result = fn(this.current(key, rec.d) as T | undefined);
      const next: Stored = { ...rec, d: this.setIn(rec.d, key, result) };
      // The write refreshes the expiry anyway; a touch that is due goes with it, not after it.
      const now = this.env.o.now();
      if (this.touchDue(rec, now)) next.s = now;
      return next;
    }, only(key));
    this.dirty.delete(key);
    return result;
  }

  /** Binds to `userId` (or keeps the user) under a brand-new secret; the old id dies at once. */
  private async reissue(userId: string | null): Promise<void> {
    this.reopen();
    if (!this.rec) return this.create(userId);
    const { store, o } = this.env;
    const secret = randomId();
    const before = this.rec.u;
    await this.casLoop((rec) => {
      const next: Stored = {
        ...rec,
        d: this.withChanges(rec.d),
        u: userId,
        i: o.now(),
        k: verifierOf(secret),
      };
      delete next.p;
      delete next.q;
      // A new binding starts a new login; the same user keeps theirs (a revocation still covers it).
      if (userId && userId !== rec.u) next.l = next.i;
      else if (!userId) delete next.l;
      return next;
    }, this.dirty);
    this.secret = secret;
    this.dirty.clear();
    this.env.metrics.renewed++;
    if (before && before !== userId) await store.indexRemove(keys.user(before), this.rec.h);
    if (userId) await store.indexAdd(keys.user(userId), this.rec.h, this.rec.c + o.absolute);
  }

  login(userId: string): Promise<void> {
    return this.reissue(checkUserId(userId));
  }

  regenerate(): Promise<void> {
    return this.reissue(this.rec?.u ?? null);
  }

  async destroy(): Promise<void> {
    this.reopen();
    // Ends the id this request holds: a session re-issued under another secret since is not ended.
    const verifier = this.secret && verifierOf(this.secret);
    const found = { value: this.text, version: this.version, expiresAt: null };
    if (
      this.rec &&
      verifier &&
      (await this.strategy.end(
        this.rec.h,
        found,
        (rec) => rec.k === verifier || (rec.p === verifier && (rec.q ?? 0) > this.env.o.now()),
      ))
    )
      this.env.metrics.revoked++;
    this.rec = null;
    this.secret = null;
    this.dirty.clear();
    this.destroyed = true;
  }

  /** Last-seen is older than `touchAfter`: the next write refreshes it (or a commit writes for it). */
  private touchDue(rec: SessionRecord, now: number): boolean {
    return now - rec.s >= this.env.o.touchAfter;
  }

  private renewalDue(rec: SessionRecord, now: number): boolean {
    return now - rec.i > this.env.o.renewal;
  }

  protected doCommitNow(): CommitResult | undefined {
    if (this.degraded) return { setCookie: [] };
    const rec = this.rec;
    const now = this.env.o.now();
    if (this.dirty.size > 0 || (rec !== null && (this.renewalDue(rec, now) || this.touchDue(rec, now))))
      return undefined;
    return this.answer();
  }

  protected async doCommit(): Promise<CommitResult> {
    const done = this.doCommitNow();
    if (done !== undefined) return done;
    const { o } = this.env;
    if (!this.rec && this.dirty.size > 0) await this.create(null);
    if (this.rec) {
      const now = o.now();
      const renew = this.renewalDue(this.rec, now);
      const needed = this.dirty.size > 0 || renew;
      if (needed || this.touchDue(this.rec, now)) {
        const fresh = renew ? randomId() : null;
        let first = true;
        await this.casLoop((rec) => {
          // A refresh-only write that lost a race has nothing left to do: the winner refreshed too.
          if (!first && !needed) return null;
          first = false;
          const next: Stored = { ...rec, d: this.withChanges(rec.d), s: now };
          if (fresh && rec.k === verifierOf(this.secret!))
            Object.assign(next, { k: verifierOf(fresh), p: rec.k, q: now + o.grace, i: now });
          return next;
        }, this.dirty).catch((err: unknown) => {
          if (!needed && err instanceof StatelineError && err.code === 'SL_ERR_SESSION_ENDED') return;
          throw err;
        });
        if (fresh && this.stored?.k === verifierOf(fresh)) this.secret = fresh;
        this.dirty.clear();
      }
    }
    return this.answer();
  }

  /** What the response carries once the record is saved: the cookies that changed. */
  private answer(): CommitResult {
    const changed = this.secret !== this.sentSecret;
    this.sentSecret = this.secret;
    if (this.rec) {
      const out = changed ? [this.cookieFor()] : [];
      if (this.env.near && this.version !== this.sentVersion) out.push(this.versionCookie());
      this.sentVersion = this.version;
      return { setCookie: out };
    }
    const clear = this.destroyed || this.presented;
    this.presented = false;
    this.destroyed = false;
    const out = clear ? [clearCookie(this.cookieSettings)] : [];
    if (this.env.near && (clear || this.sentVersion > 0))
      out.push(clearCookie(versionSettings(this.cookieSettings)));
    this.sentVersion = 0;
    return { setCookie: out };
  }

  /** `hybrid`: the version this answer shows, so the client's next read on any instance is no older. */
  private versionCookie(): string {
    const rec = this.rec!;
    return setCookie(
      versionSettings(this.cookieSettings),
      String(this.version),
      rec.c + this.env.o.absolute - this.env.o.now(),
    );
  }

  private cookieFor(): string {
    const rec = this.rec!;
    const id = `${rec.h}.${this.secret}`;
    return setCookie(
      this.cookieSettings,
      `${id}.${this.env.o.ring.sign(id)}`,
      rec.c + this.env.o.absolute - this.env.o.now(),
    );
  }
}

sealSessionClass(RecordSession);
