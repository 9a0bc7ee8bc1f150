/**
 * The Redis Store (single server or Redis Cluster).
 *
 * Layout: a record is a HASH at `${prefix}${key}` with fields `value`, `version` and (when it
 * expires) `expiresAt`, expired by Redis itself through PEXPIREAT. A per-owner index is a sorted set
 * at `${prefix}idx:{${owner}}` scored by each member's expiresAt (`+inf` for never); the set's own
 * TTL follows its latest member. Every script touches exactly one key, so every call is
 * cluster-safe, and a record key containing `{owner}` lands in the same slot as that owner's index.
 * Expiry times come from the Redis server's clock (TIME), so instances with skewed clocks agree.
 * Needs Redis >= 6.2.
 */
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import { connectRedis, redisScript, type RedisLink } from '../internal/redis-connect.js';
import type {
  CreateOptions,
  CreateResult,
  IndexEntry,
  RedisClusterStoreOptions,
  RedisStoreOptions,
  Store,
  StoredRecord,
  UpdateOptions,
  UpdateResult,
} from './types.js';

/** Server time in ms; scripts may call TIME since Redis replicates script effects. */
const NOW = `local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** Sets `expiresAt` to now + ARGV[i] ms, or clears it when the argument is '-'. */
const SET_EXPIRY = `${NOW}local function expire(key, ttl)
  if ttl == '-' then
    redis.call('HDEL', key, 'expiresAt')
    redis.call('PERSIST', key)
  else
    local at = string.format('%d', now() + tonumber(ttl))
    redis.call('HSET', key, 'expiresAt', at)
    redis.call('PEXPIREAT', key, at)
  end
end
`;

/** KEYS[1] record; ARGV value, ttl ('-': none). 1 created, 0 exists. */
const CREATE = redisScript(`${SET_EXPIRY}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', 1)
if ARGV[2] ~= '-' then expire(KEYS[1], ARGV[2]) end
return 1
`);

/** KEYS[1] record; ARGV value, ifVersion ('' none), ttl ('' keep, '-' none). New version, 0 missing, -current on conflict. */
const UPDATE = redisScript(`${SET_EXPIRY}
local cur = redis.call('HGET', KEYS[1], 'version')
if not cur then return 0 end
local ver = tonumber(cur)
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= ver then return -ver end
ver = ver + 1
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', ver)
if ARGV[3] ~= '' then expire(KEYS[1], ARGV[3]) end
return ver
`);

/** KEYS[1] record; ARGV ttl ('-' none). 1 touched, 0 missing. */
const TOUCH = redisScript(`${SET_EXPIRY}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
expire(KEYS[1], ARGV[1])
return 1
`);

/** Prunes expired members and sets the index key's TTL to its latest member's expiry. */
const KEEP_INDEX = `${NOW}local function keep(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now())
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #top == 0 then return end
  if top[2] == 'inf' then
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIREAT', key, string.format('%d', math.ceil(tonumber(top[2]))))
  end
