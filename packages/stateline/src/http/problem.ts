import { StatelineError, type ErrorCode, type ErrorDefinition } from '../errors.js';
import { REGISTRY } from '../internal/error-registry.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** An RFC 9457 problem document with Stateline's stable `code` (the library's or a defined one). */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: string;
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
 * The problem+json answer for an error. Stateline errors, the library's and those made by a
 * `defineError` constructor, keep their code and status; anything else becomes a 500
 * `SL_ERR_INTERNAL` whose detail never reveals the original message or stack.
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
    title: REGISTRY.get(e.code)?.message ?? e.message,
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
 * Shortcut for a problem with a code and a detail: one of the library's codes, or a definition
 * (a `defineError` constructor carries its own).
 *
 * @example
 * ```ts
 * const p = problem('SL_ERR_IDEMPOTENCY_KEY_INVALID', 'Idempotency-Key must be 1-255 visible characters');
 * const q = problem(SL_ERR_NOT_FOUND, 'no product "p9"'); // 404
 * ```
 */
export function problem(
  code: ErrorCode | ErrorDefinition,
  detail?: string,
  headers?: Record<string, string>,
): ProblemResponse {
  return problemFor(new StatelineError(code, detail), headers);
}
