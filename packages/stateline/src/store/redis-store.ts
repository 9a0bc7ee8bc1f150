/**
 * The Redis Store (single server or Redis Cluster).
 *
 * Layout: a record is ONE STRING at `${prefix}${key}`: `<version>:<expiresAt or empty>:<value>`
 * (only the first two ':' separate; the value may contain any). `get` is therefore one plain GET.
 * A record with an expiry carries the same instant as its Redis expiry (SET … PXAT), so Redis
 * itself drops it. create/update/touch are one-key Lua scripts: at most one GET, a prefix parse and
 * one SET. A per-owner index is a sorted set at `${prefix}idx:{${owner}}` scored by each member's
 * expiresAt (`+inf` for never); the set's own TTL follows its latest member. Every script touches
 * exactly one key, so every call is cluster-safe, and a record key containing `{owner}` lands in
 * the same slot as that owner's index. Expiry times come from the Redis server's clock (TIME), so
 * instances with skewed clocks agree. Needs Redis >= 6.2 (PXAT).
 */
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import { connectRedis, redisScript, redisTarget, type RedisLink } from '../internal/redis-connect.js';
import type {
  CreateOptions,
  CreateResult,
  IndexEntry,
  RedisClusterStoreOptions,
  RedisSentinelStoreOptions,
  RedisStoreOptions,
  Store,
  StoredRecord,
  UpdateOptions,
  UpdateResult,
} from './types.js';

/**
 * Lua setting local `t` to the server's time + `ttl` ms, as the integer string that goes both into
 * the record and into PXAT. Inlined (no helper function) so scripts create no closure per call.
 */
const EXPIRES_AT = (ttl: string): string => `local t = redis.call('TIME')
  t = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(${ttl}))`;

/** KEYS[1] record; ARGV value, ttl ('-': none). 1 created, 0 exists. */
const CREATE = redisScript(`local ok
if ARGV[2] == '-' then
  ok = redis.call('SET', KEYS[1], '1::' .. ARGV[1], 'NX')
else
  ${EXPIRES_AT('ARGV[2]')}
  ok = redis.call('SET', KEYS[1], '1:' .. t .. ':' .. ARGV[1], 'NX', 'PXAT', t)
end
if ok then return 1 end
return 0
`);

/**
 * KEYS[1] record; ARGV value, ifVersion ('' none), ttl ('' keep, '-' none), newVersion (ifVersion+1,
 * as the client formats it; unused without ifVersion). New version, 0 missing, -current on conflict.
 * Server time matters here (it runs under 50 pipelined calls): versions are compared as strings
 * (both sides canonical integers) and the client sends the new version, because turning a Lua number
 * into a string costs more than the rest of the parse. A plain SET drops any TTL; KEEPTTL keeps the
 * one that matches the kept `:<expiresAt>:`.
 */
const UPDATE = redisScript(`local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local i = string.find(cur, ':', 1, true)
local ver = string.sub(cur, 1, i - 1)
local new = ARGV[4]
if ARGV[2] ~= '' then
  if ver ~= ARGV[2] then return -tonumber(ver) end
else
  new = string.format('%d', tonumber(ver) + 1)
end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], new .. string.sub(cur, i, string.find(cur, ':', i + 1, true)) .. ARGV[1], 'KEEPTTL')
elseif ARGV[3] == '-' then
  redis.call('SET', KEYS[1], new .. '::' .. ARGV[1])
else
  ${EXPIRES_AT('ARGV[3]')}
  redis.call('SET', KEYS[1], new .. ':' .. t .. ':' .. ARGV[1], 'PXAT', t)
end
return tonumber(new)
`);

/**
 * The compare-and-set of UPDATE sending only what changed: KEYS[1] record; ARGV middle, ifVersion,
 * ttl ('' keep, '-' none), newVersion, head, tail, length (bytes). The stored value at ifVersion is
 * kept up to `head` bytes and from its last `tail` bytes, with `middle` between. Replies as UPDATE,
 * or 'R' when the stored value is not `length` bytes long (not the base the caller diffed against:
 * it then sends the whole value). When the header and the middle keep their lengths (a counter
 * that keeps its digits, the same version width) the record is patched in place with SETRANGE:
 * the value never enters Lua, where a GET, a concatenation and a SET of a 4 KB record cost Redis
 * ~15 µs more than of a 200-byte one. Otherwise it is rebuilt as UPDATE would.
 */
