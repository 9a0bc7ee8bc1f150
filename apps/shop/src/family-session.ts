import type { CommitResult, Session } from 'stateline/session';
import type { Store } from 'stateline/store';

/** Attempts of one compare-and-set before giving up (each lost race means another write landed). */
const CAS_ATTEMPTS = 20;

const familyKey = (sid: string) => `shop:family:${sid}`;

/**
 * Drops the state a token family kept (its cart): for families ended elsewhere than in their own
 * request (revoked by handle, logout-all). A handle of a cookie session has none: nothing happens.
 *
 * @example
 * ```ts
 * if (await sessions.revoke(handle, { userId })) await forgetFamily(store, handle);
 * ```
 */
export async function forgetFamily(store: Store, handle: string): Promise<void> {
  await store.delete(familyKey(handle));
}

/** Who a verified bearer token speaks for, and how its family ends. */
export interface FamilyOwner {
  userId: string;
  /** The token family (the access token's `sid`). */
  sid: string;
  /** Its handle, as `sessions.list()` shows it. */
  handle: string;
  /** How long the family may live, ms: its data is kept no longer. */
  ttl: number;
  /** Revokes the family everywhere. */
  revoke(): Promise<void>;
}

type Data = Record<string, unknown>;

function parse(value: string): Data {
  try {
    const v: unknown = JSON.parse(value);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Data) : {};
  } catch {
    return {};
  }
}

/**
 * The state of an API client, kept per token family the way a cookie session keeps a browser's:
 * one Store record per family, read once per request, `update` a compare-and-set re-applied on
 * conflict, `set`/`delete` merged into the fresh record on `commit`, and `destroy` revoking the
 * family. Bearer requests to the shop's session routes get one as `req.session`, so the cart and
 * checkout work the same for both kinds of client.
 *
 * @example
 * ```ts
 * const session = await FamilySession.open(store, owner);
 * await session.update<CartState>('cart', (c) => addLine(readCart(c), 'mug', 1));
 * ```
 */
export class FamilySession implements Session {
  readonly isNew = false;
  readonly degraded = false;
  private readonly changes = new Map<string, { value: unknown } | null>();
  private ended = false;

  private constructor(
    private readonly store: Store,
    private readonly owner: FamilyOwner,
    private data: Data,
  ) {}

  /** Loads the family's record (empty when it has none yet). */
  static async open(store: Store, owner: FamilyOwner): Promise<FamilySession> {
    const rec = await store.get(familyKey(owner.sid));
    return new FamilySession(store, owner, rec ? parse(rec.value) : {});
  }

  get userId(): string | null {
    return this.ended ? null : this.owner.userId;
  }

  get handle(): string | null {
    return this.ended ? null : this.owner.handle;
  }

  get<T = unknown>(key: string): T | undefined {
    const changed = this.changes.get(key);
    if (changed !== undefined) return (changed?.value as T) ?? undefined;
    return this.data[key] as T | undefined;
  }

  set(key: string, value: unknown): void {
    this.changes.set(key, { value });
  }

  delete(key: string): void {
    this.changes.set(key, null);
  }

  async update<T = unknown>(key: string, fn: (current: T | undefined) => T): Promise<T> {
    let result: T | undefined;
    await this.write((data) => {
      result = fn(data[key] as T | undefined);
      data[key] = result;
    });
    this.changes.delete(key);
    return result as T;
  }

  login(): Promise<void> {
    return Promise.reject(new Error('a token family cannot log in again: POST /api/tokens issues a new one'));
  }

  regenerate(): Promise<void> {
    return Promise.reject(
      new Error('a token family has no id to renew: POST /api/tokens/refresh rotates it'),
    );
  }

  async destroy(): Promise<void> {
    this.ended = true;
    this.changes.clear();
    this.data = {};
    await this.owner.revoke();
    await this.store.delete(familyKey(this.owner.sid));
  }

  async commit(): Promise<CommitResult> {
    if (this.ended || this.changes.size === 0) return { setCookie: [] };
    const changes = [...this.changes];
    this.changes.clear();
    await this.write((data) => {
      for (const [k, c] of changes) {
        if (c === null) delete data[k];
        else data[k] = c.value;
      }
    });
    return { setCookie: [] };
  }

  /** Applies `change` to the freshest record, compare-and-set, again on each lost race. */
  private async write(change: (data: Data) => void): Promise<void> {
    if (this.ended) throw new Error('the token family was ended in this request');
    const key = familyKey(this.owner.sid);
    const ttl = this.owner.ttl;
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      const rec = await this.store.get(key);
      const data = rec ? parse(rec.value) : {};
      change(data);
      const value = JSON.stringify(data);
      const res = rec
        ? await this.store.update(key, value, { ifVersion: rec.version, ttl })
        : await this.store.create(key, value, { ttl });
      if (res.ok) {
        this.data = data;
        return;
      }
    }
    throw new Error(`the token family's record changed ${CAS_ATTEMPTS} times during one write`);
  }
}
