/**
 * The memcached Store (one server or several, keys spread by the client's consistent hash ring).
 *
 * Layout: a record is one item `<version>:<expiresAt or empty>:<value>` (as in the Redis Store;
 * only the first two ':' separate). memcached has no scripts, so every write is read-then-CAS:
 * `gets` returns the item with its CAS token, the new item is written with `cas` only if nobody
 * wrote in between, and on a lost race the loop reads again. `create` is `add` (insert-if-absent).
 * The item's memcached expiry follows `expiresAt` (see memcached-layout.ts for the seconds and the
 * 30-day rule); since memcached counts whole seconds, the Store hides a record itself from the
 * millisecond its `expiresAt` passes, and `create` replaces such a not-yet-dropped item by CAS.
 * Expiry instants come from this process's clock (memcached has no clock to ask), so instances
 * must keep their clocks in sync (NTP), as for JWT expiry.
 *
 * A per-owner index is one item `idx:{owner}` holding a JSON object member → expiresAt, rewritten
 * by CAS like a record; every write prunes expired members and the item lives as long as its
 * latest member. Differences from the Store contract, all from memcached being a cache: an item
 * may be evicted under memory pressure before it expires (a session then reads as absent: the user
 * is logged out, never shown an error), an index too (a user's session list then misses sessions
 * that still work), and a lost server loses its items.
 */
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import { connectMemcached, type MemcachedLink } from '../internal/memcached-connect.js';
import { positiveInt } from '../internal/spec.js';
import { exptime, itemKey } from './memcached-layout.js';
import type {
  CreateOptions,
  CreateResult,
  IndexEntry,
  MemcachedStoreOptions,
  Store,
  StoredRecord,
  UpdateOptions,
  UpdateResult,
} from './types.js';

/** memcached's default item size (`-I 1m`). */
const DEFAULT_ITEM_SIZE = 1024 * 1024;
/** What memcached keeps per item besides the value: its header, the key (<= 250), CAS and flags. */
const ITEM_OVERHEAD = 320;
/** CAS rounds one call may lose before it gives up (only a pathologically hot key gets near this). */
const MAX_ROUNDS = 100;

interface Parsed extends StoredRecord {
  cas: string;
}

function unexpected(op: string, reply: string): StatelineError {
  return new StatelineError(
    'SL_ERR_STORE_UNAVAILABLE',
    `memcached store: ${op} read an item that is not a Stateline record ${JSON.stringify(reply.slice(0, 100))}`,
  );
}

function contended(op: string): StatelineError {
  return new StatelineError(
    'SL_ERR_STORE_UNAVAILABLE',
    `memcached store: ${op} lost ${MAX_ROUNDS} compare-and-set rounds in a row`,
  );
}

function encode(version: number, expiresAt: number | null, value: string): string {
  return `${version}:${expiresAt ?? ''}:${value}`;
}

function decode(op: string, item: string, cas: string): Parsed {
  const i = item.indexOf(':');
  const j = i < 1 ? -1 : item.indexOf(':', i + 1);
  if (j < 0) throw unexpected(op, item);
  return {
    value: item.slice(j + 1),
    version: Number(item.slice(0, i)),
    expiresAt: j === i + 1 ? null : Number(item.slice(i + 1, j)),
    cas,
  };
}

const live = (expiresAt: number | null, now: number): boolean => expiresAt === null || expiresAt > now;

/** A ttl option as an absolute instant (`null`: never). */
function expiryOf(ttl: number | null, now: number): number | null {
  if (ttl === null) return null;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl)) {
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `ttl must be a finite number of ms or null (got ${String(ttl)})`,
    );
  }
  return now + Math.round(ttl);
}

type Members = Record<string, number | null>;

/** Drops expired members; true when any was dropped. */
function prune(members: Members, now: number): boolean {
  let pruned = false;
  for (const [m, at] of Object.entries(members)) {
    if (!live(at, now)) {
      delete members[m];
      pruned = true;
    }
  }
  return pruned;
}

/** The index item lives as long as its latest member; an empty one lingers a minute. */
function indexExpiry(members: Members, now: number): number | null {
  let latest = 0;
  for (const at of Object.values(members)) {
    if (at === null) return null;
    latest = Math.max(latest, at);
  }
  return latest > 0 ? latest : now + 60_000;
}

class MemcachedStore implements Store {
  readonly backend = 'memcached';

