import { StatelineError } from '../errors.js';
import { problemFor, type ProblemResponse } from '../http/problem.js';

/** Errors of requests that carried no bearer token at all (RFC 6750 §3.1: no error code then). */
const missing = new WeakSet<StatelineError>();

/** Marks `err` as "no credentials were sent"; returns it. */
export function markMissing(err: StatelineError): StatelineError {
  missing.add(err);
  return err;
}

const quote = (s: string) => s.replace(/["\\]/g, '');

/**
 * The answer to a refused bearer request: problem+json, and for 401/403 the RFC 6750 challenge:
 * `WWW-Authenticate: Bearer realm="…", error="invalid_token"` (401) or
 * `error="insufficient_scope", scope="…"` (403); no error code when no token was sent. Any other
 * failure (a closed instance) answers as `problemFor` does, with no challenge.
 *
 * @example
 * ```ts
 * const p = bearerProblem(err, { realm: 'shop-api', scopes: ['orders:write'] });
 * res.writeHead(p.status, p.headers).end(p.body);
 * ```
 */
export function bearerProblem(
  err: unknown,
  options: { realm?: string | undefined; scopes?: readonly string[] | undefined } = {},
): ProblemResponse {
  const realm = `Bearer realm="${quote(options.realm ?? 'api')}"`;
  if (!(err instanceof StatelineError)) return problemFor(err);
  if (err.code === 'SL_ERR_TOKEN_INVALID') {
    const challenge = missing.has(err) ? realm : `${realm}, error="invalid_token"`;
    return problemFor(err, { 'www-authenticate': challenge });
  }
  if (err.code === 'SL_ERR_TOKEN_SCOPE') {
    const scope = options.scopes?.length ? `, scope="${quote(options.scopes.join(' '))}"` : '';
    return problemFor(err, { 'www-authenticate': `${realm}, error="insufficient_scope"${scope}` });
  }
  return problemFor(err);
}
