import { StatelineError } from 'stateline/errors';
import { resolveLogger, type Logger } from 'stateline/logger';
import type { IncomingMessage } from 'node:http';
import type { Balance, GatewayOptions, ResponseEvent, StateChange } from './types.js';

export const BALANCES: readonly Balance[] = ['round-robin', 'least-conn', 'sticky', 'hash'];
/** The session cookie's names (`sl.sid`, or with the `__Host-` prefix when it is Secure), most specific first. */
export const SESSION_COOKIES: readonly string[] = ['__Host-sl.sid', 'sl.sid'];
export const DEFAULT_STICKY_COOKIE = 'sl.route';
/** The gateway's request body limit unless `maxBodyBytes` says otherwise: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Options with defaults applied and values checked. */
export interface ResolvedOptions {
  balance: Balance;
  hashCookies: readonly string[];
  /** Lower-case; set when hashing on a header. */
  hashHeader: string | undefined;
  balanceFactor: number;
  virtualNodes: number;
  stickyCookie: string;
  health: { path: string; interval: number; timeout: number; rise: number; fall: number } | false;
  /** Largest request body forwarded; larger ones get 413 from the gateway. */
  bodyLimit: number;
  /** Lower-case header name and value set on every forwarded request (see `proof`). */
  proof: { header: string; value: string } | undefined;
  /** Request bodies up to this size are buffered for replay. */
  replayBytes: number;
  attempts: number;
  connectTimeout: number;
  responseTimeout: number;
  metrics: boolean;
  onStateChange: ((change: StateChange) => void) | undefined;
  onResponse: ((event: ResponseEvent) => void) | undefined;
  onError: (err: unknown, req: IncomingMessage) => void;
}

/** Options of earlier 0.x versions, and what replaced them. */
const REMOVED: Readonly<Record<string, string>> = {
  control: 'the control option was removed: add the handler with gw.use(handler), which sees every path',
};

/** The default `onError`: what failed, with the request's method and URL, to the logger. */
function reportTo(log: Logger): (err: unknown, req: IncomingMessage) => void {
  return (err, req) =>
    log.error(
      { err, method: req.method, url: req.url },
      `stateline gateway: a front handler failed on ${req.method} ${req.url}`,
    );
}

function invalid(detail: string): StatelineError {
  return new StatelineError('SL_ERR_INVALID_OPTION', `gateway: ${detail}`);
}

function rejectUnknown(value: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (where === '' && Object.hasOwn(REMOVED, key)) throw invalid(REMOVED[key]!);
    if (!known.includes(key)) throw invalid(`unknown option ${where}${key} (known: ${known.join(', ')})`);
  }
}

function number(value: unknown, name: string, fallback: number, min: number, integer = true): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    (integer && !Number.isInteger(value))
  ) {
    throw invalid(
      `${name} must be ${integer ? 'an integer' : 'a number'} >= ${min} (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

function object<T extends object>(value: T | undefined, name: string, known: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw invalid(`${name} must be an object`);
  rejectUnknown(value, known, `${name}.`);
  return value;
}

/**
 * Applies defaults and refuses unknown or ill-typed options with `SL_ERR_INVALID_OPTION`.
 */
export function resolveOptions(options: GatewayOptions = {}): ResolvedOptions {
  rejectUnknown(
    options,
    [
      'balance',
      'hash',
      'stickyCookie',
      'health',
      'maxBodyBytes',
      'proof',
      'retry',
      'timeouts',
      'metrics',
      'onStateChange',
      'onResponse',
      'onError',
      'logger',
    ],
    '',
  );
  const balance = options.balance ?? 'round-robin';
  if (!BALANCES.includes(balance)) {
    throw invalid(`balance must be one of ${BALANCES.join(', ')} (got ${JSON.stringify(balance)})`);
  }
  const hash = object(options.hash, 'hash', ['cookie', 'header', 'balanceFactor', 'virtualNodes']);
  if (hash.cookie !== undefined && hash.header !== undefined)
    throw invalid('hash takes a cookie or a header, not both');
  if (hash.cookie !== undefined && (typeof hash.cookie !== 'string' || !COOKIE_NAME.test(hash.cookie))) {
    throw invalid(`hash.cookie is not a cookie name (got ${JSON.stringify(hash.cookie)})`);
  }
  if (hash.header !== undefined && (typeof hash.header !== 'string' || !HEADER_NAME.test(hash.header))) {
    throw invalid(`hash.header is not a header name (got ${JSON.stringify(hash.header)})`);
  }
  const stickyCookie = options.stickyCookie ?? DEFAULT_STICKY_COOKIE;
  if (typeof stickyCookie !== 'string' || !COOKIE_NAME.test(stickyCookie)) {
    throw invalid(`stickyCookie is not a cookie name (got ${JSON.stringify(stickyCookie)})`);
  }
  let health: ResolvedOptions['health'] = false;
  if (options.health !== false) {
    const h = object(options.health, 'health', ['path', 'interval', 'timeout', 'rise', 'fall']);
    const path = h.path ?? '/healthz';
    if (typeof path !== 'string' || !path.startsWith('/')) throw invalid('health.path must start with /');
    health = {
      path,
      interval: number(h.interval, 'health.interval', 1000, 10),
      timeout: number(h.timeout, 'health.timeout', 500, 1),
      rise: number(h.rise, 'health.rise', 2, 1),
      fall: number(h.fall, 'health.fall', 2, 1),
    };
  }
  let proof: ResolvedOptions['proof'];
  if (options.proof !== undefined) {
    const pr = object(options.proof, 'proof', ['header', 'value']);
    if (typeof pr.header !== 'string' || !HEADER_NAME.test(pr.header))
      throw invalid(`proof.header is not a header name (got ${JSON.stringify(pr.header)})`);
    if (typeof pr.value !== 'string' || !/^[\x21-\x7e]{16,256}$/.test(pr.value))
      throw invalid('proof.value must be 16 to 256 visible ASCII characters');
    proof = { header: pr.header.toLowerCase(), value: pr.value };
  }
  const retry = object(options.retry, 'retry', ['maxBodyBytes', 'attempts']);
  const timeouts = object(options.timeouts, 'timeouts', ['connect', 'response']);
  for (const hook of ['onStateChange', 'onResponse', 'onError'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function')
      throw invalid(`${hook} must be a function`);
  }
  if (options.metrics !== undefined && typeof options.metrics !== 'boolean')
    throw invalid('metrics must be a boolean');
  return {
    balance,
    hashCookies: hash.cookie !== undefined ? [hash.cookie] : SESSION_COOKIES,
    hashHeader: hash.header?.toLowerCase(),
    balanceFactor: number(hash.balanceFactor, 'hash.balanceFactor', 1.25, 1, false),
    virtualNodes: number(hash.virtualNodes, 'hash.virtualNodes', 160, 1),
    stickyCookie,
    health,
    bodyLimit: number(options.maxBodyBytes, 'maxBodyBytes', DEFAULT_MAX_BODY_BYTES, 0),
    proof,
    replayBytes: number(retry.maxBodyBytes, 'retry.maxBodyBytes', 1_048_576, 0),
    attempts: number(retry.attempts, 'retry.attempts', 2, 0),
    connectTimeout: number(timeouts.connect, 'timeouts.connect', 2000, 1),
    responseTimeout: number(timeouts.response, 'timeouts.response', 60_000, 1),
    metrics: options.metrics ?? true,
    onStateChange: options.onStateChange,
    onResponse: options.onResponse,
    onError: options.onError ?? reportTo(resolveLogger(options.logger, 'gateway')),
  };
}
