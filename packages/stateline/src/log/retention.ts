import { StatelineError } from '../errors.js';
import type { AppendOptions, Retention } from './types.js';

export const DEFAULT_MAX_COUNT = 10_000;
export const MAX_READ_LIMIT = 10_000;

/** Retention with defaults filled in and values checked. */
export function normalizeRetention(r: Retention = {}): { maxCount: number; maxAge: number | null } {
  const maxCount = r.maxCount ?? DEFAULT_MAX_COUNT;
  const maxAge = r.maxAge ?? null;
  if (!Number.isInteger(maxCount) || maxCount <= 0) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `retention.maxCount must be a positive integer (got ${r.maxCount})`,
    );
  }
  if (maxAge !== null && !(Number.isFinite(maxAge) && maxAge > 0)) {
    throw new StatelineError(
      'SL_ERR_INVALID_OPTION',
      `retention.maxAge must be a positive number of ms (got ${r.maxAge})`,
    );
  }
  return { maxCount, maxAge };
}

/** The read limit, clamped to 1…MAX_READ_LIMIT. */
export function readLimit(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit <= 0)
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `read limit must be a positive integer (got ${limit})`,
    );
  return Math.min(limit, MAX_READ_LIMIT);
}

/** Checks `since` and decides completeness the same way on every backend. */
export function checkSince(since: number): void {
  if (!Number.isInteger(since) || since < 0)
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `since must be a non-negative integer offset (got ${since})`,
    );
}

/**
 * The effective `since` and completeness for a read. `trimmedThrough` is the highest offset that
 * retention removed; a reader from another epoch starts over from the beginning.
 */
export function resolveRead(
  since: number,
  readerEpoch: string | undefined,
  epoch: string,
  trimmedThrough: number,
): { from: number; complete: boolean } {
  if (readerEpoch !== undefined && readerEpoch !== epoch) return { from: 0, complete: false };
  return { from: since, complete: since >= trimmedThrough };
}

/** The checked idempotency key of an append, or null when it has none. */
export function appendKey(options: AppendOptions | undefined): string | null {
  const key = options?.key;
  if (key === undefined) return null;
  if (typeof key !== 'string' || key.length === 0 || key.length > 200 || key.includes('\u0000'))
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      'an append key must be a string of 1-200 characters without NUL',
    );
  return key;
}

/** A new random epoch id. */
export function newEpoch(): string {
  return crypto.randomUUID();
}

/** The checked fence of an append, or null when it has none. */
export function appendFence(options: AppendOptions | undefined): number | null {
  const fence = options?.fence;
  if (fence === undefined) return null;
  return checkFence(fence);
}

/** A fence is a non-negative safe integer. */
export function checkFence(fence: number): number {
  if (!Number.isSafeInteger(fence) || fence < 0)
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `a fence must be a non-negative integer (got ${String(fence)})`,
    );
  return fence;
}

/** The error of a writer whose fence is below the stream's. */
export function fenced(stream: string, fence: number, current: number): StatelineError {
  return new StatelineError(
    'SL_ERR_LOG_FENCED',
    `stream ${JSON.stringify(stream.slice(0, 80))} is fenced at ${current}, the writer holds ${fence}`,
  );
}

/** Checks a trim's `through` offset. */
export function checkThrough(through: number): number {
  if (!Number.isSafeInteger(through) || through < 0)
    throw new StatelineError(
      'SL_ERR_INVALID_ARGUMENT',
      `trim through must be a non-negative integer offset (got ${String(through)})`,
    );
  return through;
}