end
`;

/** KEYS[1] index; ARGV score ('+inf' never), member. */
const INDEX_ADD = redisScript(`${KEEP_INDEX}
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
keep(KEYS[1])
return 1
`);

/** KEYS[1] index; ARGV member. */
const INDEX_REMOVE = redisScript(`${KEEP_INDEX}
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then keep(KEYS[1]) end
return 1
`);

/** KEYS[1] index. Live members with scores, flat: member, score, member, score… */
const INDEX_MEMBERS = redisScript(`${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now())
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
`);

function unexpected(op: string, reply: unknown): StatelineError {
  return new StatelineError(
    'SL_ERR_STORE_UNAVAILABLE',
    `redis store: ${op} got an unexpected reply ${JSON.stringify(reply)?.slice(0, 100)}`,
  );
}

/** A ttl argument for the scripts: '-' for none, else whole ms. */
function ttlArg(ttl: number | null, what: string): string {
  if (ttl === null) return '-';
  if (typeof ttl !== 'number' || !Number.isFinite(ttl)) {
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `${what} must be a finite number of ms or null (got ${String(ttl)})`,
    );
  }
  return String(Math.round(ttl));
}

class RedisStore implements Store {
  constructor(
    readonly backend: 'redis' | 'redis-cluster',
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly guard: CallGuard,
  ) {}

  private indexKey(owner: string): string {
    return `${this.prefix}idx:{${owner}}`;
  }

  get(key: string): Promise<StoredRecord | null> {
    const k = this.prefix + key;
    return this.guard.run('get', () =>
      this.link.command(k, ['HMGET', k, 'value', 'version', 'expiresAt']).then(toRecord),
    );
  }

  create(key: string, value: string, options: CreateOptions = {}): Promise<CreateResult> {
    return this.guard.run('create', () => {
      const k = this.prefix + key;
      return this.link.script(CREATE, [k], [value, ttlArg(options.ttl ?? null, 'ttl')], toCreateResult);
    });
  }

  update(key: string, value: string, options: UpdateOptions = {}): Promise<UpdateResult> {
    // No async wrapper: on the hot path every promise hop shows in throughput.
    return this.guard.run('update', () => {
      const k = this.prefix + key;
      const { ifVersion, ttl } = options;
      if (ifVersion !== undefined && !Number.isInteger(ifVersion)) {
        throw new StatelineError(
          'SL_ERR_INVALID_ARGUMENT',
          `ifVersion must be an integer (got ${String(ifVersion)})`,
        );
      }
      const args = [
        value,
        ifVersion === undefined ? '' : String(ifVersion),
        ttl === undefined ? '' : ttlArg(ttl, 'ttl'),
      ];
      return this.link.script(UPDATE, [k], args, toUpdateResult);
    });
  }

  delete(key: string): Promise<boolean> {
    const k = this.prefix + key;
    // DEL is atomic and never counts an expired key (Redis expires it on access first).
    return this.guard.run('delete', () => this.link.command(k, ['DEL', k]).then(isOne));
  }

  touch(key: string, ttl: number | null): Promise<boolean> {
    return this.guard.run('touch', () => {
      const k = this.prefix + key;
      return this.link.script(TOUCH, [k], [ttlArg(ttl, 'ttl')], isOne);
    });
  }

  indexAdd(owner: string, member: string, expiresAt: number | null): Promise<void> {
    return this.guard.run('indexAdd', () => {
      if (expiresAt !== null && !(typeof expiresAt === 'number' && Number.isFinite(expiresAt))) {
        throw new StatelineError(
          'SL_ERR_INVALID_ARGUMENT',
          `expiresAt must be epoch ms or null (got ${String(expiresAt)})`,
        );
      }
      const score = expiresAt === null ? '+inf' : String(expiresAt);
      return this.link.script(INDEX_ADD, [this.indexKey(owner)], [score, member], toVoid);
    });
  }

  indexMembers(owner: string): Promise<IndexEntry[]> {
    return this.guard.run('indexMembers', () =>
      this.link.script(INDEX_MEMBERS, [this.indexKey(owner)], [], toEntries),
    );
  }

  indexRemove(owner: string, member: string): Promise<void> {
    return this.guard.run('indexRemove', () =>
      this.link.script(INDEX_REMOVE, [this.indexKey(owner)], [member], toVoid),
    );
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    await this.link.close();
  }
}

function toRecord(reply: unknown): StoredRecord | null {
  if (!Array.isArray(reply) || reply.length !== 3) throw unexpected('get', reply);
  const value: unknown = reply[0];
  if (value === null) return null;
  if (typeof value !== 'string') throw unexpected('get', reply);
  const expiresAt: unknown = reply[2];
  return { value, version: Number(reply[1]), expiresAt: expiresAt === null ? null : Number(expiresAt) };
}

function toCreateResult(reply: unknown): CreateResult {
  if (reply === 1) return { ok: true, version: 1 };
  if (reply === 0) return { ok: false, reason: 'exists' };
  throw unexpected('create', reply);
}

/** The UPDATE script's reply: the new version, 0 for missing, minus the current version on conflict. */
function toUpdateResult(reply: unknown): UpdateResult {
  if (typeof reply !== 'number') throw unexpected('update', reply);
  if (reply > 0) return { ok: true, version: reply };
  if (reply === 0) return { ok: false, reason: 'missing' };
  return { ok: false, reason: 'conflict', version: -reply };
}

function toEntries(reply: unknown): IndexEntry[] {
  if (!Array.isArray(reply) || reply.length % 2 !== 0) throw unexpected('indexMembers', reply);
  const out: IndexEntry[] = [];
  for (let i = 0; i < reply.length; i += 2) {
    const score = String(reply[i + 1]);
    out.push({ member: String(reply[i]), expiresAt: score === 'inf' ? null : Number(score) });
  }
  return out;
}

const isOne = (reply: unknown): boolean => reply === 1;
const toVoid = (): void => undefined;

/**
 * Opens a Redis (or Redis Cluster) Store. Rejects with `SL_ERR_STORE_UNAVAILABLE` when the
 * server cannot be reached within `timeout`; once open, the Store reconnects by itself.
 * Usually reached through `createStore`.
 *
 * @example
 * ```ts
 * const store = await openRedisStore({ type: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'app:' });
 * const cluster = await openRedisStore({ type: 'redis-cluster', nodes: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'] });
 * ```
 */
export async function openRedisStore(options: RedisStoreOptions | RedisClusterStoreOptions): Promise<Store> {
  const timeout = options.timeout ?? 2000;
  const label = `${options.type} store`;
  if (options.type === 'redis' && (typeof options.url !== 'string' || !options.url)) {
    throw new StatelineError('SL_ERR_INVALID_OPTION', `${label} needs a url such as redis://127.0.0.1:6379`);
  }
  const target =
    options.type === 'redis-cluster'
      ? { type: options.type, nodes: options.nodes }
      : { type: options.type, url: options.url };
  const link = await connectRedis(target, { code: 'SL_ERR_STORE_UNAVAILABLE', label, timeout });
  return new RedisStore(
    options.type,
    link,
    options.prefix ?? 'sl:',
    new CallGuard('SL_ERR_STORE_UNAVAILABLE', label, timeout),
  );
}
