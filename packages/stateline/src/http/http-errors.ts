import { defineError } from '../errors.js';

/*
 * The generic HTTP problems a server built on Stateline answers with, whatever its domain. The
 * library does not raise them itself; they live here so that the gateway, the lab and apps share
 * one definition of each instead of each defining its own (a second definition would conflict).
 */

/**
 * 400: the request cannot be read (bad framing, a body that is not the JSON a route expects).
 *
 * @example
 * ```ts
 * throw new SL_ERR_BAD_REQUEST('the body must be a JSON object');
 * ```
 */
export const SL_ERR_BAD_REQUEST = defineError('SL_ERR_BAD_REQUEST', 400, 'The request is malformed');

/**
 * 404: no such route or resource.
 *
 * @example
 * ```ts
 * throw new SL_ERR_NOT_FOUND(`no product ${JSON.stringify(id)}`);
 * ```
 */
export const SL_ERR_NOT_FOUND = defineError('SL_ERR_NOT_FOUND', 404, 'There is no such resource');

/**
 * 405: the route exists but not for this method; send `Allow` with it.
 *
 * @example
 * ```ts
 * const p = problem(SL_ERR_METHOD_NOT_ALLOWED, 'DELETE /api/cart', { allow: 'GET, POST' });
 * ```
 */
export const SL_ERR_METHOD_NOT_ALLOWED = defineError(
  'SL_ERR_METHOD_NOT_ALLOWED',
  405,
  'The resource does not support this method',
);

/**
 * 413: the request body is over the server's limit.
 *
 * @example
 * ```ts
 * const p = problem(SL_ERR_PAYLOAD_TOO_LARGE, 'at most 16384 bytes', { connection: 'close' });
 * ```
 */
export const SL_ERR_PAYLOAD_TOO_LARGE = defineError(
  'SL_ERR_PAYLOAD_TOO_LARGE',
  413,
  'The request body is too large',
);

/**
 * Every code `stateline/http` defines (docs/ERRORS.md lists them with the library's own).
 *
 * @example
 * ```ts
 * HTTP_ERRORS.map((e) => `${e.status} ${e.code}`); // ['400 SL_ERR_BAD_REQUEST', …]
 * ```
 */
export const HTTP_ERRORS = [
  SL_ERR_BAD_REQUEST,
  SL_ERR_NOT_FOUND,
  SL_ERR_METHOD_NOT_ALLOWED,
  SL_ERR_PAYLOAD_TOO_LARGE,
] as const;
