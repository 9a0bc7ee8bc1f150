import type {
  CreateOptions,
  CreateResult,
  IndexEntry,
  Store,
  StoreBackend,
  StoredRecord,
  UpdateOptions,
  UpdateResult,
} from '../types.js';

/**
 * A Store that hands every call to the Store it wraps: the base of the Store decorators
 * ({@link NearCacheStore}, `ReplicatedStore`), each of which overrides only the calls it changes.
 * A decorator does not own the Store it wraps: `close()` releases the decorator's own resources
 * and leaves the inner Store open for its owner to close.
 *
 * @example
 * ```ts
 * import { ForwardingStore, MemoryStore } from 'stateline/store';
 * class CountingStore extends ForwardingStore {
 *   reads = 0;
 *   override get(key: string) {
 *     this.reads++;
 *     return super.get(key);
 *   }
 * }
 * const store = new CountingStore(new MemoryStore());
 * ```
 */
export class ForwardingStore<S extends Store = Store> implements Store {
  constructor(protected readonly inner: S) {}

  get backend(): StoreBackend {
    return this.inner.backend;
  }

  get(key: string): Promise<StoredRecord | null> {
    return this.inner.get(key);
  }

  create(key: string, value: string, options?: CreateOptions): Promise<CreateResult> {
    return this.inner.create(key, value, options);
  }

  update(key: string, value: string, options?: UpdateOptions): Promise<UpdateResult> {
    return this.inner.update(key, value, options);
  }

  delete(key: string): Promise<boolean> {
    return this.inner.delete(key);
  }

  touch(key: string, ttl: number | null): Promise<boolean> {
    return this.inner.touch(key, ttl);
  }

  indexAdd(owner: string, member: string, expiresAt: number | null): Promise<void> {
    return this.inner.indexAdd(owner, member, expiresAt);
  }

  indexMembers(owner: string): Promise<IndexEntry[]> {
    return this.inner.indexMembers(owner);
  }

  indexRemove(owner: string, member: string): Promise<void> {
    return this.inner.indexRemove(owner, member);
  }

  /** Releases what the decorator holds of its own; the inner Store stays open. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
