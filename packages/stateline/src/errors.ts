/**
 * The catalogue of Stateline errors. Every error Stateline raises carries one of these stable
 * codes; `docs/ERRORS.md` lists the same codes and a test keeps the two in step.
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
  SL_ERR_PEER_DEPENDENCY_MISSING: { status: 500, message: 'An optional package this backend needs is not installed' },
  SL_ERR_CLOSED: { status: 503, message: 'The backend was closed' },
  SL_ERR_STORE_UNAVAILABLE: { status: 503, message: 'The state store cannot be reached' },
  SL_ERR_BUS_UNAVAILABLE: { status: 503, message: 'The message bus cannot be reached' },
  SL_ERR_BUS_PAYLOAD_TOO_LARGE: { status: 500, message: 'The bus message is larger than the backend accepts' },
  SL_ERR_SESSION_ENDED: { status: 409, message: 'The session ended while this request was running' },
  SL_ERR_SESSION_TOO_LARGE: { status: 500, message: 'The session does not fit in its token budget' },
  SL_ERR_SESSION_CONTENDED: { status: 503, message: 'Too many concurrent writes to one session' },
  SL_ERR_LOG_UNAVAILABLE: { status: 503, message: 'The log cannot be reached' },
  SL_ERR_IDEMPOTENCY_KEY_MISSING: { status: 400, message: 'This request needs an Idempotency-Key header' },
  SL_ERR_IDEMPOTENCY_KEY_INVALID: { status: 400, message: 'The Idempotency-Key header is malformed' },
  SL_ERR_IDEMPOTENCY_IN_FLIGHT: { status: 409, message: 'A request with this Idempotency-Key is still being processed' },
  SL_ERR_IDEMPOTENCY_MISMATCH: { status: 422, message: 'This Idempotency-Key was used for a different request' },
  SL_ERR_IDEMPOTENCY_RESPONSE_NOT_STORED: { status: 409, message: 'The request already ran but its response was too large to replay' },
  SL_ERR_IDEMPOTENCY_BODY_UNREADABLE: { status: 415, message: 'The request body cannot be read to fingerprint it' },
  SL_ERR_IDEMPOTENCY_LOCK_EXPIRED: { status: 500, message: 'A handler outlived its idempotency lock and another request took over the key' },
  SL_ERR_UNAUTHORIZED: { status: 401, message: 'This needs a valid admin token (Authorization: Bearer <token>)' },
  SL_ERR_FORBIDDEN: { status: 403, message: 'Only local clients may use this without an admin token' },
  SL_ERR_CSRF: { status: 403, message: 'A cross-site request may not change anything here' },
  SL_ERR_NOT_FOUND: { status: 404, message: 'There is no such resource' },
  SL_ERR_INSTANCE_FAILED: { status: 502, message: 'An instance process exited or did not start listening in time' },
  SL_ERR_REALTIME_BAD_FRAME: { status: 400, message: 'The realtime frame is not valid' },
  SL_ERR_REALTIME_UNAUTHENTICATED: { status: 401, message: 'This realtime room or hub needs a logged-in session' },
  SL_ERR_REALTIME_FORBIDDEN: { status: 403, message: 'The room policy refused this' },
  SL_ERR_REALTIME_NOT_JOINED: { status: 409, message: 'The socket has not joined this room' },
  SL_ERR_REALTIME_MESSAGE_TOO_LARGE: { status: 413, message: 'The realtime frame is larger than maxMessageBytes' },
  SL_ERR_REALTIME_RATE_LIMITED: { status: 429, message: 'The socket sent too many frames' },
  SL_ERR_REALTIME_TOO_MANY_ROOMS: { status: 429, message: 'The socket is in too many rooms' },
  SL_ERR_REALTIME_SLOW_CONSUMER: { status: 503, message: 'The socket fell too far behind its rooms' },
  SL_ERR_NO_INSTANCE: { status: 503, message: 'No instance is available to serve this request' },
  SL_ERR_UPSTREAM_FAILED: { status: 502, message: 'The instance failed before it answered' },
  SL_ERR_UPSTREAM_TIMEOUT: { status: 504, message: 'The instance did not answer in time' },
  SL_ERR_BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  SL_ERR_REQUEST_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  SL_ERR_UNAUTHENTICATED: { status: 401, message: 'This needs a logged-in session' },
  SL_ERR_BAD_CREDENTIALS: { status: 401, message: 'The username or password is wrong' },
  SL_ERR_RATE_LIMITED: { status: 429, message: 'Too many attempts; wait before trying again' },
  SL_ERR_CART_EMPTY: { status: 409, message: 'The cart is empty' },
  SL_ERR_CART_LIMIT: { status: 409, message: 'A cart line would exceed its largest quantity' },
  SL_ERR_PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  SL_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'The resource does not support this method' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A stable Stateline error code, e.g. `'SL_ERR_STORE_UNAVAILABLE'`. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * The one error class Stateline throws. `code` is stable across versions; `status` is the HTTP
 * status an adapter answers with; `message` is for humans and may change.
 *
 * @example
 * ```ts
 * throw new StatelineError('SL_ERR_INVALID_OPTION', 'timeout must be a positive number');
 * ```
 */
export class StatelineError extends Error {
  override readonly name = 'StatelineError';
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry = ERROR_CATALOGUE[code];
    super(detail ? `${entry.message}: ${detail}` : entry.message, options);
    this.code = code;
    this.status = entry.status;
  }
}

/**
 * True when `err` is a {@link StatelineError}, optionally with the given code.
 *
 * @example
 * ```ts
 * if (isStatelineError(err, 'SL_ERR_BUS_UNAVAILABLE')) retryLater();
 * ```
 */
export function isStatelineError(err: unknown, code?: ErrorCode): err is StatelineError {
  return err instanceof StatelineError && (code === undefined || err.code === code);
}
