import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { StatelineError } from '../errors.js';
import { randomId } from '../session/key-ring.js';
import type { SessionFamilies } from '../session/host.js';
import type { Revocations } from '../session/revocations.js';
import type { SessionInfo } from '../session/types.js';
import type { Store } from '../store/types.js';
import type { TokenMetrics, TokensLogger } from './types.js';

/** A family as the Store keeps it: only hashes of its secrets, never a usable token. */
interface FamilyRecord {
  /** User. */
  u: string;
  /** Began at (ms). */
  c: number;
  /** Last refreshed at (ms). */
  s: number;
  /** User agent at issue. */
  a: string | null;
  /** Granted scopes. */
  sc: string[];
  /** SHA-256 of the lineage secret every token of the family carries. */
  l: string;
  /** SHA-256 of the current token's own secret. */
  r: string;
  /** When the current refresh token expires (ms). */
  x: number;
}

/** A family after `start` or `rotate`: what the access token and the client's new refresh token need. */
export interface Rotated {
  handle: string;
  userId: string;
  scopes: string[];
  since: number;
  refreshToken: string;
}

const MAX_UA = 200;
/** `<handle>.<lineage>.<secret>`, each 128 random bits in base64url. */
const REFRESH_RE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/;
const MAX_ATTEMPTS = 8;
/** How long after a rotation its retry (same token, same retry key) is answered again. */
const RETRY_WINDOW_MS = 60_000;

const key = (handle: string) => `tfam:${handle}`;
const index = (userId: string) => `tfams:${userId}`;
const digest = (secret: string) => createHash('sha256').update(secret).digest('base64url');
const same = (a: string, b: string) => timingSafeEqual(Buffer.from(a), Buffer.from(b));

function refreshInvalid(reason: string): StatelineError {
  return new StatelineError('SL_ERR_REFRESH_INVALID', reason);
}

function parse(value: string): FamilyRecord | null {
  try {
    const x = JSON.parse(value) as FamilyRecord;
    return x && typeof x.u === 'string' && typeof x.l === 'string' && typeof x.r === 'string' ? x : null;
  } catch {
    return null;
  }
}

export interface FamiliesOptions {
  store: Store;
  revocations: Revocations;
  metrics: TokenMetrics;
  now: () => number;
  /** ms a refresh token lives. */
  refreshTtl: number;
  /** ms an access token can still be used after its family ends (its lifetime plus clock tolerance). */
  accessWindow: number;
  logger: TokensLogger | undefined;
  /** The same on every instance (from the signing key): derives the successor of a retried refresh. */
  retrySecret: Buffer;
}

/**
 * Refresh-token families in the Store. A family's tokens all carry its lineage secret; each also
 * has its own secret, of which the Store keeps only the hash of the current one. Rotation is a
 * compare-and-set on the family record, so of two refreshes with one token exactly one wins. A token
 * with the family's lineage but not its current secret was issued and rotated already: presenting
 * it is reuse, and the family is revoked (the thief's tokens and the victim's alike).
 */
export class Families implements SessionFamilies {
  constructor(private readonly o: FamiliesOptions) {}

  /** Starts a family for `userId`. */
  async start(userId: string, scopes: string[], userAgent: string | undefined): Promise<Rotated> {
    const { store, now, refreshTtl } = this.o;
    const at = now();
    const handle = randomId();
    const lineage = randomId();
    const secret = randomId();
    const rec: FamilyRecord = {
      u: userId,
      c: at,
      s: at,
      a: userAgent ? userAgent.slice(0, MAX_UA) : null,
      sc: scopes,
      l: digest(lineage),
      r: digest(secret),
      x: at + refreshTtl,
    };
    const res = await store.create(key(handle), JSON.stringify(rec), { ttl: refreshTtl });
    if (!res.ok) throw new StatelineError('SL_ERR_INTERNAL', 'a fresh token family handle collided');
    await store.indexAdd(index(userId), handle, rec.x);
    return { handle, userId, scopes, since: at, refreshToken: `${handle}.${lineage}.${secret}` };
  }

