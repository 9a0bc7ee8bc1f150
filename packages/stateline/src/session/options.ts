import { randomUUID } from 'node:crypto';
import { StatelineError } from '../errors.js';
import { parseDuration } from '../internal/duration.js';
import { rejectUnknown } from '../internal/spec.js';
import type { MigrationReader } from './types.js';
import { KeyRing } from './key-ring.js';
import { resolveLogger, type Logger } from '../logger.js';
import type { SessionOptions, SessionStrategyName } from './types.js';

const KNOWN = [
  'strategy',
  'store',
  'bus',
  'keys',
  'idleTimeout',
  'absoluteTimeout',
  'renewalTimeout',
  'renewalGrace',
  'touchAfter',
  'cookie',
  'onStoreError',
  'trustProxy',
  'maxTokenBytes',
  'compress',
  'maxSessions',
  'cacheSize',
  'revocationSync',
  'now',
  'replication',
  'instanceId',
  'replicationTimeout',
  'logger',
  'migrate',
];
const STRATEGIES: SessionStrategyName[] = ['server', 'token', 'memory', 'hybrid'];

/** Options with defaults applied and every value checked. */
export interface ResolvedOptions {
  strategy: SessionStrategyName;
  ring: KeyRing;
  idle: number;
  absolute: number;
  renewal: number;
  grace: number;
  touchAfter: number;
  cookie: { name: string; secure: 'auto' | boolean; sameSite: 'lax' | 'strict' | 'none'; domain?: string };
  onStoreError: 'fail' | 'anonymous';
  trustProxy: boolean;
  maxTokenBytes: number;
  /** `token` compression: at or above `threshold` bytes, unless the session holds a key of `except`; null: off. */
  compress: { threshold: number; except: string[] } | null;
  maxSessions: number;
  cacheSize: number;
  revocationSync: number;
  replication: 'off' | 'backup' | 'all';
  instanceId: string;
  replicationTimeout: number;
  /** Legacy-cookie readers, in the order they are tried (empty: none). */
  migrate: readonly MigrationReader[];
  now: () => number;
  logger: Logger;
}

const bad = (msg: string) => new StatelineError('SL_ERR_INVALID_OPTION', msg);

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    throw bad(`${name} must be a positive integer (got ${JSON.stringify(value)})`);
  return value;
}

