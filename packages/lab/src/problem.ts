import type { ServerResponse } from 'node:http';
import { ERROR_CATALOGUE, StatelineError, type ErrorCode } from 'stateline/errors';

/**
 * Sends an RFC 9457 problem+json answer in the shape of `stateline`'s own (type, title, status,
 * code, detail). Anything but a `StatelineError` becomes a 500 `SL_ERR_INTERNAL` without its message.
 *
 * @example
 * ```ts
 * sendProblem(res, new StatelineError('SL_ERR_NOT_FOUND', 'no instance "i9"'));
 * ```
 */
export function sendProblem(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const e = err instanceof StatelineError ? err : new StatelineError('SL_ERR_INTERNAL');
  const body = JSON.stringify({
    type: `https://stateline.dev/errors#${e.code}`,
    title: ERROR_CATALOGUE[e.code].message,
    status: e.status,
    code: e.code,
    detail: e.message,
  });
  res.writeHead(e.status, {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

/**
 * Shortcut: a problem for a code and a detail.
 *
 * @example
 * ```ts
 * sendCodeProblem(res, 'SL_ERR_FORBIDDEN', 'loopback clients only');
 * ```
 */
export function sendCodeProblem(
  res: ServerResponse,
  code: ErrorCode,
  detail?: string,
  headers?: Record<string, string>,
): void {
  sendProblem(res, new StatelineError(code, detail), headers);
}
