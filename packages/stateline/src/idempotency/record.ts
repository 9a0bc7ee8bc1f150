import { StatelineError } from '../errors.js';
import type { CapturedResponse } from './types.js';

/** A reservation: the handler is running (or its process died; the Store's ttl ends it). */
export interface PendingRecord {
  v: 1;
  state: 'pending';
  fingerprint: string;
  /** Random per reservation: tells this reservation from a later one after the lock expired. */
  token: string;
}

/** A finished request whose response is replayed. */
export interface DoneRecord {
  v: 1;
  state: 'done';
  fingerprint: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  encoding: 'utf8' | 'base64';
}

/** A finished request whose response was too large to keep: retries are refused, never re-run. */
export interface UnstoredRecord {
  v: 1;
  state: 'unstored';
  fingerprint: string;
  status: number;
  headers: Record<string, string>;
}

export type IdempotencyRecord = PendingRecord | DoneRecord | UnstoredRecord;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Keeps the allow-listed headers, one string each (repeated values joined with ", "), and always
 * `content-encoding`: the body is kept as it was sent (compressed, when a compressing middleware
 * ran before the capture), so it cannot be replayed without its encoding.
 */
export function pickHeaders(
  headers: CapturedResponse['headers'],
  allow: ReadonlySet<string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || !(allow.has(lower) || lower === 'content-encoding')) continue;
    out[lower] = typeof value === 'object' ? value.join(', ') : String(value);
  }
  return out;
}

/** The record for a captured response: body as UTF-8 text when it is valid UTF-8, else base64. */
export function finishedRecord(
  fingerprint: string,
  response: CapturedResponse,
  allow: ReadonlySet<string>,
): DoneRecord | UnstoredRecord {
  const headers = pickHeaders(response.headers, allow);
  if (response.body === null)
    return { v: 1, state: 'unstored', fingerprint, status: response.status, headers };
  let body: string;
  let encoding: DoneRecord['encoding'] = 'utf8';
  try {
    body = utf8.decode(response.body);
  } catch {
    body = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength).toString(
      'base64',
    );
    encoding = 'base64';
  }
  return { v: 1, state: 'done', fingerprint, status: response.status, headers, body, encoding };
}

/** The body bytes of a done record. */
export function recordBody(record: DoneRecord): Uint8Array {
  return record.encoding === 'base64' ? Buffer.from(record.body, 'base64') : Buffer.from(record.body, 'utf8');
}

/** Parses a stored value; anything that is not a record this module wrote is an internal error. */
export function decodeRecord(value: string): IdempotencyRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const r = parsed as Partial<IdempotencyRecord> | undefined;
  if (
    r &&
    r.v === 1 &&
    typeof r.fingerprint === 'string' &&
    (r.state === 'pending' || r.state === 'done' || r.state === 'unstored')
  ) {
    return r as IdempotencyRecord;
  }
  throw new StatelineError('SL_ERR_INTERNAL', 'an idempotency record in the store is not readable');
}
