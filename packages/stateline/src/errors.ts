import { REGISTRY } from './internal/error-registry.js';

/**
 * The library's own error codes: every error `stateline/*` raises carries one of these. Codes the
 * library does not raise itself belong to whoever raises them: `stateline/http` defines the generic
 * HTTP problems, and a gateway, a tool or an app defines its own with {@link defineError}.
 * `docs/ERRORS.md` lists each package's codes and a test keeps each list in step with its code.
 *
 * @example
 * ```ts
 * import { StatelineError, isStatelineError } from 'stateline/errors';
 * try { await store.get('k'); }
 * catch (err) { if (isStatelineError(err, 'SL_ERR_STORE_UNAVAILABLE')) res.statusCode = err.status; }
 * ```
 */
export const ERROR_CATALOGUE = {
  SL_ERR_INTERNAL: { status: 500, message: 'Something went wrong inside the server' },
  SL_ERR_INVALID_SPEC: { status: 500, message: 'The backend spec is not understood' },
  SL_ERR_INVALID_OPTION: { status: 500, message: 'An option is unknown or has an invalid value' },
  SL_ERR_INVALID_ARGUMENT: { status: 500, message: 'An argument has an invalid value' },
  SL_ERR_PEER_DEPENDENCY_MISSING: {
    status: 500,
    message: 'An optional package this backend needs is not installed',
  },
  SL_ERR_CLOSED: { status: 503, message: 'The backend was closed' },
  SL_ERR_STORE_UNAVAILABLE: { status: 503, message: 'The state store cannot be reached' },
  SL_ERR_STORE_VALUE_TOO_LARGE: {
    status: 500,
    message: 'The record is larger than the store accepts for one item',
  },
  SL_ERR_BUS_UNAVAILABLE: { status: 503, message: 'The message bus cannot be reached' },
  SL_ERR_BUS_PAYLOAD_TOO_LARGE: {
    status: 500,
    message: 'The bus message is larger than the backend accepts',
  },
  SL_ERR_SESSION_ENDED: { status: 409, message: 'The session ended while this request was running' },
  SL_ERR_SESSION_TOO_LARGE: { status: 500, message: 'The session does not fit in its token budget' },
  SL_ERR_SESSION_CONTENDED: { status: 503, message: 'Too many concurrent writes to one session' },
  SL_ERR_LOG_UNAVAILABLE: { status: 503, message: 'The log cannot be reached' },
  SL_ERR_IDEMPOTENCY_KEY_MISSING: { status: 400, message: 'This request needs an Idempotency-Key header' },
  SL_ERR_IDEMPOTENCY_KEY_INVALID: { status: 400, message: 'The Idempotency-Key header is malformed' },
  SL_ERR_IDEMPOTENCY_IN_FLIGHT: {
    status: 409,
    message: 'A request with this Idempotency-Key is still being processed',
  },
  SL_ERR_IDEMPOTENCY_MISMATCH: {
    status: 422,
    message: 'This Idempotency-Key was used for a different request',
  },
  SL_ERR_IDEMPOTENCY_RESPONSE_NOT_STORED: {
    status: 409,
    message: 'The request already ran but its response was too large to replay',
  },
  SL_ERR_IDEMPOTENCY_BODY_UNREADABLE: {
    status: 415,
    message: 'The request body cannot be read to fingerprint it',
  },
  SL_ERR_IDEMPOTENCY_LOCK_EXPIRED: {
    status: 500,
    message: 'A handler outlived its idempotency lock and another request took over the key',
  },
  SL_ERR_TOKEN_INVALID: {
    status: 401,
    message: 'The bearer token is missing, malformed, expired, revoked or not ours',
  },
  SL_ERR_TOKEN_SCOPE: { status: 403, message: 'The bearer token lacks a scope this needs' },
  SL_ERR_REFRESH_INVALID: {
    status: 401,
    message: 'The refresh token is unknown, expired, revoked or was already used',
  },
  SL_ERR_CSRF: { status: 403, message: 'A cross-site request may not change anything here' },
  SL_ERR_REALTIME_BAD_FRAME: { status: 400, message: 'The realtime frame is not valid' },
  SL_ERR_REALTIME_UNAUTHENTICATED: {
    status: 401,
    message: 'This realtime room or hub needs a logged-in session',
  },
  SL_ERR_REALTIME_FORBIDDEN: { status: 403, message: 'The room policy refused this' },
  SL_ERR_REALTIME_NOT_JOINED: { status: 409, message: 'The socket has not joined this room' },
  SL_ERR_REALTIME_MESSAGE_TOO_LARGE: {
    status: 413,
    message: 'The realtime frame is larger than maxMessageBytes',
  },
  SL_ERR_REALTIME_RATE_LIMITED: { status: 429, message: 'The socket sent too many frames' },
  SL_ERR_REALTIME_TOO_MANY_ROOMS: { status: 429, message: 'The socket is in too many rooms' },
  SL_ERR_REALTIME_SLOW_CONSUMER: { status: 503, message: 'The socket fell too far behind its rooms' },
} as const satisfies Record<string, { status: number; message: string }>;