/** Validates `createSessions` options and fills in the defaults documented on {@link SessionOptions}. */
export function resolveOptions(o: SessionOptions): ResolvedOptions {
  if (!o || typeof o !== 'object') throw bad('createSessions needs an options object with at least `keys`');
  rejectUnknown(o, KNOWN, 'createSessions');
  const strategy = o.strategy ?? 'server';
  if (!STRATEGIES.includes(strategy))
    throw bad(`strategy must be one of ${STRATEGIES.join(', ')} (got ${JSON.stringify(strategy)})`);
  const idle = parseDuration(o.idleTimeout ?? '30m', 'idleTimeout');
  const absolute = parseDuration(o.absoluteTimeout ?? '8h', 'absoluteTimeout');
  if (idle <= 0 || absolute <= 0) throw bad('idleTimeout and absoluteTimeout must be longer than zero');
  const cookie = o.cookie ?? {};
  if (typeof cookie !== 'object') throw bad('cookie must be an object');
  rejectUnknown(cookie, ['name', 'secure', 'sameSite', 'domain'], 'cookie');
  const name = cookie.name ?? 'sl.sid';
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name))
    throw bad(`cookie.name ${JSON.stringify(name)} is not a valid cookie name`);
  const secure = cookie.secure ?? 'auto';
  if (secure !== 'auto' && typeof secure !== 'boolean')
    throw bad("cookie.secure must be 'auto', true or false");
  const sameSite = cookie.sameSite ?? 'lax';
  if (!['lax', 'strict', 'none'].includes(sameSite))
    throw bad("cookie.sameSite must be 'lax', 'strict' or 'none'");
  if (sameSite === 'none' && secure === false) throw bad("cookie.sameSite 'none' needs a Secure cookie");
  const onStoreError = o.onStoreError ?? 'fail';
  if (onStoreError !== 'fail' && onStoreError !== 'anonymous')
    throw bad("onStoreError must be 'fail' or 'anonymous'");
  if (o.now !== undefined && typeof o.now !== 'function')
    throw bad('now must be a function returning epoch ms');
  const replication = o.replication ?? 'off';
  if (!['off', 'backup', 'all'].includes(replication)) {
    throw bad(`replication must be 'off', 'backup' or 'all' (got ${JSON.stringify(replication)})`);
  }
  if (replication !== 'off' && strategy !== 'memory') {
    throw bad(`replication applies to the memory strategy only (strategy is ${strategy})`);
  }
  const instanceId = o.instanceId ?? process.env.STATELINE_INSTANCE_ID ?? randomUUID();
  if (typeof instanceId !== 'string' || instanceId.length === 0)
    throw bad('instanceId must be a non-empty string');
  return {
    strategy,
    ring: new KeyRing(o.keys),
    idle,
    absolute,
    renewal: parseDuration(o.renewalTimeout ?? '1h', 'renewalTimeout'),
    grace: parseDuration(o.renewalGrace ?? '30s', 'renewalGrace'),
    touchAfter:
      o.touchAfter === undefined ? Math.floor(idle / 10) : parseDuration(o.touchAfter, 'touchAfter'),
    cookie: { name, secure, sameSite, ...(cookie.domain ? { domain: cookie.domain } : {}) },
    onStoreError,
    trustProxy: o.trustProxy ?? false,
    maxTokenBytes: positive(o.maxTokenBytes, 'maxTokenBytes', 4096),
    compress: resolveCompress(o.compress),
    maxSessions: positive(o.maxSessions, 'maxSessions', 100_000),
    cacheSize: positive(o.cacheSize, 'cacheSize', 10_000),
    revocationSync: parseDuration(o.revocationSync ?? '1s', 'revocationSync'),
    replication,
    instanceId,
    replicationTimeout: parseDuration(o.replicationTimeout ?? '500ms', 'replicationTimeout'),
    migrate: resolveMigrate(o.migrate),
    now: o.now ?? Date.now,
    logger: resolveLogger(o.logger, 'createSessions'),
  };
}

function resolveCompress(c: SessionOptions['compress']): ResolvedOptions['compress'] {
  if (c === undefined || c === false) return null;
  if (c === true) return { threshold: 1024, except: [] };
  if (!c || typeof c !== 'object') throw bad('compress must be true, false or { threshold, except }');
  rejectUnknown(c, ['threshold', 'except'], 'compress');
  const except = c.except ?? [];
  if (!Array.isArray(except) || !except.every((k) => typeof k === 'string'))
    throw bad('compress.except must be an array of session keys');
  return { threshold: positive(c.threshold, 'compress.threshold', 1024), except: [...except] };
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function resolveMigrate(readers: SessionOptions['migrate']): readonly MigrationReader[] {
  if (readers === undefined) return [];
  if (!Array.isArray(readers))
    throw bad('migrate must be an array of readers, e.g. [fromExpressSession({ … })] from stateline/migrate');
  readers.forEach((r: Partial<MigrationReader> | null, i) => {
    const at = `migrate[${i}]`;
    if (!r || typeof r !== 'object' || typeof r.read !== 'function')
      throw bad(`${at} is not a reader: make one with stateline/migrate (fromExpressSession, …)`);
    if (typeof r.name !== 'string' || r.name === '') throw bad(`${at} needs a name`);
    const names: unknown = r.cookieNames;
    if (!Array.isArray(names) || names.length === 0)
      throw bad(`${at} (${r.name}) must list the cookies it reads in cookieNames`);
    for (const n of names as unknown[])
      if (typeof n !== 'string' || !COOKIE_NAME.test(n))
        throw bad(`${at} (${r.name}): ${JSON.stringify(n)} is not a valid cookie name`);
    if (r.close !== undefined && typeof r.close !== 'function')
      throw bad(`${at} (${r.name}): close must be a function`);
  });
  return [...readers];
}
