import { StatelineError } from '../errors.js';

/** A backend spec string split into its scheme, the rest, and query options. */
export interface ParsedSpec {
  scheme: string;
  /** Everything after `scheme:` without the query string. */
  rest: string;
  params: URLSearchParams;
  /** The spec without its Stateline-only query parameters, for handing to a client library. */
  clientUrl: string;
}

/** Splits `redis://h:6379?prefix=x` into parts; Stateline's own query keys are removed from clientUrl. */
export function parseSpec(spec: string, what: string, ownParams: readonly string[]): ParsedSpec {
  const m = /^([a-z][a-z0-9+.-]*):(.*)$/i.exec(spec.trim());
  if (!m) {
    throw new StatelineError(
      'SL_ERR_INVALID_SPEC',
      `${what} spec ${JSON.stringify(spec)} has no scheme (e.g. memory:, sqlite:path, redis://host:6379, postgres://host/db)`,
    );
  }
  const scheme = m[1]!.toLowerCase();
  const [body, query = ''] = m[2]!.split(/\?(.*)/s, 2) as [string, string?];
  const params = new URLSearchParams(query);
  const forward = new URLSearchParams();
  for (const [k, v] of params) if (!ownParams.includes(k)) forward.append(k, v);
  const fq = forward.toString();
  return { scheme, rest: body, params, clientUrl: `${scheme}:${body}${fq ? `?${fq}` : ''}` };
}

/** Reads a positive integer query/option value. */
export function positiveInt(value: string | number | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `${name} must be a positive integer (got ${JSON.stringify(value)})`,
    );
  }
  return n;
}

/** Throws SL_ERR_INVALID_OPTION naming any key of `options` not in `known`. */
export function rejectUnknown(options: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new StatelineError(
        'SL_ERR_INVALID_OPTION',
        `${what} has no option "${key}" (known: ${known.join(', ')})`,
      );
    }
  }
}