  constructor(
    private readonly link: MemcachedLink,
    private readonly prefix: string,
    private readonly guard: CallGuard,
    private readonly itemSize: number,
  ) {}

  private key(key: string): string {
    return itemKey(this.prefix + key);
  }

  private indexKey(owner: string): string {
    return itemKey(`${this.prefix}idx:{${owner}}`);
  }

  /** Refuses an item memcached would not store, with the sizes in the message. */
  private fits(key: string, item: string): string {
    // The driver escapes each CR and LF with a backslash.
    let bytes = Buffer.byteLength(item) + key.length + ITEM_OVERHEAD;
    for (let i = item.indexOf('\n'); i >= 0; i = item.indexOf('\n', i + 1)) bytes++;
    for (let i = item.indexOf('\r'); i >= 0; i = item.indexOf('\r', i + 1)) bytes++;
    if (bytes > this.itemSize) {
      throw new StatelineError(
        'SL_ERR_STORE_VALUE_TOO_LARGE',
        `memcached store: a ${bytes}-byte item does not fit the ${this.itemSize}-byte item size (memcached -I; the store option itemSize)`,
      );
    }
    return item;
  }

  private async read(op: string, k: string): Promise<Parsed | null> {
    const got = await this.link.gets(k);
    return got && decode(op, got.value, got.cas);
  }

  get(key: string): Promise<StoredRecord | null> {
    return this.guard.run('get', async () => {
      const rec = await this.read('get', this.key(key));
      if (!rec || !live(rec.expiresAt, Date.now())) return null;
      return { value: rec.value, version: rec.version, expiresAt: rec.expiresAt };
    });
  }

  create(key: string, value: string, options: CreateOptions = {}): Promise<CreateResult> {
    return this.guard.run('create', async () => {
      const k = this.key(key);
      const now = Date.now();
      const expiresAt = expiryOf(options.ttl ?? null, now);
      const item = this.fits(k, encode(1, expiresAt, value));
      const exp = exptime(expiresAt, now);
      for (let round = 0; round < MAX_ROUNDS; round++) {
        if (await this.link.add(k, item, exp)) return { ok: true, version: 1 };
        const cur = await this.read('create', k);
        if (!cur) continue;
        if (live(cur.expiresAt, Date.now())) return { ok: false, reason: 'exists' };
        // Expired for the Store, not yet dropped by memcached's whole-second clock.
        if (await this.link.cas(k, item, cur.cas, exp)) return { ok: true, version: 1 };
      }
      throw contended('create');
    });
  }

