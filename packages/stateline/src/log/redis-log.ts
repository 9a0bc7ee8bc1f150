/**
 * The Redis Log: one Redis Stream per log stream, with integer offsets.
 *
 * Layout: entries in the stream `${prefix}log:{${stream}}` under explicit ids `<offset>-0` with
 * fields `at` (server time, ms) and `data`; the hash `${prefix}log:{${stream}}:meta` (same hash tag,
 * same slot) holds `epoch`, `head` (last offset given) and `trimmedThrough` (last offset retention
 * removed); the hash `${prefix}log:{${stream}}:keys` maps the key of each keyed append still held
 * to its offset (an entry keeps its key in a third field, so retention removes both together).
 * The meta hash also holds `fence`, the highest fence accepted: a fenced append compares and
 * raises it inside the append script, so no append can slip between the check and the write.
 * Append and read are Lua scripts, so offsets are unique and gap-free across any number of
 * connections, and retention (XTRIM MINID by count, then by age) is applied by every call, exactly
 * as the memory log does. The epoch is created by whichever comes first, append or read (HSETNX),
 * so both agree; when Redis loses the data (restart without persistence, eviction) the meta hash is
 * gone and the next call starts a new epoch at offset 1. Needs Redis >= 6.2.
 *
 * `publisherFor(bus)`: with a single-server Redis Bus opened on the same `url`, the append script
 * also PUBLISHes a message built from the new entry's offset, epoch and time on the Bus's channel,
 * after the XADD: one round trip instead of two, and no subscriber can see the message before the
 * entry is readable. A duplicate or fenced append publishes nothing. Cluster and Sentinel Logs
 * have no publisher (a script's keys and a sharded channel would not share a slot).
 *
 * On a Redis Cluster the same layout and the same scripts run unchanged: the `{${stream}}` hash tag
 * puts a stream, its meta hash and its keys hash in one slot, so each script runs on one master and
 * a keyed append stays atomic; streams spread over the masters by slot. A stream name that is
 * empty or starts with `}` would give an empty hash tag (three slots), so the cluster Log refuses it.
 */
import { StatelineError } from '../errors.js';
import { CallGuard } from '../internal/guard.js';
import { redisPublishRoute } from '../internal/redis-publish-route.js';
import type { Bus } from '../bus/types.js';
import { checkAppendMessage } from './append-message.js';
import { connectRedis, redisScript, redisTarget, type RedisLink } from '../internal/redis-connect.js';
import {
  appendFence,
  appendKey,
  checkFence,
  checkThrough,
  checkSince,
  fenced,
  newEpoch,
  normalizeRetention,
  readLimit,
  resolveRead,
} from './retention.js';
import type {
  AppendField,
  AppendMessage,
  AppendOptions,
  AppendPublisher,
  AppendResult,
  Log,
  LogEntry,
  ReadOptions,
  ReadResult,
  RedisClusterLogOptions,
  RedisSentinelLogOptions,
  RedisLogOptions,
} from './types.js';

/** Shared by both scripts: KEYS[1] stream, KEYS[2] meta, KEYS[3] append keys. */
const COMMON = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The stream's epoch; a new one (and an empty stream) when the meta hash is missing.
local function epoch(candidate)
  if redis.call('HSETNX', KEYS[2], 'epoch', candidate) == 1 then
    redis.call('DEL', KEYS[1], KEYS[3])
    return candidate
  end
  return redis.call('HGET', KEYS[2], 'epoch')
end

