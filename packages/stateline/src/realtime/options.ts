import { randomUUID } from 'node:crypto';
import { StatelineError } from '../errors.js';
import { parseDuration } from '../internal/duration.js';
import { rejectUnknown } from '../internal/spec.js';
import type { HubOptions, RateLimit } from './types.js';
import { resolveLogger, type Logger } from '../logger.js';

const KNOWN = [
  'server',
  'path',
  'log',
  'bus',
  'sessions',
  'rooms',
  'anonymous',
  'origins',
  'history',
  'heartbeat',
  'pingInterval',
  'queueLimit',
  'slowConsumer',
  'maxMessageBytes',
  'rateLimit',
  'maxRoomsPerSocket',
  'reorderWait',
  'flushInterval',
  'dedupWindow',
  'instanceId',
  'prefix',
  'logger',
];

/** Options with defaults applied and every value checked. */
export interface ResolvedHubOptions {
  path: string;
  anonymous: boolean;
  origins: readonly string[] | '*' | 'same-host';
  heartbeat: number;
  pingInterval: number | false;
  queueLimit: number;
  slowConsumer: 'disconnect' | 'drop-oldest';
  maxMessageBytes: number;
  /** The `ws` maxPayload: frames beyond it are refused (1009) before they are buffered. */
  maxPayload: number;
  rateLimit: { messages: number; per: number; burst: number } | false;
  maxRoomsPerSocket: number;
  reorderWait: number;
  flushInterval: number;
  dedupWindow: number;
  instanceId: string;
  prefix: string;
  logger: Logger;
}

const bad = (detail: string) => new StatelineError('SL_ERR_INVALID_OPTION', `createHub: ${detail}`);

function positive(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || (v as number) <= 0)
    throw bad(`${name} must be a positive integer (got ${JSON.stringify(v)})`);
  return v as number;
}

function rate(r: RateLimit | false | undefined): ResolvedHubOptions['rateLimit'] {
  if (r === false) return false;
  const v = r ?? { messages: 20 };
  if (typeof v !== 'object' || v === null) throw bad('rateLimit must be { messages, per?, burst? } or false');
  rejectUnknown(v, ['messages', 'per', 'burst'], 'createHub rateLimit');
  const messages = positive(v.messages, 'rateLimit.messages', 20);
  const per = parseDuration(v.per ?? 1000, 'rateLimit.per');
  if (per <= 0) throw bad('rateLimit.per must be positive');
  return { messages, per, burst: positive(v.burst, 'rateLimit.burst', 2 * messages) };
}

/** Checks hub options and fills in defaults. */
export function resolveHubOptions(o: HubOptions): ResolvedHubOptions {
  if (!o || typeof o !== 'object') throw bad('options are required ({ log, bus, ... })');
  rejectUnknown(o, KNOWN, 'createHub');
  if (o.log === undefined || o.log === null)
    throw bad('log is required (a Log or a spec such as "redis://127.0.0.1:6379")');
  if (o.bus === undefined || o.bus === null)
    throw bad('bus is required (a Bus or a spec such as "redis://127.0.0.1:6379")');
  const path = o.path ?? '/realtime';
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw bad(`path must start with "/" (got ${JSON.stringify(path)})`);
  const origins = o.origins ?? 'same-host';
  if (!(
    origins === '*' ||
    origins === 'same-host' ||
    (Array.isArray(origins) && origins.every((x) => typeof x === 'string'))
  ))
    throw bad("origins must be a list of origins, '*' or 'same-host'");
  const slowConsumer = o.slowConsumer ?? 'disconnect';
  if (slowConsumer !== 'disconnect' && slowConsumer !== 'drop-oldest')
    throw bad("slowConsumer must be 'disconnect' or 'drop-oldest'");
  const heartbeat = parseDuration(o.heartbeat ?? '5s', 'heartbeat');
  if (heartbeat < 10) throw bad('heartbeat must be at least 10 ms');
  const pingInterval =
    o.pingInterval === false ? false : parseDuration(o.pingInterval ?? '30s', 'pingInterval');
  if (pingInterval !== false && pingInterval < 10) throw bad('pingInterval must be at least 10 ms, or false');
  const maxMessageBytes = positive(o.maxMessageBytes, 'maxMessageBytes', 16 * 1024);
  const instanceId = o.instanceId ?? randomUUID().slice(0, 8);
  if (typeof instanceId !== 'string' || instanceId.length === 0)
    throw bad('instanceId must be a non-empty string');
  const prefix = o.prefix ?? 'rt:';
  if (typeof prefix !== 'string') throw bad('prefix must be a string');
  if (o.anonymous !== undefined && typeof o.anonymous !== 'boolean') throw bad('anonymous must be a boolean');
  if (o.rooms !== undefined && typeof o.rooms !== 'function')
    throw bad('rooms must be a function (room) => policy');
  if (
    o.history !== undefined &&
    typeof o.log === 'object' &&
    typeof (o.log as { append?: unknown }).append === 'function'
  )
    throw bad('history applies when log is a spec; a Log you pass keeps the retention it was opened with');
  return {
    path,
    anonymous: o.anonymous ?? true,
    origins,
    heartbeat,
    pingInterval,
    queueLimit: positive(o.queueLimit, 'queueLimit', 1024),
    slowConsumer,
    maxMessageBytes,
    maxPayload: Math.max(64 * 1024, 4 * maxMessageBytes),
    rateLimit: rate(o.rateLimit),
    maxRoomsPerSocket: positive(o.maxRoomsPerSocket, 'maxRoomsPerSocket', 32),
    reorderWait: parseDuration(o.reorderWait ?? 50, 'reorderWait'),
    flushInterval: parseDuration(o.flushInterval ?? 10, 'flushInterval'),
    dedupWindow: positive(o.dedupWindow, 'dedupWindow', 4096),
    instanceId,
    prefix,
    logger: resolveLogger(o.logger, 'createHub', 'StatelineRealtimeWarning'),
  };
}
