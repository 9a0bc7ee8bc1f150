/**
 * Sealed legacy cookies (iron-session) that were taken over, kept in a Stateline Store until they
 * would have expired, so a replayed copy opens nothing. The seal itself cannot be revoked.
 */
import { createHash } from 'node:crypto';
import { createStore } from '../store/index.js';
import type { Store, StoreSpec } from '../store/types.js';

const KEY = 'migrate:retired:';

/** Remembers taken-over seals by their hash (never the seal itself). */
export class RetiredSeals {
  private opened: Promise<Store> | undefined;

  constructor(private readonly given: StoreSpec | Store) {}

  /** True when `seal` was taken over before. */
  async has(seal: string): Promise<boolean> {
    return (await (await this.store()).get(KEY + digest(seal))) !== null;
  }

  /** Records `seal` as taken over until `until` (epoch ms; null: for good). Idempotent. */
  async add(seal: string, until: number | null): Promise<void> {
    const ttl = until === null ? null : Math.max(1, until - Date.now());
    await (await this.store()).create(KEY + digest(seal), '1', { ttl });
  }

  /** Closes the Store this opened from a spec; a Store given is its owner's to close. */
  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened && !isStore(this.given)) await opened.then((s) => s.close()).catch(() => {});
  }

  private store(): Promise<Store> {
    if (isStore(this.given)) return Promise.resolve(this.given);
    if (!this.opened) {
      const opening = createStore(this.given);
      opening.catch(() => {
        if (this.opened === opening) this.opened = undefined;
      });
      this.opened = opening;
    }
    return this.opened;
  }
}

function isStore(x: StoreSpec | Store): x is Store {
  return typeof x === 'object' && x !== null && typeof (x as Partial<Store>).get === 'function';
}

function digest(seal: string): string {
  return createHash('sha256').update(seal).digest('base64url');
}
