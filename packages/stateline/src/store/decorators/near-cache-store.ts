import { randomUUID } from 'node:crypto';
import type { Bus } from '../../bus/types.js';
import type {
  CreateOptions,
  CreateResult,
  Store,
  StoredRecord,
  UpdateOptions,
  UpdateResult,
} from '../types.js';
import { ForwardingStore } from './forwarding-store.js';

export interface NearCacheOptions {
  /** Most records kept in process (default 10,000; least recently used go first). */
  size?: number;
  /** Bus channel for invalidations (default `'near-cache'`). */
  channel?: string;
  /** A cached record is re-read after this many ms even without an invalidation (default 10,000). */
  maxAge?: number;
  now?: () => number;
}

interface Entry {
  rec: StoredRecord;
  at: number;
}

/** The reads and writes of one key in flight; `stale` once the key changed while they ran. */
interface Flight {
  n: number;
  stale: boolean;
}

/**
 * A Store decorator: reads are served from a bounded in-process cache, writes go to the
 * inner Store (compare-and-set included) and publish an invalidation on the Bus so every other
 * instance drops its copy. A stale copy can never win a write: the inner Store checks versions.
 * While the Bus is down the cache is emptied and bypassed.
 *
 * Invalidations arrive asynchronously, so another instance's copy may be older than a write that
 * was already answered. A reader that knows the version it must see passes it to `get(key,
 * minVersion)`: an older copy is then bypassed and re-read (the hybrid session strategy carries
 * that version in a cookie: read-your-writes on every instance). A read or write that raced an
 * invalidation or a write of the same key never fills the cache.
 *
 * @example
 * ```ts
 * const store = await NearCacheStore.open(await createStore('redis://127.0.0.1:6379'), await createBus('redis://127.0.0.1:6379'));
 * ```
 */
export class NearCacheStore extends ForwardingStore {
  private readonly cache = new Map<string, Entry>();
  private readonly origin = randomUUID();
  private connected = true;
  /** Bumped when the Bus connection changes: no read that raced it fills the cache. */
  private generation = 0;
  /** Per key: reads and writes in flight, marked stale by a write or an invalidation of that key. */
  private readonly flights = new Map<string, Flight>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private offConnection: (() => void) | undefined;
  private readonly size: number;
  private readonly maxAge: number;
  private readonly now: () => number;
  private readonly channel: string;

  private constructor(
    inner: Store,
    private readonly bus: Bus,
    options: NearCacheOptions,
  ) {
    super(inner);
    this.size = options.size ?? 10_000;
    this.maxAge = options.maxAge ?? 10_000;
    this.now = options.now ?? Date.now;
    this.channel = options.channel ?? 'near-cache';
  }

  /** Reads answered from the cache, for metrics. */
  hits = 0;
  /** Reads that went to the inner Store, for metrics. */
  misses = 0;

  /** Number of records held in process, for metrics and tests. */
  get cached(): number {
    return this.cache.size;
  }

  static async open(inner: Store, bus: Bus, options: NearCacheOptions = {}): Promise<NearCacheStore> {
    const s = new NearCacheStore(inner, bus, options);
    s.offConnection = bus.onConnectionChange((up) => {
      s.connected = up;
      s.generation++;
      s.cache.clear();
    });
    s.unsubscribe = await bus.subscribe(s.channel, (msg) => {
      const sep = msg.indexOf(' ');
      if (msg.slice(0, sep) === s.origin) return;
      s.drop(msg.slice(sep + 1));
    });
    return s;
  }

  private remember(key: string, rec: StoredRecord): void {
    if (!this.connected) return;
    this.cache.delete(key);
    this.cache.set(key, { rec, at: this.now() });
    if (this.cache.size > this.size) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
  }

  /** Joins (or starts) the key's flight. */
  private board(key: string): Flight {
    let f = this.flights.get(key);
    if (!f) this.flights.set(key, (f = { n: 0, stale: false }));
    f.n++;
    return f;
  }

