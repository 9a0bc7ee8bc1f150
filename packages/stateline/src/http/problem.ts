import { ERROR_CATALOGUE, StatelineError, type ErrorCode } from '../errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** An RFC 9457 problem document with Stateline's stable `code`. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  [extension: string]: unknown;
}

/** A complete HTTP answer an adapter can send as is. */
export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The problem+json answer for an error. Stateline errors keep their code and status; anything
 * else becomes a 500 `SL_ERR_INTERNAL` whose detail never reveals the original message or stack.
 *
 * @example
 * ```ts
 * const p = problemFor(new StatelineError('SL_ERR_STORE_UNAVAILABLE'), { 'retry-after': '1' });
 * res.writeHead(p.status, p.headers).end(p.body);
 * ```
 */
export function problemFor(err: unknown, headers: Record<string, string> = {}): ProblemResponse {
  const e = err instanceof StatelineError ? err : new StatelineError('SL_ERR_INTERNAL');
  const doc: ProblemDocument = {
    type: `https://stateline.dev/errors#${e.code}`,
    title: ERROR_CATALOGUE[e.code].message,
    status: e.status,
    code: e.code,
    detail: e.message,
  };
  const extra: Record<string, string> = {};
  if (e.status === 503 && !('retry-after' in headers)) extra['retry-after'] = '1';
  return {
    status: e.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-store', ...extra, ...headers },
    body: JSON.stringify(doc),
  };
}

/**
 * Shortcut for a problem with a code and a detail.
 *
 * @example
 * ```ts
 * const p = problem('SL_ERR_IDEMPOTENCY_KEY_INVALID', 'Idempotency-Key must be 1-255 visible characters');
 * ```
 */
export function problem(code: ErrorCode, detail?: string, headers?: Record<string, string>): ProblemResponse {
  return problemFor(new StatelineError(code, detail), headers);
}
