import { StatelineError } from '../errors.js';
import { parseDuration } from '../internal/duration.js';
import { rejectUnknown } from '../internal/spec.js';
import { storeOptionsFromSpec } from '../store/index.js';
import type { Store, StoreOptions } from '../store/types.js';
import type { IdempotencyOptions } from './types.js';
import { resolveLogger, type Logger } from '../logger.js';

export const DEFAULT_STORE = 'sqlite:.stateline/state.db';
export const DEFAULT_REPLAY_HEADERS = [
  'content-type',
  'content-language',
  'location',
  'etag',
  'last-modified',
];

/** Options with defaults applied and values checked. */
export interface ResolvedOptions<Req> {
  store: Store | StoreOptions;
  methods: ReadonlySet<string>;
  required: (req: Req) => boolean;
  ttl: number;
  lockTimeout: number;
  scope: ((req: Req) => string | Promise<string>) | undefined;
  fingerprint: ((req: Req) => string | Promise<string>) | undefined;
  replayHeaders: ReadonlySet<string>;
  maxBodyBytes: number;
  onError: (err: unknown) => void;
}

const KNOWN = [
  'store',
  'methods',
  'required',
  'ttl',
  'lockTimeout',
  'scope',
  'fingerprint',
  'replayHeaders',
  'maxBodyBytes',
  'onError',
  'logger',
];
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

function isStore(value: unknown): value is Store {
  return (
    typeof value === 'object' && value !== null && typeof (value as Partial<Store>).create === 'function'
  );
}

function invalid(detail: string): StatelineError {
  return new StatelineError('SL_ERR_INVALID_OPTION', `idempotency: ${detail}`);
}

function positiveDuration(value: number | string, name: string): number {
  const ms = parseDuration(value, `idempotency ${name}`);
  if (ms <= 0) throw invalid(`${name} must be longer than 0`);
  return ms;
}

function callback<F>(value: unknown, name: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalid(`${name} must be a function`);
  return value as F;
}

/** The default `onError`: the failure to the logger as `err`. */
function reportTo(log: Logger): (err: unknown) => void {
  return (err) =>
    log.error({ err }, 'stateline/idempotency: an outcome could not be saved or the handler failed');
}

/** Applies defaults and refuses unknown or ill-typed options with `SL_ERR_INVALID_OPTION`. */
export function resolveOptions<Req>(options: IdempotencyOptions<Req>): ResolvedOptions<Req> {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  rejectUnknown(options, KNOWN, 'idempotency');
  const {
    required = false,
    methods = ['POST', 'PATCH'],
    replayHeaders = DEFAULT_REPLAY_HEADERS,
    maxBodyBytes = 1024 * 1024,
  } = options;
  if (
    !Array.isArray(methods) ||
    methods.length === 0 ||
    !methods.every((m) => typeof m === 'string' && TOKEN.test(m.toLowerCase()))
  ) {
    throw invalid('methods must be a non-empty list of method names');
  }
  if (typeof required !== 'boolean' && typeof required !== 'function')
    throw invalid('required must be a boolean or a function (req) => boolean');
  if (
    !Array.isArray(replayHeaders) ||
    !replayHeaders.every((h) => typeof h === 'string' && TOKEN.test(h.toLowerCase()))
  ) {
    throw invalid('replayHeaders must be a list of header names');
  }
  const allow = new Set(replayHeaders.map((h) => h.toLowerCase()));
  // A replayed Set-Cookie would hand the first response's session to whoever retries.
  if (allow.has('set-cookie')) throw invalid('replayHeaders cannot include set-cookie');
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0)
    throw invalid('maxBodyBytes must be a whole number of bytes');
  const store = options.store ?? DEFAULT_STORE;
  return {
    store: isStore(store)
      ? store
      : { ...storeOptionsFromSpec(store), ...(options.logger ? { logger: options.logger } : {}) },
    methods: new Set(methods.map((m) => m.toUpperCase())),
    required: typeof required === 'function' ? required : () => required,
    ttl: positiveDuration(options.ttl ?? '24h', 'ttl'),
    lockTimeout: positiveDuration(options.lockTimeout ?? '60s', 'lockTimeout'),
    scope: callback(options.scope, 'scope'),
    fingerprint: callback(options.fingerprint, 'fingerprint'),
    replayHeaders: allow,
    maxBodyBytes,
    onError: callback(options.onError, 'onError') ?? reportTo(resolveLogger(options.logger, 'idempotency')),
  };
}
