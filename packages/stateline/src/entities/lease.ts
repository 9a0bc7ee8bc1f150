import { StatelineError } from '../errors.js';
import type { Store } from '../store/types.js';
import type { LeaseRecord } from './types.js';

/** The outcome of trying to own a key. */
export type Claim =
  { mine: true; epoch: number; version: number; expiresAt: number } | { mine: false; lease: LeaseRecord };

function parse(value: string): LeaseRecord {
  const v = JSON.parse(value) as LeaseRecord;
  return { owner: v.owner, epoch: v.epoch, expiresAt: v.expiresAt, url: v.url ?? null };
}

/**
 * Leases in the Store, one record per key: `{ owner, epoch, expiresAt, url }`. The record never
 * expires in the Store (only `expiresAt` inside it does), so a key's epoch only ever grows: each
 * new term of ownership, by whichever instance, takes the previous epoch + 1 with a
 * compare-and-set. Expiry is judged by the claiming instance's clock against the owner's.
 */
export class Leases {
  constructor(
    private readonly store: Store,
    private readonly owner: string,
    private readonly url: string | null,
    private readonly ttl: number,
  ) {}

  /** Takes the key when it is free, expired or already ours; else says who holds it. */
  async claim(recordKey: string): Promise<Claim> {
    for (let round = 0; round < 5; round++) {
      const now = Date.now();
      const rec = await this.store.get(recordKey);
      const next = (epoch: number): string =>
        JSON.stringify({
          owner: this.owner,
          epoch,
          expiresAt: now + this.ttl,
          url: this.url,
        } satisfies LeaseRecord);
      if (!rec) {
        const r = await this.store.create(recordKey, next(1));
        if (r.ok) return { mine: true, epoch: 1, version: r.version, expiresAt: now + this.ttl };
        continue;
      }
      const lease = parse(rec.value);
      if (lease.owner !== this.owner && lease.expiresAt > now) return { mine: false, lease };
      const epoch = lease.epoch + 1;
      const r = await this.store.update(recordKey, next(epoch), { ifVersion: rec.version });
      if (r.ok) return { mine: true, epoch, version: r.version, expiresAt: now + this.ttl };
    }
    const rec = await this.store.get(recordKey);
    if (rec) return { mine: false, lease: parse(rec.value) };
    throw new StatelineError('SL_ERR_ENTITY_UNAVAILABLE', `the lease ${recordKey} kept changing`);
  }

  /** Extends a held term; null when the term was lost (another epoch took the record). */
  async renew(
    recordKey: string,
    epoch: number,
    version: number,
  ): Promise<{ version: number; expiresAt: number } | null> {
    const expiresAt = Date.now() + this.ttl;
    const value = JSON.stringify({
      owner: this.owner,
      epoch,
      expiresAt,
      url: this.url,
    } satisfies LeaseRecord);
    const r = await this.store.update(recordKey, value, { ifVersion: version });
    return r.ok ? { version: r.version, expiresAt } : null;
  }

  /** Ends a held term now, so the next claimant need not wait for expiry. */
  async release(recordKey: string, epoch: number, version: number): Promise<void> {
    const value = JSON.stringify({ owner: this.owner, epoch, expiresAt: 0, url: null } satisfies LeaseRecord);
    await this.store.update(recordKey, value, { ifVersion: version });
  }
}