  update(key: string, value: string, options: UpdateOptions = {}): Promise<UpdateResult> {
    return this.guard.run('update', async () => {
      const { ifVersion, ttl } = options;
      if (ifVersion !== undefined && !Number.isInteger(ifVersion)) {
        throw new StatelineError(
          'SL_ERR_INVALID_ARGUMENT',
          `ifVersion must be an integer (got ${String(ifVersion)})`,
        );
      }
      const k = this.key(key);
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const cur = await this.read('update', k);
        const now = Date.now();
        if (!cur || !live(cur.expiresAt, now)) return { ok: false, reason: 'missing' };
        if (ifVersion !== undefined && cur.version !== ifVersion) {
          return { ok: false, reason: 'conflict', version: cur.version };
        }
        const expiresAt = ttl === undefined ? cur.expiresAt : expiryOf(ttl, now);
        const version = cur.version + 1;
        const item = this.fits(k, encode(version, expiresAt, value));
        if (await this.link.cas(k, item, cur.cas, exptime(expiresAt, now))) return { ok: true, version };
      }
      throw contended('update');
    });
  }

  delete(key: string): Promise<boolean> {
    return this.guard.run('delete', async () => {
      const k = this.key(key);
      const cur = await this.read('delete', k);
      if (!cur) return false;
      const removed = await this.link.del(k);
      return removed && live(cur.expiresAt, Date.now());
    });
  }

  touch(key: string, ttl: number | null): Promise<boolean> {
    return this.guard.run('touch', async () => {
      const k = this.key(key);
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const cur = await this.read('touch', k);
        const now = Date.now();
        if (!cur || !live(cur.expiresAt, now)) return false;
        const expiresAt = expiryOf(ttl, now);
        const item = encode(cur.version, expiresAt, cur.value);
        if (await this.link.cas(k, item, cur.cas, exptime(expiresAt, now))) return true;
      }
      throw contended('touch');
    });
  }

  /** Reads an index item with its CAS token (`null`: absent). */
  private async readIndex(k: string): Promise<{ members: Members; cas: string } | null> {
    const got = await this.link.gets(k);
    if (!got) return null;
    try {
      const members: unknown = JSON.parse(got.value);
      if (typeof members === 'object' && members !== null && !Array.isArray(members)) {
        return { members: members as Members, cas: got.cas };
      }
    } catch {
      // Reported below.
    }
    throw unexpected('index', got.value);
  }

  /** Read, change, CAS-write an index until the write wins; `change` false: nothing to write. */
  private async changeIndex(op: string, owner: string, change: (m: Members) => boolean): Promise<void> {
    const k = this.indexKey(owner);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const cur = await this.readIndex(k);
      const now = Date.now();
      const members = cur?.members ?? {};
      const pruned = prune(members, now);
      if (!change(members) && !pruned) return;
      const item = this.fits(k, JSON.stringify(members));
      const exp = exptime(indexExpiry(members, now), now);
      if (cur ? await this.link.cas(k, item, cur.cas, exp) : await this.link.add(k, item, exp)) return;
    }
    throw contended(op);
  }

  indexAdd(owner: string, member: string, expiresAt: number | null): Promise<void> {
    return this.guard.run('indexAdd', () => {
      if (expiresAt !== null && !(typeof expiresAt === 'number' && Number.isFinite(expiresAt))) {
        throw new StatelineError(
          'SL_ERR_INVALID_ARGUMENT',
          `expiresAt must be epoch ms or null (got ${String(expiresAt)})`,
        );
      }
      return this.changeIndex('indexAdd', owner, (m) => {
        if (!live(expiresAt, Date.now())) {
          const had = Object.hasOwn(m, member);
          delete m[member];
          return had;
        }
        m[member] = expiresAt;
        return true;
      });
    });
  }

  indexMembers(owner: string): Promise<IndexEntry[]> {
    return this.guard.run('indexMembers', async () => {
      const k = this.indexKey(owner);
      const cur = await this.readIndex(k);
      if (!cur) return [];
      const now = Date.now();
      // Pruning is written back only if nobody changed the index meanwhile; the answer holds anyway.
      if (prune(cur.members, now)) {
        const exp = exptime(indexExpiry(cur.members, now), now);
        await this.link.cas(k, JSON.stringify(cur.members), cur.cas, exp);
      }
      return Object.entries(cur.members).map(([member, at]) => ({ member, expiresAt: at }));
    });
  }

  indexRemove(owner: string, member: string): Promise<void> {
    return this.guard.run('indexRemove', () =>
      this.changeIndex('indexRemove', owner, (m) => {
        if (!Object.hasOwn(m, member)) return false;
        delete m[member];
        return true;
      }),
    );
  }

  close(): Promise<void> {
    if (this.guard.close()) this.link.close();
    return Promise.resolve();
  }
}

/**
 * Opens a memcached Store over one or more servers. Rejects with `SL_ERR_STORE_UNAVAILABLE` when a
 * server does not answer within `timeout`. Usually reached through `createStore`.
 *
 * @example
 * ```ts
 * const store = await openMemcachedStore({ type: 'memcached', servers: ['10.0.0.1:11211', '10.0.0.2:11211'], prefix: 'app:' });
 * ```
 */
export async function openMemcachedStore(options: MemcachedStoreOptions): Promise<Store> {
  const label = 'memcached store';
  const { servers } = options;
  if (
    !Array.isArray(servers) ||
    servers.length === 0 ||
    !servers.every((s) => typeof s === 'string' && /^[^\s,]+:\d+$/.test(s))
  ) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${label} needs servers as host:port strings, e.g. ['127.0.0.1:11211']`,
    );
  }
  const timeout = options.timeout ?? 2000;
  const itemSize = positiveInt(options.itemSize, 'itemSize', DEFAULT_ITEM_SIZE);
  const link = await connectMemcached({
    servers,
    label,
    timeout,
    poolSize: positiveInt(options.poolSize, 'poolSize', 10),
    maxValue: itemSize,
  });
  return new MemcachedStore(
    link,
    options.prefix ?? 'sl:',
    new CallGuard('SL_ERR_STORE_UNAVAILABLE', label, timeout),
    itemSize,
  );
}
