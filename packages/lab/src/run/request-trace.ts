import { appendFileSync } from 'node:fs';

/** One request of a virtual user, as the trace keeps it. */
export interface TraceEntry {
  /** ms since the load began, when the request was sent. */
  t: number;
  /** ms it took (to the answer or the failure). */
  ms: number;
  method: string;
  path: string;
  /** The status, or `network <reason>`. */
  status: number | string;
  code: string;
  /** The first 8 characters of each cookie sent (a session's handle). */
  sent: string[];
  /** The first 8 characters of each cookie the answer set, `-name` for one it cleared. */
  set: string[];
}

/** Requests each user's trace keeps. */
const KEPT = 40;

/**
 * An env-guarded diagnostic (`STATELINE_LAB_TRACE=<file>`): each virtual user keeps its last
 * requests, and a lost session appends one JSON line with them to the file, so the sequence that
 * led to it can be read (which request, which cookie, when). Off (null) without the variable.
 *
 * @example
 * ```ts
 * const trace = RequestTrace.fromEnv(7);
 * trace?.add({ t: 1200, ms: 3, method: 'GET', path: '/api/orders', status: 401, code: '', sent: ['abcdefgh'], set: [] });
 * trace?.dump('unauthenticated', 1205);
 * ```
 */
export class RequestTrace {
  private readonly entries: TraceEntry[] = [];

  constructor(
    private readonly file: string,
    private readonly user: number,
  ) {}

  /** The trace of user `n` when `STATELINE_LAB_TRACE` names a file, else null. */
  static fromEnv(n: number, env: NodeJS.ProcessEnv = process.env): RequestTrace | null {
    const file = env.STATELINE_LAB_TRACE;
    return file ? new RequestTrace(file, n) : null;
  }

  add(e: TraceEntry): void {
    this.entries.push(e);
    if (this.entries.length > KEPT) this.entries.shift();
  }

  /** Appends the user's recent requests, with what was judged and when, to the file. */
  dump(reason: string, at: number): void {
    const line = JSON.stringify({ user: this.user, reason, at: Math.round(at), requests: this.entries });
    appendFileSync(this.file, line + '\n');
  }
}

/** The first 8 characters of each cookie value in a `Cookie` header. */
export function cookieHeads(header: string | undefined): string[] {
  if (!header) return [];
  return header.split('; ').map((c) => {
    const eq = c.indexOf('=');
    return `${c.slice(0, eq)}=${c.slice(eq + 1, eq + 9)}`;
  });
}

/** The first 8 characters of each cookie a response sets, `name=` alone for one it clears. */
export function setCookieHeads(lines: readonly string[]): string[] {
  return lines.map((l) => {
    const pair = l.split(';', 1)[0] ?? '';
    const eq = pair.indexOf('=');
    const cleared = /max-age=0|max-age=-/i.test(l);
    return `${pair.slice(0, eq)}=${cleared ? '' : pair.slice(eq + 1, eq + 9)}`;
  });
}
