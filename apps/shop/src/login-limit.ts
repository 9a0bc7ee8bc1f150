import { createHash } from 'node:crypto';
import type { Store } from 'stateline/store';

/** Failed logins allowed per (username, client address) within {@link WINDOW_MS}. */
export const MAX_FAILURES = 10;
export const WINDOW_MS = 60_000;
const CAS_ATTEMPTS = 20;

/**
 * Failed-login counting in the Store, so the limit holds whichever instance a try lands on. One
 * record per (username, address) with a TTL of one window from the first failure; a record at
 * {@link MAX_FAILURES} refuses every login of that pair until it expires.
 *
 * @example
 * ```ts
 * const limit = new LoginLimit(store);
 * const wait = await limit.blockedFor('alice', '203.0.113.9'); // 0, or seconds to wait
 * if (!ok) await limit.recordFailure('alice', '203.0.113.9');
 * ```
 */
export class LoginLimit {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  private key(username: string, address: string): string {
    // Hashed: both parts come from the client and must not reach the Store unbounded.
    return `shop:login-fail:${createHash('sha256').update(`${username}\0${address}`).digest('base64url')}`;
  }

  /** Seconds until this pair may try again, or 0 when it may try now. */
  async blockedFor(username: string, address: string): Promise<number> {
    const rec = await this.store.get(this.key(username, address));
    if (!rec || Number(rec.value) < MAX_FAILURES) return 0;
    const left = rec.expiresAt === null ? WINDOW_MS : rec.expiresAt - this.now();
    return Math.max(1, Math.ceil(left / 1000));
  }

  /** Counts one failure (compare-and-set, so concurrent failures on several instances all count). */
  async recordFailure(username: string, address: string): Promise<void> {
    const key = this.key(username, address);
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      if ((await this.store.create(key, '1', { ttl: WINDOW_MS })).ok) return;
      const rec = await this.store.get(key);
      if (!rec) continue;
      const res = await this.store.update(key, String(Number(rec.value) + 1), { ifVersion: rec.version });
      if (res.ok) return;
    }
  }
}