-- Drops entries beyond maxCount, then leading entries older than maxAge; returns trimmedThrough.
local function trim(head, maxCount, maxAge, t)
  local trimmed = tonumber(redis.call('HGET', KEYS[2], 'trimmedThrough') or '0')
  local cut = head - maxCount
  if cut < trimmed then cut = trimmed end
  if maxAge ~= '' then
    local cutoff = t - tonumber(maxAge)
    local start = '(' .. cut .. '-0'
    if cut <= 0 then start = '-' end
    local batch = 8
    while true do
      local entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', batch)
      local old = 0
      for _, e in ipairs(entries) do
        if tonumber(e[2][2]) >= cutoff then break end
        old = old + 1
        cut = tonumber(string.match(e[1], '^(%d+)'))
      end
      if old < #entries or #entries < batch then break end
      start = '(' .. entries[#entries][1]
      if batch < 1024 then batch = batch * 2 end
    end
  end
  if cut > trimmed then
    if redis.call('EXISTS', KEYS[3]) == 1 then
      for _, e in ipairs(redis.call('XRANGE', KEYS[1], (trimmed + 1) .. '-0', cut .. '-0')) do
        if e[2][6] then redis.call('HDEL', KEYS[3], e[2][6]) end
      end
    end
    redis.call('XTRIM', KEYS[1], 'MINID', (cut + 1) .. '-0')
    redis.call('HSET', KEYS[2], 'trimmedThrough', cut)
    trimmed = cut
  end
  return trimmed
end
`;

/**
 * ARGV data, maxCount, maxAge ('' none), epoch candidate, key ('' none), fence ('' none), then
 * optionally a message to PUBLISH once the entry is stored: channel, field codes (one letter per
 * field: o offset, e epoch as a JSON string, a at), and the texts around the fields.
 * Returns {offset, epoch, at, duplicate (0/1)}, or {-1, current fence} when the fence is too old.
 */
const APPEND = redisScript(`${COMMON}
local t = now()
local ep = epoch(ARGV[4])
local key = ARGV[5]
if ARGV[6] ~= '' then
  local current = tonumber(redis.call('HGET', KEYS[2], 'fence') or '0')
  if tonumber(ARGV[6]) < current then return {-1, current} end
  redis.call('HSET', KEYS[2], 'fence', ARGV[6])
end
if key ~= '' then
  local known = redis.call('HGET', KEYS[3], key)
  if known then
    trim(tonumber(redis.call('HGET', KEYS[2], 'head') or '0'), tonumber(ARGV[2]), ARGV[3], t)
    local e = redis.call('XRANGE', KEYS[1], known .. '-0', known .. '-0')
    if #e == 1 then return {tonumber(known), ep, tonumber(e[1][2][2]), 1} end
  end
end
local head = redis.call('HINCRBY', KEYS[2], 'head', 1)
if key ~= '' then
  redis.call('XADD', KEYS[1], head .. '-0', 'at', t, 'data', ARGV[1], 'key', key)
  redis.call('HSET', KEYS[3], key, head)
else
  redis.call('XADD', KEYS[1], head .. '-0', 'at', t, 'data', ARGV[1])
end
trim(head, tonumber(ARGV[2]), ARGV[3], t)
if ARGV[7] then
  local parts = {ARGV[9]}
  for i = 1, #ARGV[8] do
    local f = string.sub(ARGV[8], i, i)
    if f == 'o' then parts[#parts + 1] = string.format('%d', head)
    elseif f == 'a' then parts[#parts + 1] = string.format('%d', t)
    else parts[#parts + 1] = cjson.encode(ep) end
    parts[#parts + 1] = ARGV[9 + i]
  end
  redis.call('PUBLISH', ARGV[7], table.concat(parts))
end
return {head, ep, t, 0}
`);

const FIELD_CODE: Record<AppendField, string> = { offset: 'o', epoch: 'e', at: 'a' };

/** ARGV fence, epoch candidate. Returns the stream's fence before the call (refused when above ARGV[1]). */
const FENCE = redisScript(`${COMMON}
epoch(ARGV[2])
local current = tonumber(redis.call('HGET', KEYS[2], 'fence') or '0')
if tonumber(ARGV[1]) >= current then redis.call('HSET', KEYS[2], 'fence', ARGV[1]) end
return current
`);

/**
 * ARGV through, fence ('' none). Removes entries up to min(through, head) with their keys.
 * Returns -1 and the fence when refused, else {0, 0}.
 */
const TRIM = redisScript(`
if ARGV[2] ~= '' then
  local current = tonumber(redis.call('HGET', KEYS[2], 'fence') or '0')
  if tonumber(ARGV[2]) < current then return {-1, current} end
end
local head = tonumber(redis.call('HGET', KEYS[2], 'head') or '0')
local trimmed = tonumber(redis.call('HGET', KEYS[2], 'trimmedThrough') or '0')
local cut = math.min(tonumber(ARGV[1]), head)
if cut > trimmed then
  if redis.call('EXISTS', KEYS[3]) == 1 then
    for _, e in ipairs(redis.call('XRANGE', KEYS[1], (trimmed + 1) .. '-0', cut .. '-0')) do
      if e[2][6] then redis.call('HDEL', KEYS[3], e[2][6]) end
    end
  end
  redis.call('XTRIM', KEYS[1], 'MINID', (cut + 1) .. '-0')
  redis.call('HSET', KEYS[2], 'trimmedThrough', cut)
end
return {0, 0}
`);

/**
 * ARGV since, reader epoch ('' none), limit, maxCount, maxAge ('' none), epoch candidate.
 * Returns {epoch, head, trimmedThrough, entries}; a reader from another epoch reads from the start.
 */
const READ = redisScript(`${COMMON}
local t = now()
local ep = epoch(ARGV[6])
local head = tonumber(redis.call('HGET', KEYS[2], 'head') or '0')
local trimmed = trim(head, tonumber(ARGV[4]), ARGV[5], t)
local from = tonumber(ARGV[1])
if ARGV[2] ~= '' and ARGV[2] ~= ep then from = 0 end
local entries = {}
if from < head then
  entries = redis.call('XRANGE', KEYS[1], (from + 1) .. '-0', '+', 'COUNT', tonumber(ARGV[3]))
end
return {ep, head, trimmed, entries}
`);

function unexpected(op: string, reply: unknown): StatelineError {
  return new StatelineError(
    'SL_ERR_LOG_UNAVAILABLE',
    `redis log: ${op} got an unexpected reply ${JSON.stringify(reply)?.slice(0, 100)}`,
  );
}

function toEntry(raw: unknown): LogEntry {
  // [id, ['at', at, 'data', data]]
  if (!Array.isArray(raw) || typeof raw[0] !== 'string' || !Array.isArray(raw[1]))
    throw unexpected('read', raw);
  const fields = raw[1] as unknown[];
  return { offset: Number.parseInt(raw[0], 10), data: String(fields[3]), at: Number(fields[1]) };
}

function toAppendResult(reply: unknown, stream: string, fence: number | null): AppendResult {
  if (Array.isArray(reply) && reply.length === 2 && reply[0] === -1 && fence !== null)
    throw fenced(stream, fence, Number(reply[1]));
  if (!Array.isArray(reply) || reply.length !== 4) throw unexpected('append', reply);
  const [offset, epoch, at, duplicate] = reply as [unknown, unknown, unknown, unknown];
  if (typeof offset !== 'number' || typeof epoch !== 'string' || typeof at !== 'number')
    throw unexpected('append', reply);
  return { offset, epoch, at, duplicate: duplicate === 1 };
}

/** The READ script's reply, with completeness decided by the shared retention rules. */
function toReadResult(reply: unknown, since: number, readerEpoch: string | undefined): ReadResult {
  if (!Array.isArray(reply) || reply.length !== 4 || !Array.isArray(reply[3]))
    throw unexpected('read', reply);
  const [epoch, head, trimmedThrough, raw] = reply as [unknown, unknown, unknown, unknown[]];
  if (typeof epoch !== 'string' || typeof head !== 'number' || typeof trimmedThrough !== 'number')
    throw unexpected('read', reply);
  const { from, complete } = resolveRead(since, readerEpoch, epoch, trimmedThrough);
  const entries: LogEntry[] = [];
  for (const r of raw) {
    const e = toEntry(r);
    if (e.offset > from) entries.push(e);
  }
  return { epoch, entries, head, complete };
}

/** The APPEND script's publish arguments: channel, field codes, texts. */
function publishArgs(prefix: string, m: AppendMessage): string[] {
  checkAppendMessage(m);
  return [prefix + m.channel, m.fields.map((f) => FIELD_CODE[f]).join(''), ...m.text];
}

class RedisLog implements Log {
  private readonly maxCount: string;
  private readonly maxAge: string;

  constructor(
    readonly backend: 'redis' | 'redis-cluster' | 'redis-sentinel',
    private readonly link: RedisLink,
    private readonly prefix: string,
    retention: { maxCount: number; maxAge: number | null },
    private readonly guard: CallGuard,
    /** The single server's url (`type: 'redis'`), matched against a Bus's for {@link publisherFor}. */
    private readonly url?: string,
  ) {
    this.maxCount = String(retention.maxCount);
    this.maxAge = retention.maxAge === null ? '' : String(Math.round(retention.maxAge));
  }

  private keys(stream: string): [string, string, string] {
    if (this.backend === 'redis-cluster' && (stream === '' || stream.startsWith('}'))) {
      throw new StatelineError(
        'SL_ERR_INVALID_ARGUMENT',
        `redis-cluster log: stream name ${JSON.stringify(stream.slice(0, 40))} is empty or starts with "}", so its keys would not share a hash slot`,
      );
    }
    const key = `${this.prefix}log:{${stream}}`;
    return [key, `${key}:meta`, `${key}:keys`];
  }

  append(stream: string, data: string, options?: AppendOptions): Promise<AppendResult> {
    return this.guard.run('append', () => this.appendCall(stream, data, options, []));
  }

  /**
   * For a single-server Redis Bus on this Log's url: the append script PUBLISHes the message on
   * the Bus's channel (its prefix added) right after the entry is stored, in the same call.
   */
  publisherFor(bus: Bus): AppendPublisher | undefined {
    const route = redisPublishRoute(bus);
    if (!route || this.url === undefined || route.url !== this.url) return undefined;
    return (stream, data, message, options) =>
      this.guard.run('append', () => {
        if (route.closed()) throw new StatelineError('SL_ERR_CLOSED', 'redis bus was closed');
        return this.appendCall(stream, data, options, publishArgs(route.prefix, message)).then((r) => {
          if (!r.duplicate) route.published?.();
          return r;
        });
      });
  }

  private appendCall(
    stream: string,
    data: string,
    options: AppendOptions | undefined,
    publish: string[],
  ): Promise<AppendResult> {
    const key = appendKey(options) ?? '';
    const fence = appendFence(options);
    return this.link.script(
      APPEND,
      this.keys(stream),
      [data, this.maxCount, this.maxAge, newEpoch(), key, fence === null ? '' : String(fence), ...publish],
      (reply) => toAppendResult(reply, stream, fence),
    );
  }

  fence(stream: string, fence: number): Promise<void> {
    return this.guard.run('fence', () => {
      checkFence(fence);
      return this.link.script(FENCE, this.keys(stream), [String(fence), newEpoch()], (reply) => {
        if (typeof reply !== 'number') throw unexpected('fence', reply);
        if (fence < reply) throw fenced(stream, fence, reply);
      });
    });
  }

  trim(stream: string, through: number, options?: { fence?: number }): Promise<void> {
    return this.guard.run('trim', () => {
      checkThrough(through);
      const fence = appendFence(options);
      const args = [String(through), fence === null ? '' : String(fence)];
      return this.link.script(TRIM, this.keys(stream), args, (reply) => {
        if (!Array.isArray(reply) || reply.length !== 2) throw unexpected('trim', reply);
        if (reply[0] === -1) throw fenced(stream, fence ?? 0, Number(reply[1]));
      });
    });
  }

  read(stream: string, since: number, options: ReadOptions = {}): Promise<ReadResult> {
    return this.guard.run('read', () => {
      checkSince(since);
      const limit = readLimit(options.limit);
      const args = [
        String(since),
        options.epoch ?? '',
        String(limit),
        this.maxCount,
        this.maxAge,
        newEpoch(),
      ];
      return this.link.script(READ, this.keys(stream), args, (reply) =>
        toReadResult(reply, since, options.epoch),
      );
    });
  }

  async close(): Promise<void> {
    if (!this.guard.close()) return;
    await this.link.close();
  }
}

/**
 * Opens a Redis Log, on one server or (`type: 'redis-cluster'`) on a Redis Cluster. Rejects with
 * `SL_ERR_LOG_UNAVAILABLE` when the server cannot be reached within `timeout`; once open it
 * reconnects by itself. Usually reached through `createLog`.
 *
 * @example
 * ```ts
 * const log = await openRedisLog({ type: 'redis', url: 'redis://127.0.0.1:6379', retention: { maxCount: 1000, maxAge: 86_400_000 } });
 * const { offset, epoch } = await log.append('room:lobby', '{"text":"hi"}');
 * const sharded = await openRedisLog({ type: 'redis-cluster', nodes: ['redis://10.0.0.1:7000'] });
 * const failover = await openRedisLog({ type: 'redis-sentinel', sentinels: ['10.0.0.1:26379'], name: 'mymaster' });
 * ```
 */
export async function openRedisLog(
  options: RedisLogOptions | RedisClusterLogOptions | RedisSentinelLogOptions,
): Promise<Log> {
  const timeout = options.timeout ?? 2000;
  const retention = normalizeRetention(options.retention);
  const label = `${options.type} log`;
  if (options.type === 'redis' && (typeof options.url !== 'string' || !options.url)) {
    throw new StatelineError('SL_ERR_INVALID_OPTION', 'redis log needs a url such as redis://127.0.0.1:6379');
  }
  const link = await connectRedis(redisTarget(options), {
    code: 'SL_ERR_LOG_UNAVAILABLE',
    label,
    timeout,
    logger: options.logger,
  });
  return new RedisLog(
    options.type,
    link,
    options.prefix ?? 'sl:',
    retention,
    new CallGuard('SL_ERR_LOG_UNAVAILABLE', label, timeout),
    options.type === 'redis' ? options.url : undefined,
  );
}
