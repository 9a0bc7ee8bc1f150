/**
 * What every strategy keeps about a session. Short field names: the `memory` strategy holds
 * 100,000 of these and the `token` strategy carries one in every cookie.
 */
export interface SessionRecord {
  /** Handle: opaque, stable for the session's life, shown in `list()`. */
  h: string;
  /** User id, or null while anonymous. */
  u: string | null;
  /** Created at (epoch ms). */
  c: number;
  /** Last seen at, written at most every `touchAfter`. */
  s: number;
  /** When the current id was issued (renewal clock). */
  i: number;
  /** User agent at creation, truncated. */
  a: string | null;
  /** The application's data. */
  d: Record<string, unknown>;
}

const MAX_UA = 200;

/** A fresh record for a new session. */
export function newRecord(handle: string, now: number, userAgent: string | undefined): SessionRecord {
  return {
    h: handle,
    u: null,
    c: now,
    s: now,
    i: now,
    a: userAgent ? userAgent.slice(0, MAX_UA) : null,
    d: {},
  };
}

/** Type guard for a record read back from a Store or a token. */
export function isRecord(x: unknown): x is SessionRecord {
  if (!x || typeof x !== 'object') return false;
  const r = x as Record<string, unknown>;
  return (
    typeof r.h === 'string' &&
    (r.u === null || typeof r.u === 'string') &&
    typeof r.c === 'number' &&
    typeof r.s === 'number' &&
    typeof r.i === 'number' &&
    (r.a === null || typeof r.a === 'string') &&
    !!r.d &&
    typeof r.d === 'object' &&
    !Array.isArray(r.d)
  );
}

/** Why a loaded record is no longer usable, or null when it is. */
export function timedOut(r: SessionRecord, now: number, idle: number, absolute: number): boolean {
  return now - r.s > idle || now - r.c > absolute;
}

/** Store keys used by the strategies. */
export const keys = {
  session: (handle: string) => `sess:${handle}`,
  user: (userId: string) => `user:${userId}`,
  tokenInfo: (handle: string) => `tinfo:${handle}`,
};
