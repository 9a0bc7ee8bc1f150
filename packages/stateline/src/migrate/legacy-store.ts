/**
 * Where a legacy session library kept its records, read the way it read them: a Redis in
 * connect-redis's layout (`prefix` + session id, JSON), given as a `redis://` URL or a client, or
 * any store with express-session's callback interface (`get(sid, cb)`, `destroy(sid, cb)`).
 */
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import { connectRedis, type RedisLink } from '../internal/redis-connect.js';

/**
 * A Redis client that answers `get` and `del` with promises: node-redis (v4, v5) or ioredis. The
 * reader never closes it: its owner does.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import type { RedisClientLike } from 'stateline/migrate';
 * const client: RedisClientLike = await createClient({ url: 'redis://127.0.0.1:6379' }).connect();
 * ```
 */
export interface RedisClientLike {
  get(key: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

/**
 * A store with express-session's callback interface (what @fastify/session uses too): any
 * `express-session` store, such as connect-redis, connect-pg-simple or connect-mongo.
 *
 * @example
 * ```ts
 * import type { SessionStoreLike } from 'stateline/migrate';
 * const records = new Map<string, unknown>();
 * const store: SessionStoreLike = {
 *   get: (sid, cb) => cb(null, records.get(sid) ?? null),
 *   destroy: (sid, cb) => cb(records.delete(sid) && null),
 * };
 * ```
 */
export interface SessionStoreLike {
  get(sid: string, callback: (err: unknown, session?: unknown) => void): unknown;
  destroy(sid: string, callback: (err?: unknown) => void): unknown;
}

/** What a reader's `store` option takes. */
export type LegacyStoreOption = string | RedisClientLike | SessionStoreLike;

/** Longest wait for the legacy store, per call (and for its first connection). */
const TIMEOUT_MS = 2000;

/** A legacy record as the library wrote it (an object), or null. */
export type LegacyRecord = Record<string, unknown>;

/** Reads and deletes legacy records; every failure to reach the store is `SL_ERR_STORE_UNAVAILABLE`. */
export class LegacyStore {
  private readonly guard: CallGuard;
  private link: Promise<RedisLink> | undefined;

  constructor(
    private readonly given: LegacyStoreOption,
    private readonly prefix: string,
    private readonly label: string,
  ) {
    this.guard = new CallGuard('SL_ERR_STORE_UNAVAILABLE', label, TIMEOUT_MS);
  }

  /** Checks the `store` option; throws `SL_ERR_INVALID_OPTION` naming what it takes. */
  static check(store: unknown, what: string): LegacyStoreOption {
    if (typeof store === 'string') {
      if (!/^rediss?:\/\//.test(store))
        throw new StatelineError(
          'SL_ERR_INVALID_OPTION',
          `${what}: store must be a redis:// URL, a Redis client or a session store`,
        );
      return store;
    }
    if (store && typeof store === 'object') {
      const s = store as Record<string, unknown>;
      if (typeof s.get === 'function' && (typeof s.del === 'function' || typeof s.destroy === 'function'))
        return store as LegacyStoreOption;
    }
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${what}: store must be a redis:// URL, a Redis client (get, del) or a session store (get(sid, cb), destroy(sid, cb))`,
    );
  }

  /** The record of session `sid`; null when there is none or it is not JSON of an object. */
  async get(sid: string): Promise<LegacyRecord | null> {
    const given = this.given;
    let found: unknown;
    if (typeof given === 'string') {
      const key = this.prefix + sid;
      found = await this.guard.run('get', async () => (await this.connect()).command(key, ['GET', key]));
    } else if (isRedis(given)) {
      found = await this.guard.run('get', () => given.get(this.prefix + sid));
    } else {
      found = await this.guard.run(
        'get',
        () =>
          new Promise<unknown>((resolve, reject) => {
            given.get(sid, (err, session) => {
              // @fastify/session's convention: ENOENT means "no such session", not a failure.
              if (err && (err as { code?: unknown }).code !== 'ENOENT') reject(err);
              else resolve(err ? null : (session ?? null));
            });
          }),
      );
    }
    if (Buffer.isBuffer(found)) found = found.toString('utf8');
    if (typeof found === 'string') found = parseJson(found);
    return found && typeof found === 'object' && !Array.isArray(found) ? (found as LegacyRecord) : null;
  }

  /** Deletes session `sid` (nothing when it is already gone). */
  async destroy(sid: string): Promise<void> {
    const given = this.given;
    if (typeof given === 'string') {
      const key = this.prefix + sid;
      await this.guard.run('destroy', async () => (await this.connect()).command(key, ['DEL', key]));
    } else if (isRedis(given)) {
      await this.guard.run('destroy', () => given.del(this.prefix + sid));
    } else {
      await this.guard.run(
        'destroy',
        () =>
          new Promise<void>((resolve, reject) => {
            given.destroy(sid, (err) => (err ? reject(err) : resolve()));
          }),
      );
    }
  }

  /** Closes the connection this opened from a URL; a client or store given is left to its owner. */
  async close(): Promise<void> {
    if (!this.guard.close()) return;
    const link = this.link;
    this.link = undefined;
    if (link) await link.then((l) => l.close()).catch(() => {});
  }

  private connect(): Promise<RedisLink> {
    if (!this.link) {
      const opening = connectRedis(
        { type: 'redis', url: this.given as string },
        { code: 'SL_ERR_STORE_UNAVAILABLE', label: this.label, timeout: TIMEOUT_MS },
      );
      // A failed first connection is tried again by the next request.
      opening.catch(() => {
        if (this.link === opening) this.link = undefined;
      });
      this.link = opening;
    }
    return this.link;
  }
}

function isRedis(store: RedisClientLike | SessionStoreLike): store is RedisClientLike {
  return typeof (store as Partial<RedisClientLike>).del === 'function';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