const SPLICE = redisScript(`local h = redis.call('GETRANGE', KEYS[1], 0, 63)
if h == '' then return 0 end
local i = string.find(h, ':', 1, true)
local ver = string.sub(h, 1, i - 1)
if ver ~= ARGV[2] then return -tonumber(ver) end
local j = string.find(h, ':', i + 1, true)
local size = redis.call('STRLEN', KEYS[1])
if not j or size - j ~= tonumber(ARGV[7]) then return 'R' end
local new = ARGV[4]
local head
local at
if ARGV[3] == '' then
  head = new .. string.sub(h, i, j)
elseif ARGV[3] == '-' then
  head = new .. '::'
else
  ${EXPIRES_AT('ARGV[3]')}
  at = t
  head = new .. ':' .. t .. ':'
end
local hd = tonumber(ARGV[5])
local tl = tonumber(ARGV[6])
if #head == j and #ARGV[1] == size - j - hd - tl then
  redis.call('SETRANGE', KEYS[1], 0, head)
  redis.call('SETRANGE', KEYS[1], j + hd, ARGV[1])
  if ARGV[3] == '-' then
    redis.call('PERSIST', KEYS[1])
  elseif ARGV[3] ~= '' then
    redis.call('PEXPIREAT', KEYS[1], at)
  end
  return tonumber(new)
end
local cur = redis.call('GET', KEYS[1])
local v = head .. string.sub(cur, j + 1, j + hd) .. ARGV[1] .. string.sub(cur, size - tl + 1)
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], v, 'KEEPTTL')
elseif ARGV[3] == '-' then
  redis.call('SET', KEYS[1], v)
else
  redis.call('SET', KEYS[1], v, 'PXAT', at)
end
return tonumber(new)
`);

/** Below this many characters a value goes whole: a splice saves nothing worth its arguments. */
const SPLICE_MIN = 512;

/**
 * The length of the common head of `a` and `b` (`fromEnd`: of their common tail), at most `max`
 * characters. Compares slices, coarse to fine: equal slices compare as memory, where a loop of
 * charCodeAt over a 4 KB record costs more than the JSON.stringify that made it.
 */
function common(a: string, b: string, max: number, fromEnd: boolean): number {
  const al = a.length;
  const bl = b.length;
  let n = 0;
  for (let step = 1024; step >= 1; step >>= 2) {
    while (
      n + step <= max &&
      (fromEnd
        ? a.slice(al - n - step, al - n) === b.slice(bl - n - step, bl - n)
        : a.slice(n, n + step) === b.slice(n, n + step))
    )
      n += step;
  }
  return n;
}

/**
 * How `value` differs from `previous`: the UTF-8 byte lengths of their common head and tail and
 * the middle of `value` between them, or null when most of it changed (then it goes whole).
 */
function spliceOf(
  previous: string,
  value: string,
): { head: number; tail: number; middle: string; length: number } | null {
  const pl = previous.length;
  const vl = value.length;
  let head = common(previous, value, Math.min(pl, vl), false);
  let tail = common(previous, value, Math.min(pl, vl) - head, true);
  // Never cut a surrogate pair (JSON text has no lone surrogates, so a pair is whole on both sides).
  if (head > 0 && (previous.charCodeAt(head - 1) & 0xfc00) === 0xd800) head--;
  if (tail > 0 && (previous.charCodeAt(pl - tail) & 0xfc00) === 0xdc00) tail--;
  if ((head + tail) * 2 < vl) return null;
  const middle = value.slice(head, vl - tail);
  const length = Buffer.byteLength(previous);
  if (length === pl) return { head, tail, middle, length };
  // Not all ASCII: offsets in bytes, as Lua counts them.
  return {
    head: Buffer.byteLength(previous.slice(0, head)),
    tail: Buffer.byteLength(previous.slice(pl - tail)),
    middle,
    length,
  };
}

