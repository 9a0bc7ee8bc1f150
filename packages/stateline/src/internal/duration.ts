import { StatelineError } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds from a number (already ms) or a string such as `'250ms'`, `'30s'`, `'30m'`, `'8h'`, `'1d'`.
 * `name` is used in the error when the value is not understood.
 */
export function parseDuration(value: number | string, name: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
    if (m) return Math.round(Number(m[1]) * UNITS[m[2]!]!);
  }
  throw new StatelineError(
    'SL_ERR_INVALID_OPTION',
    `${name} must be a duration like 500, '30s', '30m' or '8h' (got ${JSON.stringify(value)})`,
  );
}
