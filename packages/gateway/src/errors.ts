import { defineError } from 'stateline/errors';

/*
 * The gateway's own error codes. It also answers with `SL_ERR_BAD_REQUEST` and
 * `SL_ERR_PAYLOAD_TOO_LARGE` from `stateline/http`; docs/ERRORS.md lists these under @stateline/gateway.
 */

/**
 * 503: no instance is up (all starting, draining or down); sent with `Retry-After`.
 *
 * @example
 * ```ts
 * if (isStatelineError(err, SL_ERR_NO_INSTANCE.code)) await sleep(1000);
 * ```
 */
export const SL_ERR_NO_INSTANCE = defineError(
  'SL_ERR_NO_INSTANCE',
  503,
  'No instance is available to serve this request',
);

/**
 * 502: the instance failed before it answered and the request could not be retried elsewhere.
 *
 * @example
 * ```ts
 * sendProblem(res, SL_ERR_UPSTREAM_FAILED, `instance ${id} reset the connection`);
 * ```
 */
export const SL_ERR_UPSTREAM_FAILED = defineError(
  'SL_ERR_UPSTREAM_FAILED',
  502,
  'The instance failed before it answered',
);

/**
 * 504: the instance sent no response headers within the response timeout.
 *
 * @example
 * ```ts
 * sendProblem(res, SL_ERR_UPSTREAM_TIMEOUT, `instance ${id} did not answer in time`);
 * ```
 */
export const SL_ERR_UPSTREAM_TIMEOUT = defineError(
  'SL_ERR_UPSTREAM_TIMEOUT',
  504,
  'The instance did not answer in time',
);

/**
 * 431: the request headers exceed the gateway's limit; the connection is closed.
 *
 * @example
 * ```ts
 * socket.end(rawProblem(SL_ERR_REQUEST_HEADERS_TOO_LARGE, 'the request headers exceed the limit'));
 * ```
 */
export const SL_ERR_REQUEST_HEADERS_TOO_LARGE = defineError(
  'SL_ERR_REQUEST_HEADERS_TOO_LARGE',
  431,
  'The request headers are too large',
);

/**
 * Every code the gateway defines (docs/ERRORS.md, section @stateline/gateway).
 *
 * @example
 * ```ts
 * import { GATEWAY_ERRORS } from '@stateline/gateway';
 * GATEWAY_ERRORS.map((e) => e.code); // ['SL_ERR_NO_INSTANCE', …]
 * ```
 */
export const GATEWAY_ERRORS = [
  SL_ERR_NO_INSTANCE,
  SL_ERR_UPSTREAM_FAILED,
  SL_ERR_UPSTREAM_TIMEOUT,
  SL_ERR_REQUEST_HEADERS_TOO_LARGE,
] as const;
