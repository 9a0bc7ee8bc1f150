import type { WorkloadAnswer, WorkloadHttp, WorkloadRequestInit, WorkloadUser } from 'stateline/instance';
import { DEFAULT_DEMO_PASSWORD } from './config.js';

/** The tokens one API client holds. */
export interface ApiTokens {
  access: string;
  refresh: string;
  /** Its family, as `GET /api/sessions` lists it. */
  handle: string;
}

/** What a bearer client remembers besides what every shopper does. */
export interface BearerState {
  name: string;
  /** Null while signed out (before the first login, after a logout or a lost family). */
  tokens: ApiTokens | null;
}

function tokensOf(body: unknown): ApiTokens | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  const { accessToken, refreshToken, handle } = b;
  if (typeof accessToken !== 'string' || typeof refreshToken !== 'string' || typeof handle !== 'string')
    return null;
  return { access: accessToken, refresh: refreshToken, handle };
}

/**
 * Signs in for tokens (`POST /api/tokens` with an Idempotency-Key, so a retry after a lost answer
 * gets the same family). False when it did not work this time.
 *
 * @example
 * ```ts
 * if (!(await tokenLogin(user, state))) return false;
 * ```
 */
export async function tokenLogin(user: WorkloadUser, s: BearerState): Promise<boolean> {
  const { answer: a } = await user.http.idempotent('POST', '/api/tokens', {
    json: { username: s.name, password: DEFAULT_DEMO_PASSWORD },
  });
  const tokens = a?.status === 200 ? tokensOf(a.body) : null;
  if (tokens) {
    s.tokens = tokens;
    return true;
  }
  if (a?.status === 429) user.report.retry();
  else if (a) user.report.unexpected(a, 'token login');
  const retryAfter = Number(a?.headers.get('retry-after'));
  await user.sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 5000) : 200);
  return false;
}

/**
 * The bearer workload's counters in the lab report's `counters`: refreshes answered with new
 * tokens, and refreshes refused (401) for a token family the client never gave up (a family lost:
 * this client forgets its tokens whenever it ends a family, so a refusal means the app lost it).
 *
 * @example
 * ```ts
 * const lost = report.runs[0].counters?.[REFRESH_COUNTERS.familiesLost]; // 0 on a sound cluster
 * ```
 */
export const REFRESH_COUNTERS = {
  refreshed: 'tokens.refreshed',
  familiesLost: 'tokens.familiesLost',
} as const;

/**
 * Rotates the tokens (`POST /api/tokens/refresh` with an Idempotency-Key: a retry of a refresh
 * whose answer was lost gets the same refresh token instead of counting as a reuse). A refusal
 * is a family lost: this client never gives a family up without forgetting its tokens. Returns
 * whether the client still holds tokens.
 *
 * @example
 * ```ts
 * if (!(await refreshTokens(user, state))) state.loggedIn = false;
 * ```
 */
export async function refreshTokens(user: WorkloadUser, s: BearerState): Promise<boolean> {
  const held = s.tokens;
  if (!held) return false;
  const { answer: a } = await user.http.idempotent('POST', '/api/tokens/refresh', {
    json: { refreshToken: held.refresh },
  });
  // No answer in the end: the old token may or may not be spent; keep it and see.
  if (!a || a.status >= 500) return true;
  const next = a.status === 200 ? tokensOf(a.body) : null;
  // Both counters on every answer, so the report shows a 0 beside the refreshes.
  user.report.count(REFRESH_COUNTERS.refreshed, next ? 1 : 0);
  user.report.count(REFRESH_COUNTERS.familiesLost, !next && a.status === 401 ? 1 : 0);
  if (next) {
    s.tokens = next;
    return true;
  }
  if (a.status !== 401) user.report.unexpected(a, 'refresh');
  s.tokens = null;
  return false;
}

/** An answer that refuses the access token itself (expired, revoked, tampered): not the route's answer. */
const refusedToken = (a: WorkloadAnswer | null) =>
  a?.status === 401 && (a.headers.get('www-authenticate') ?? '').includes('invalid_token');

/**
 * The virtual user's HTTP with `Authorization: Bearer` on every request. An access token refused
 * as invalid is refreshed once and the request sent again; `onSignedOut` runs when the client was
 * left without tokens.
 *
 * @example
 * ```ts
 * const http = bearerHttp(user, state, () => (state.loggedIn = false));
 * await http.request('GET', '/api/cart');
 * ```
 */
export function bearerHttp(user: WorkloadUser, s: BearerState, onSignedOut: () => void): WorkloadHttp {
  const withToken = (init: WorkloadRequestInit = {}): WorkloadRequestInit => ({
    ...init,
    headers: { ...init.headers, authorization: `Bearer ${s.tokens?.access ?? ''}` },
  });
  const again = async <T>(send: () => Promise<T>, refused: (r: T) => boolean): Promise<T> => {
    const first = await send();
    if (!refused(first) || !s.tokens) return first;
    if (await refreshTokens(user, s)) return send();
    onSignedOut();
    return first;
  };
  return {
    request: (method, path, init) =>
      again(() => user.http.request(method, path, withToken(init)), refusedToken),
    idempotent: (method, path, init) =>
      again(
        () => user.http.idempotent(method, path, withToken(init)),
        (r) => refusedToken(r.answer),
      ),
  };
}
