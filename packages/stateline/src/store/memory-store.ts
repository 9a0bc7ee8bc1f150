import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import type {
  CreateOptions,
  CreateResult,
  IndexEntry,
  MemoryStoreOptions,
  Store,
  StoredRecord,
  UpdateOptions,
  UpdateResult,
} from './types.js';

const SWEEP_EVERY_MS = 30_000;

/** A Store in this process's memory: for tests and single-process apps. Nothing is shared. */
export class MemoryStore implements Store {
  readonly backend = 'memory' as const;
  private readonly records = new Map<string, StoredRecord>();
  private readonly indexes = new Map<string, Map<string, number | null>>();
  private readonly now: () => number;
  private readonly prefix: string;
  private readonly guard: CallGuard;
  private readonly sweeper: NodeJS.Timeout;
  private readonly maxEntries: number;

  constructor(options: Omit<MemoryStoreOptions, 'type'> = {}) {
    this.now = options.now ?? Date.now;
    this.prefix = options.prefix ?? 'sl:';
    this.guard = new CallGuard('SL_ERR_STORE_UNAVAILABLE', 'memory store', options.timeout ?? 2000);
    this.maxEntries = options.maxEntries ?? Infinity;
    if (!(this.maxEntries > 0))
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'maxEntries must be a positive integer');
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  private live(key: string): StoredRecord | null {
    const k = this.prefix + key;
    const rec = this.records.get(k);
    if (!rec) return null;
    if (rec.expiresAt !== null && rec.expiresAt <= this.now()) {
      this.records.delete(k);
      return null;
    }
    if (this.maxEntries !== Infinity) {
      // Map keeps insertion order: re-inserting marks the record as most recently used.
      this.records.delete(k);
      this.records.set(k, rec);
    }
    return rec;
  }

  private put(key: string, rec: StoredRecord): void {
    const k = flat(this.prefix + key);
    rec.value = flat(rec.value);
    this.records.delete(k);
    this.records.set(k, rec);
    if (this.records.size > this.maxEntries) {
      const oldest = this.records.keys().next();
      if (!oldest.done) this.records.delete(oldest.value);
    }
  }

  private expiry(ttl: number | null | undefined): number | null {
    return ttl === undefined || ttl === null ? null : this.now() + ttl;
  }

  get(key: string): Promise<StoredRecord | null> {
    return this.guard.run('get', () => {
      const rec = this.live(key);
      return rec ? { ...rec } : null;
    });
  }

  create(key: string, value: string, options: CreateOptions = {}): Promise<CreateResult> {
    return this.guard.run('create', (): CreateResult => {
      if (this.live(key)) return { ok: false, reason: 'exists' };
      this.put(key, { value, version: 1, expiresAt: this.expiry(options.ttl) });
      return { ok: true, version: 1 };
    });
  }

  update(key: string, value: string, options: UpdateOptions = {}): Promise<UpdateResult> {
    return this.guard.run('update', (): UpdateResult => {
      const rec = this.live(key);
      if (!rec) return { ok: false, reason: 'missing' };
      if (options.ifVersion !== undefined && options.ifVersion !== rec.version) {
        return { ok: false, reason: 'conflict', version: rec.version };
      }
      const version = rec.version + 1;
      const expiresAt = options.ttl === undefined ? rec.expiresAt : this.expiry(options.ttl);
      this.put(key, { value, version, expiresAt });
      return { ok: true, version };
    });
  }

  delete(key: string): Promise<boolean> {
    return this.guard.run('delete', () => this.live(key) !== null && this.records.delete(this.prefix + key));
  }

  touch(key: string, ttl: number | null): Promise<boolean> {
    return this.guard.run('touch', () => {
      const rec = this.live(key);
      if (!rec) return false;
      rec.expiresAt = this.expiry(ttl);
      return true;
    });
  }

  indexAdd(owner: string, member: string, expiresAt: number | null): Promise<void> {
    return this.guard.run('indexAdd', () => {
      let index = this.indexes.get(this.prefix + owner);
      if (!index) this.indexes.set(this.prefix + owner, (index = new Map()));
      index.set(member, expiresAt);
    });
  }

  indexMembers(owner: string): Promise<IndexEntry[]> {
    return this.guard.run('indexMembers', () => {
      const index = this.indexes.get(this.prefix + owner);
      if (!index) return [];
      const now = this.now();
      const out: IndexEntry[] = [];
      for (const [member, expiresAt] of index) {
        if (expiresAt !== null && expiresAt <= now) index.delete(member);
        else out.push({ member, expiresAt });
      }
      if (index.size === 0) this.indexes.delete(this.prefix + owner);
      return out;
    });
  }

  indexRemove(owner: string, member: string): Promise<void> {
    return this.guard.run('indexRemove', () => {
      const index = this.indexes.get(this.prefix + owner);
      index?.delete(member);
      if (index?.size === 0) this.indexes.delete(this.prefix + owner);
    });
  }

  /**
   * Copies a record in as it is (value, version, expiry), unless this store already holds a newer
   * version. For replication: a replica must carry its owner's version, not start over at 1.
   */
  restore(key: string, rec: StoredRecord): boolean {
    const cur = this.live(key);
    if (cur && cur.version > rec.version) return false;
    if (rec.expiresAt !== null && rec.expiresAt <= this.now()) return false;
    this.put(key, { ...rec });
    return true;
  }

  /** The live record without touching recency, for replication. */
  peek(key: string): StoredRecord | null {
    const rec = this.records.get(this.prefix + key);
    return rec && (rec.expiresAt === null || rec.expiresAt > this.now()) ? { ...rec } : null;
  }

  /** Number of records held (expired ones not yet swept included). */
  get size(): number {
    return this.records.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, rec] of this.records)
      if (rec.expiresAt !== null && rec.expiresAt <= now) this.records.delete(key);
  }

  async close(): Promise<void> {
    this.guard.close();
    clearInterval(this.sweeper);
  }
}

/**
 * Strings built by concatenation or JSON.stringify are trees of pieces in V8; a number
 * conversion makes V8 copy them into one flat string, which is about half the memory when a
 * process holds 100,000 of them.
 */
function flat(s: string): string {
  void (Number(s) | 0);
  return s;
}
