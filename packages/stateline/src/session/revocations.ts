import type { Bus } from '../bus/types.js';
import type { Store } from '../store/types.js';
import type { SessionRecord } from './record.js';

const CHANNEL = 'session-revocations';
const DENIED = 'revoked:sessions';
const USERS = 'revoked:users';
/** While the Bus is down, re-read this often so revocations still land within a second. */
const FAST_SYNC_MS = 500;

/** What was revoked: one session by handle (`'d'`) or every session of a user up to a time (`'v'`). */
export type RevocationListener = (kind: 'd' | 'v', who: string) => void;

/**
 * Revocations of the token and memory strategies: per-session deny entries and a per-user "valid
 * after" time. The Store is authoritative; the Bus pushes changes to every instance at once; each
 * instance keeps both in memory so a check costs no round trip, and re-reads the Store every
 * `syncEvery` ms (every 500 ms while the Bus is down) so a missed message is repaired quickly.
 * With `mirror` (the Store is this process's own, not shared), entries heard on the Bus are
 * written to it too, so the periodic re-read keeps them.
 *
 * @example
 * ```ts
 * const r = new Revocations(store, bus, Date.now, 1000, 8 * 3600_000);
 * await r.start();
 * r.onRevoked((kind, who) => console.log('revoked', kind, who));
 * await r.revokeUser('alice');
 * ```
 */
export class Revocations {
  private denied = new Map<string, number>();
  private validAfter = new Map<string, number>();
  private readonly listeners = new Set<RevocationListener>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private offConnection: (() => void) | undefined;
  private busUp = true;
  private syncing: Promise<void> | undefined;
  /** Entries learnt while a sync read the Store: its older snapshot must not drop them. */
  private late: [kind: 'd' | 'v', who: string, at: number][] | undefined;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly now: () => number,
    private readonly syncEvery: number,
    private readonly lifetime: number,
    private readonly mirror = false,
  ) {}

  /** Calls `listener` for every revocation learnt from the Bus or the Store (not for this instance's own calls). */
  onRevoked(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private notify(kind: 'd' | 'v', who: string): void {
    for (const l of this.listeners) {
      try {
        l(kind, who);
      } catch {
        // A listener's failure must not stop the others; the load-time check still refuses.
      }
    }
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(CHANNEL, (msg) => this.apply(msg));
    this.offConnection = this.bus.onConnectionChange((up) => {
      this.busUp = up;
      this.schedule();
      if (up) void this.sync().catch(() => {});
    });
    await this.sync();
    this.schedule();
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.timer = setInterval(
      () => void this.sync().catch(() => {}),
      this.busUp ? this.syncEvery : Math.min(FAST_SYNC_MS, this.syncEvery),
    );
    this.timer.unref();
  }

  private apply(msg: string): void {
    try {
      const [kind, who, at] = JSON.parse(msg) as [string, string, number];
      if (typeof who !== 'string' || typeof at !== 'number') return;
      if (kind !== 'd' && kind !== 'v') return;
      this.remember(kind, who, at);
      if (this.mirror && kind === 'd') void this.store.indexAdd(DENIED, who, at).catch(() => {});
      if (this.mirror && kind === 'v')
        void this.store.indexAdd(USERS, JSON.stringify([who, at]), at + this.lifetime).catch(() => {});
      this.notify(kind, who);
    } catch {
      // Not ours or malformed: the periodic sync is the source of truth anyway.
    }
  }

  private remember(kind: 'd' | 'v', who: string, at: number): void {
    if (kind === 'd') this.denied.set(who, at);
    else this.validAfter.set(who, Math.max(at, this.validAfter.get(who) ?? 0));
    this.late?.push([kind, who, at]);
  }

  /** Re-reads both lists from the Store (one call at a time). */
  sync(): Promise<void> {
    this.syncing ??= (async () => {
      this.late = [];
      try {
        const [denied, users] = await Promise.all([
          this.store.indexMembers(DENIED),
          this.store.indexMembers(USERS),
        ]);
        const d = new Map<string, number>();
        for (const e of denied) d.set(e.member, e.expiresAt ?? Infinity);
        const v = new Map<string, number>();
        for (const e of users) {
          const [user, at] = JSON.parse(e.member) as [string, number];
          v.set(user, Math.max(at, v.get(user) ?? 0));
        }
        for (const [kind, who, at] of this.late) {
          if (kind === 'd') d.set(who, at);
          else v.set(who, Math.max(at, v.get(who) ?? 0));
        }
        const before = { d: this.denied, v: this.validAfter };
        this.denied = d;
        this.validAfter = v;
        // Revocations whose Bus message this instance missed.
        for (const h of d.keys()) if (!before.d.has(h)) this.notify('d', h);
        for (const [u, at] of v) if (at > (before.v.get(u) ?? -Infinity)) this.notify('v', u);
      } finally {
        this.syncing = undefined;
        this.late = undefined;
      }
    })();
    return this.syncing;
  }

  /**
   * True when the session was revoked, alone or with all of its user's sessions. `since` is when
   * it was bound to its user (default: its creation).
   */
  isRevoked(rec: Pick<SessionRecord, 'h' | 'u' | 'c'>, since = rec.c): boolean {
    const until = this.denied.get(rec.h);
    if (until !== undefined && until > this.now()) return true;
    return rec.u !== null && (this.validAfter.get(rec.u) ?? -Infinity) >= since;
  }

  /** Denies one session until `expiresAt` (when its token would have expired anyway). */
  async deny(handle: string, expiresAt: number): Promise<void> {
    await this.store.indexAdd(DENIED, handle, expiresAt);
    this.remember('d', handle, expiresAt);
    await this.bus.publish(CHANNEL, JSON.stringify(['d', handle, expiresAt])).catch(() => {});
  }

  /**
   * Every session of `userId` created (bound to the user) at or before now is refused. The entry is
   * kept for the revocations' lifetime, or `lifetime` ms when that is longer (credentials that
   * outlive a session, such as bearer access tokens).
   */
  async revokeUser(userId: string, lifetime = 0): Promise<void> {
    const at = this.now();
    await this.store.indexAdd(USERS, JSON.stringify([userId, at]), at + Math.max(this.lifetime, lifetime));
    this.remember('v', userId, at);
    await this.bus.publish(CHANNEL, JSON.stringify(['v', userId, at])).catch(() => {});
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.offConnection?.();
    await this.unsubscribe?.().catch(() => {});
  }
}