/** KEYS[1] record; ARGV ttl ('-' none). 1 touched, 0 missing. Version and value stay. */
const TOUCH = redisScript(`local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local i = string.find(cur, ':', 1, true)
local j = string.find(cur, ':', i + 1, true)
if ARGV[1] == '-' then
  redis.call('SET', KEYS[1], string.sub(cur, 1, i) .. string.sub(cur, j))
else
  ${EXPIRES_AT('ARGV[1]')}
  redis.call('SET', KEYS[1], string.sub(cur, 1, i) .. t .. string.sub(cur, j), 'PXAT', t)
end
return 1
`);

/**
 * The update script's source, for benchmarks that send the same compare-and-set with a raw client
 * (bench/store.bench.ts; ARGV as the UPDATE script documents). Not part of the public API.
 */
export const REDIS_UPDATE_LUA: string = UPDATE.source;

/** Server time in ms; scripts may call TIME since Redis replicates script effects. */
const NOW = `local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

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
    readonly backend: 'redis' | 'redis-cluster' | 'redis-sentinel',
    private readonly link: RedisLink,
    private readonly prefix: string,
    private readonly guard: CallGuard,
  ) {}

  private indexKey(owner: string): string {
    return `${this.prefix}idx:{${owner}}`;
  }

  get(key: string): Promise<StoredRecord | null> {
    const k = this.prefix + key;
    return this.guard.run('get', () => this.link.command(k, ['GET', k]), toRecord);
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
      const ttlA = ttl === undefined ? '' : ttlArg(ttl, 'ttl');
      const { previous } = options;
      if (ifVersion !== undefined && previous !== undefined && value.length >= SPLICE_MIN) {
        const d = spliceOf(previous, value);
        if (d) {
          const version = String(ifVersion);
          const next = String(ifVersion + 1);
          const args = [d.middle, version, ttlA, next, String(d.head), String(d.tail), String(d.length)];
          return this.link
            .script(SPLICE, [k], args, toSpliceResult)
            .then((res) =>
              res !== RESEND
                ? res
                : this.link.script(UPDATE, [k], [value, version, ttlA, next], toUpdateResult),
            );
        }
      }
      const args =
        ifVersion === undefined
          ? [value, '', ttlA, '']
          : [value, String(ifVersion), ttlA, String(ifVersion + 1)];
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

/** Parses `<version>:<expiresAt or empty>:<value>`; only the first two ':' count. */
function toRecord(reply: unknown): StoredRecord | null {
  if (reply === null) return null;
  if (typeof reply !== 'string') throw unexpected('get', reply);
  const i = reply.indexOf(':');
  const j = i < 1 ? -1 : reply.indexOf(':', i + 1);
  if (j < 0) throw unexpected('get', reply);
  return {
    value: reply.slice(j + 1),
    version: Number(reply.slice(0, i)),
    expiresAt: j === i + 1 ? null : Number(reply.slice(i + 1, j)),
  };
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

/** SPLICE found a stored value of another length than the base: send the whole value. */
const RESEND = Symbol('resend');

function toSpliceResult(reply: unknown): UpdateResult | typeof RESEND {
  return reply === 'R' ? RESEND : toUpdateResult(reply);
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
 * const failover = await openRedisStore({ type: 'redis-sentinel', sentinels: ['10.0.0.1:26379'], name: 'mymaster' });
 * ```
 */
export async function openRedisStore(
  options: RedisStoreOptions | RedisClusterStoreOptions | RedisSentinelStoreOptions,
): Promise<Store> {
  const timeout = options.timeout ?? 2000;
  const label = `${options.type} store`;
  if (options.type === 'redis' && (typeof options.url !== 'string' || !options.url)) {
    throw new StatelineError('SL_ERR_INVALID_OPTION', `${label} needs a url such as redis://127.0.0.1:6379`);
  }
  const link = await connectRedis(redisTarget(options), {
    code: 'SL_ERR_STORE_UNAVAILABLE',
    label,
    timeout,
    logger: options.logger,
  });
  return new RedisStore(
    options.type,
    link,
    options.prefix ?? 'sl:',
    new CallGuard('SL_ERR_STORE_UNAVAILABLE', label, timeout),
  );
}
