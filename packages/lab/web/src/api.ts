import type { ClusterHistoryDoc, ClusterStatus } from '../../src/cluster-status.js';

/** One instance of the status document. */
export type InstanceView = ClusterStatus['instances'][number];

/** What the buttons post: `POST /_stateline/instances/<id>/<action>`. */
export type Action = 'kill' | 'stop' | 'start';

/** An answer of the control API: its JSON, or why there is none. */
export type Reply<T> =
  { ok: true; value: T } | { ok: false; status: number; message: string; needsToken: boolean };

const TOKEN_KEY = 'stateline.adminToken';

/** The admin token kept in this tab (sessionStorage), or '' (none, or storage refused). */
export function storedToken(): string {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

/** Keeps the admin token for this tab only. */
export function storeToken(token: string): void {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Private mode may refuse storage: the token then lasts until the next request asks again.
  }
}

/** A problem document's title and detail as one line, or the bare status. */
export function problemText(status: number, body: string): string {
  try {
    const p: unknown = JSON.parse(body);
    if (p !== null && typeof p === 'object' && 'title' in p && typeof p.title === 'string' && p.title) {
      const detail = 'detail' in p && typeof p.detail === 'string' ? p.detail : '';
      return detail && !detail.startsWith(p.title) ? `${p.title}: ${detail}` : detail || p.title;
    }
  } catch {
    // Not a problem document.
  }
  return `HTTP ${status}`;
}

async function call<T>(path: string, init: RequestInit): Promise<Reply<T>> {
  const token = storedToken();
  const res = await fetch(path, {
    ...init,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    cache: 'no-store',
  });
  const body = await res.text();
  if (!res.ok) {
    return {
      ok: false,
      status: res.status,
      message: problemText(res.status, body),
      needsToken: res.status === 401,
    };
  }
  const value: T = JSON.parse(body);
  return { ok: true, value };
}

/**
 * `GET /_stateline/status`. Rejects only when no answer came (network, gateway gone).
 *
 * @example
 * ```ts
 * const r = await fetchStatus();
 * if (r.ok) console.log(r.value.instances.length);
 * ```
 */
export function fetchStatus(): Promise<Reply<ClusterStatus>> {
  return call('/_stateline/status', { method: 'GET' });
}

/**
 * Kills, stops or starts an instance; resolves with the instance as it is afterwards.
 *
 * @example
 * ```ts
 * const r = await postAction('i2', 'kill');
 * ```
 */
export function postAction(id: string, action: Action): Promise<Reply<{ instance?: InstanceView }>> {
  return call(`/_stateline/instances/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
}

export function fetchHistory(): Promise<Reply<ClusterHistoryDoc>> {
  return call('/_stateline/history', { method: 'GET' });
}

/** Where the shop page (same origin) notes the instance of its last answer. */
export const SERVED_BY_KEY = 'stateline.servedBy';

/** The instance that last answered the shop in this browser, as the shop page noted it. */
export function servedThisBrowser(): string | null {
  try {
    return localStorage.getItem(SERVED_BY_KEY);
  } catch {
    return null;
  }
}
