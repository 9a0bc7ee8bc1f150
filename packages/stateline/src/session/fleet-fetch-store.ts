import { ForwardingStore } from '../store/decorators/forwarding-store.js';
import type { MemoryStore } from '../store/memory-store.js';
import type { StoredRecord } from '../store/types.js';
import type { MemoryFleet } from './memory-fleet.js';

const SESSION_KEY = /^sess:([A-Za-z0-9_-]{22})$/;

/**
 * A `memory` reader's records (`fromStateline` of a configuration without replication): what this
 * process does not hold is asked of the instances still running that configuration, over the
 * fleet's channel, and kept here once found.
 *
 * @example
 * ```ts
 * const records = new FleetFetchStore(new MemoryStore(), fleet);
 * await records.get('sess:' + handle); // from a peer when it is not here
 * ```
 */
export class FleetFetchStore extends ForwardingStore<MemoryStore> {
  /** Records a peer handed over. */
  fetched = 0;

  constructor(
    local: MemoryStore,
    private readonly fleet: MemoryFleet,
  ) {
    super(local);
  }

  override async get(key: string): Promise<StoredRecord | null> {
    const here = await this.inner.get(key);
    const m = here ? null : SESSION_KEY.exec(key);
    if (!m) return here;
    const remote = await this.fleet.fetch(m[1]!);
    if (!remote || !this.inner.restore(key, remote)) return null;
    this.fetched++;
    return this.inner.get(key);
  }
}
