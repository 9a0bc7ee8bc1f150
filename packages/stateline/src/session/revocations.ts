import type { Bus } from '../bus/types.js';
import type { Store } from '../store/types.js';
import type { SessionRecord } from './record.js';

const CHANNEL = 'session-revocations';
const DENIED = 'revoked:sessions';
const USERS = 'revoked:users';
/** While the Bus is down, re-read this often so revocations still land within a second. */
const FAST_SYNC_MS = 500;

/**
 * The token strategy's revocations: per-session deny entries and a per-user "valid after" time.
 * The Store is authoritative; the Bus pushes changes to every instance at once; each instance
 * keeps both in memory so checking a token costs no round trip, and re-reads the Store every
 * `syncEvery` ms (every 500 ms while the Bus is down) so a missed message is repaired quickly.
 */
export class Revocations {
  private denied = new Map<string, number>();
  private validAfter = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private offConnection: (() => void) | undefined;
  private busUp = true;
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly now: () => number,
    private readonly syncEvery: number,
    private readonly lifetime: number,
  ) {}

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
      if (kind === 'd') this.denied.set(who, at);
      else if (kind === 'v') this.validAfter.set(who, Math.max(at, this.validAfter.get(who) ?? 0));
    } catch {
      // Not ours or malformed: the periodic sync is the source of truth anyway.
    }
  }

  /** Re-reads both lists from the Store (one call at a time). */
  sync(): Promise<void> {
    this.syncing ??= (async () => {
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
        this.denied = d;
        this.validAfter = v;
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  /** True when the token's session was revoked, alone or with all of its user's sessions. */
  isRevoked(rec: SessionRecord): boolean {
    const until = this.denied.get(rec.h);
    if (until !== undefined && until > this.now()) return true;
    return rec.u !== null && (this.validAfter.get(rec.u) ?? -Infinity) >= rec.c;
  }

  /** Denies one session until `expiresAt` (when its token would have expired anyway). */
  async deny(handle: string, expiresAt: number): Promise<void> {
    await this.store.indexAdd(DENIED, handle, expiresAt);
    this.denied.set(handle, expiresAt);
    await this.bus.publish(CHANNEL, JSON.stringify(['d', handle, expiresAt])).catch(() => {});
  }

  /** Every session of `userId` created at or before now is refused. */
  async revokeUser(userId: string): Promise<void> {
    const at = this.now();
    await this.store.indexAdd(USERS, JSON.stringify([userId, at]), at + this.lifetime);
    this.validAfter.set(userId, Math.max(at, this.validAfter.get(userId) ?? 0));
    await this.bus.publish(CHANNEL, JSON.stringify(['v', userId, at])).catch(() => {});
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.offConnection?.();
    await this.unsubscribe?.().catch(() => {});
  }
}