/** One of the library's own codes, e.g. `'SL_ERR_STORE_UNAVAILABLE'` (see {@link ERROR_CATALOGUE}). */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** A code with the HTTP status and fixed message it was defined with. */
export interface ErrorDefinition {
  readonly code: string;
  readonly status: number;
  readonly message: string;
}

/** What {@link defineError} returns: the error's constructor, which also carries its definition. */
export interface DefinedError extends ErrorDefinition {
  new (detail?: string, options?: { cause?: unknown }): StatelineError;
}

for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) REGISTRY.set(code, { ...entry });

/**
 * The one error class Stateline and the packages built on it throw. `code` is stable across
 * versions; `status` is the HTTP status an adapter answers with; `message` (the code's fixed
 * message, then the detail) is for humans and may change. The library throws it with one of its own
 * {@link ErrorCode}s; any other code must first be defined with {@link defineError}.
 *
 * @example
 * ```ts
 * throw new StatelineError('SL_ERR_INVALID_OPTION', 'timeout must be a positive number');
 * ```
 */
export class StatelineError extends Error {
  override readonly name = 'StatelineError';
  readonly code: string;
  readonly status: number;

  constructor(code: ErrorCode | ErrorDefinition, detail?: string, options?: { cause?: unknown }) {
    const key = typeof code === 'string' ? code : code.code;
    const entry = REGISTRY.get(key);
    if (
      entry === undefined ||
      (typeof code !== 'string' && (entry.status !== code.status || entry.message !== code.message))
    )
      throw new StatelineError('SL_ERR_INVALID_ARGUMENT', `${key} is not defined this way: use defineError`);
    super(detail ? `${entry.message}: ${detail}` : entry.message, options);
    this.code = key;
    this.status = entry.status;
  }
}

const CODE = /^SL_ERR_[A-Z0-9_]+$/;
/** The constructor `defineError` made for each code it defined (the library's own codes have none). */
const DEFINED = new Map<string, DefinedError>();

/**
 * Defines an error code outside the library's own (in the spirit of `@fastify/error`): returns a
 * constructor whose instances are {@link StatelineError}s with that code and status, and whose
 * message is `message`, then the detail given to `new`. Codes match `/^SL_ERR_[A-Z0-9_]+$/`,
 * statuses are 400–599. A code is defined once per process: defining it again the same way returns
 * the same constructor (a module may load twice); any other status or message throws
 * `SL_ERR_INVALID_ARGUMENT`, and so does a bad code, status or message.
 *
 * @example
 * ```ts
 * export const SL_ERR_QUOTA_USED = defineError('SL_ERR_QUOTA_USED', 429, 'The monthly quota is used up');
 * throw new SL_ERR_QUOTA_USED('resets on June 1'); // 429, "The monthly quota is used up: resets on June 1"
 * ```
 */
export function defineError(code: string, status: number, message: string): DefinedError {
  if (typeof code !== 'string' || !CODE.test(code))
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `error code ${JSON.stringify(code)} must match ${CODE}`,
    );
  if (!Number.isInteger(status) || status < 400 || status > 599)
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `${code}: status ${status} is not an HTTP error (400-599)`,
    );
  if (typeof message !== 'string' || message === '')
    throw new StatelineError('SL_ERR_INVALID_ARGUMENT', `${code}: the message must be a non-empty string`);
  const known = REGISTRY.get(code);
  if (known && (known.status !== status || known.message !== message))
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `${code} is already defined as ${known.status} ${JSON.stringify(known.message)}`,
    );
  const again = DEFINED.get(code);
  if (again) return again;
  const definition: ErrorDefinition = Object.freeze({ code, status, message });
  const defined = class extends StatelineError {
    static readonly code = code;
    static readonly status = status;
    static readonly message = message;

    constructor(detail?: string, options?: { cause?: unknown }) {
      super(definition, detail, options);
    }
  };
  Object.defineProperty(defined, 'name', { value: code });
  REGISTRY.set(code, { status, message });
  DEFINED.set(code, defined);
  return defined;
}

/**
 * True when `err` is a {@link StatelineError}, optionally with the given code (the library's own
 * or a defined one).
 *
 * @example
 * ```ts
 * if (isStatelineError(err, 'SL_ERR_BUS_UNAVAILABLE')) retryLater();
 * if (isStatelineError(err, SL_ERR_QUOTA_USED.code)) showUpgradeOffer();
 * ```
 */
export function isStatelineError(err: unknown, code?: string): err is StatelineError {
  return err instanceof StatelineError && (code === undefined || err.code === code);
}