  /** Spends `token` for a new one of the same family; reuse revokes the family. */
  /**
   * With `retryKey` the successor secret is derived (HMAC of the server's retry secret over the
   * presented token and the key) rather than drawn: the rotation it made can then be recognised
   * and answered again, atomically with the rotation itself and with nothing more stored.
   */
  async rotate(token: string, retryKey?: string): Promise<Rotated> {
    const { store, now, refreshTtl, metrics, revocations } = this.o;
    const m = typeof token === 'string' ? REFRESH_RE.exec(token) : null;
    if (!m) throw this.refused('the refresh token is malformed');
    const [, handle, lineage, secret] = m as unknown as [string, string, string, string];
    const presented = digest(secret);
    const next =
      retryKey === undefined
        ? randomId()
        : createHmac('sha256', this.o.retrySecret)
            .update(`${handle}.${lineage}.${secret}\0${retryKey}`)
            .digest()
            .subarray(0, 16)
            .toString('base64url');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const found = await store.get(key(handle));
      const rec = found && parse(found.value);
      if (!found || !rec || !same(rec.l, digest(lineage)))
        throw this.refused('the refresh token is unknown, expired or revoked');
      const at = now();
      if (!same(rec.r, presented)) {
        // A retry of the rotation this token and key made: the same successor, nothing written.
        if (retryKey !== undefined && same(rec.r, digest(next)) && at - rec.s <= RETRY_WINDOW_MS) {
          if (at >= rec.x || revocations.isRevoked({ h: handle, u: rec.u, c: rec.c }))
            throw this.refused('the refresh token was revoked');
          return {
            handle,
            userId: rec.u,
            scopes: rec.sc,
            since: rec.c,
            refreshToken: `${handle}.${lineage}.${next}`,
          };
        }
        await this.theft(handle, rec);
        throw this.refused('the refresh token was already used; its family is revoked');
      }
      if (at >= rec.x) throw this.refused('the refresh token expired');
      if (revocations.isRevoked({ h: handle, u: rec.u, c: rec.c })) {
        throw this.refused('the refresh token was revoked');
      }
      const want: FamilyRecord = { ...rec, s: at, r: digest(next), x: at + refreshTtl };
      const res = await store.update(key(handle), JSON.stringify(want), {
        ifVersion: found.version,
        ttl: refreshTtl,
      });
      if (res.ok) {
        await store.indexAdd(index(rec.u), handle, want.x);
        metrics.refreshed++;
        return {
          handle,
          userId: rec.u,
          scopes: rec.sc,
          since: rec.c,
          refreshToken: `${handle}.${lineage}.${next}`,
        };
      }
      if (res.reason === 'missing') throw this.refused('the refresh token is unknown, expired or revoked');
      // Conflict: re-read; if another refresh spent this token, the next pass sees reuse.
    }
    throw new StatelineError(
      'SL_ERR_SESSION_CONTENDED',
      `gave up after ${MAX_ATTEMPTS} conflicting refreshes`,
    );
  }

  private refused(reason: string): StatelineError {
    this.o.metrics.refreshRefused++;
    return refreshInvalid(reason);
  }

  private async theft(handle: string, rec: FamilyRecord): Promise<void> {
    this.o.metrics.reuseDetected++;
    this.o.logger?.warn(
      'stateline/tokens: a rotated refresh token was presented again; its family is revoked',
      {
        handle,
        userId: rec.u,
      },
    );
    await this.end(handle, rec.u);
  }

  /** Refuses the family's access tokens everywhere and deletes the family. */
  private async end(handle: string, userId: string): Promise<void> {
    const { store, revocations, now, accessWindow } = this.o;
    await revocations.deny(handle, now() + accessWindow);
    await store.delete(key(handle));
    await store.indexRemove(index(userId), handle);
  }

  async list(userId: string): Promise<SessionInfo[]> {
    const { store, revocations, now } = this.o;
    const out: SessionInfo[] = [];
    await Promise.all(
      (await store.indexMembers(index(userId))).map(async ({ member }) => {
        const found = await store.get(key(member));
        const rec = found && parse(found.value);
        if (
          !rec ||
          rec.u !== userId ||
          rec.x <= now() ||
          revocations.isRevoked({ h: member, u: rec.u, c: rec.c })
        ) {
          await store.indexRemove(index(userId), member);
          return;
        }
        out.push({ handle: member, kind: 'token', createdAt: rec.c, lastSeenAt: rec.s, userAgent: rec.a });
      }),
    );
    return out;
  }

  async revoke(handle: string, userId?: string): Promise<boolean> {
    if (typeof handle !== 'string' || handle.length !== 22) return false;
    const found = await this.o.store.get(key(handle));
    const rec = found && parse(found.value);
    if (!rec || (userId !== undefined && rec.u !== userId)) return false;
    await this.end(handle, rec.u);
    return true;
  }

  async revokeAll(userId: string): Promise<number> {
    const { store, revocations, accessWindow } = this.o;
    // First: from here on, every access token of a family begun before now is refused everywhere.
    await revocations.revokeUser(userId, accessWindow);
    const members = await store.indexMembers(index(userId));
    let n = 0;
    await Promise.all(
      members.map(async ({ member }) => {
        if (await store.delete(key(member))) n++;
        await store.indexRemove(index(userId), member);
      }),
    );
    return n;
  }
}