  private land(key: string, f: Flight): void {
    if (--f.n === 0 && this.flights.get(key) === f) this.flights.delete(key);
  }

  /** The key changed: forget the copy, and nothing in flight for it may fill the cache. */
  private drop(key: string): void {
    this.cache.delete(key);
    const f = this.flights.get(key);
    if (f) {
      f.stale = true;
      this.flights.delete(key);
    }
  }

  private invalidate(key: string): void {
    this.drop(key);
    // At-most-once: a lost invalidation is bounded by maxAge, and a lost connection empties every cache.
    this.bus.publish(this.channel, `${this.origin} ${key}`).catch(() => {
      this.generation++;
    });
  }

  /**
   * The record; from the cache when the copy is live, fresh enough, and at least `minVersion`
   * (a version the caller already saw), else from the inner Store.
   *
   * @example
   * ```ts
   * const rec = await near.get('session:abc', versionTheClientWasAnsweredWith);
   * ```
   */
  override async get(key: string, minVersion = 0): Promise<StoredRecord | null> {
    const hit = this.cache.get(key);
    const now = this.now();
    if (
      hit &&
      hit.rec.version >= minVersion &&
      (hit.rec.expiresAt === null || hit.rec.expiresAt > now) &&
      now - hit.at < this.maxAge
    ) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      this.hits++;
      return { ...hit.rec };
    }
    this.misses++;
    if (hit) this.cache.delete(key);
    const gen = this.generation;
    const f = this.board(key);
    let rec: StoredRecord | null;
    try {
      rec = await this.inner.get(key);
    } finally {
      this.land(key, f);
    }
    if (rec && !f.stale && gen === this.generation) this.remember(key, rec);
    return rec;
  }

  override async create(key: string, value: string, options?: CreateOptions): Promise<CreateResult> {
    const res = await this.inner.create(key, value, options);
    if (res.ok)
      this.remember(key, { value, version: res.version, expiresAt: expiry(options?.ttl, null, this.now()) });
    return res;
  }

  override async update(key: string, value: string, options: UpdateOptions = {}): Promise<UpdateResult> {
    const before = this.cache.get(key);
    this.cache.delete(key);
    const gen = this.generation;
    const f = this.board(key);
    let res: UpdateResult;
    // Another write of this key may have landed while this one ran (an invalidation, a concurrent
    // update here): then what this one wrote may already be old, so it is not kept.
    let clean = false;
    try {
      res = await this.inner.update(key, value, options);
    } finally {
      this.land(key, f);
      clean = !f.stale && gen === this.generation;
      // Reads that started before this write landed may hold the old record: none may fill.
      this.drop(key);
    }
    if (res.ok) {
      this.invalidate(key);
      if (clean)
        this.remember(key, {
          value,
          version: res.version,
          expiresAt: expiry(options.ttl, before?.rec.expiresAt ?? null, this.now()),
        });
    }
    return res;
  }

  override async delete(key: string): Promise<boolean> {
    this.cache.delete(key);
    const removed = await this.inner.delete(key).finally(() => this.drop(key));
    this.invalidate(key);
    return removed;
  }

  override async touch(key: string, ttl: number | null): Promise<boolean> {
    const ok = await this.inner.touch(key, ttl);
    const hit = this.cache.get(key);
    if (hit) hit.rec = { ...hit.rec, expiresAt: ttl === null ? null : this.now() + ttl };
    return ok;
  }

  /** Stops listening; the inner Store and the Bus stay open (their owner closes them). */
  override async close(): Promise<void> {
    this.offConnection?.();
    await this.unsubscribe?.().catch(() => {});
    this.cache.clear();
  }
}

function expiry(ttl: number | null | undefined, keep: number | null, now: number): number | null {
  if (ttl === undefined) return keep;
  return ttl === null ? null : now + ttl;
}
