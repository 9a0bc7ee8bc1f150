import { announceFailover } from './failover.js';
import type { FailoverNotice, Problem } from './types.js';

/**
 * A failed API call, from the problem+json answer: `title` and `detail` are what the user sees.
 * `status` 0 means the request never got an answer (network down, gateway gone).
 *
 * @example
 * ```ts
 * try { await api('/api/orders'); }
 * catch (err) { if (err instanceof ApiError && err.code === 'SL_ERR_UNAUTHENTICATED') go('login'); }
 * ```
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    /** Seconds, from `Retry-After`. */
    readonly retryAfter: number | null = null,
  ) {
    super(detail || title);
  }
}

/** What a person reads for an error: the problem's title and detail, never a raw dump. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const d = err.detail.trim();
    const text = !d || d === err.title ? err.title : d.startsWith(err.title) ? d : `${err.title}: ${d}`;
    return err.retryAfter !== null ? `${text} (try again in ${err.retryAfter} s)` : text;
  }
  return 'Something went wrong in the page; reload it.';
}

type InstanceListener = (instance: string) => void;
const instanceListeners = new Set<InstanceListener>();

/**
 * Calls `fn` with the `X-Stateline-Instance` of every API answer, in the order they arrive.
 *
 * @example
 * ```ts
 * const off = onInstance((id) => (banner.textContent = id));
 * ```
 */
export function onInstance(fn: InstanceListener): () => void {
  instanceListeners.add(fn);
  return () => instanceListeners.delete(fn);
}

/** The cluster dashboard (same origin) reads this to mark the instance that served this browser. */
const SERVED_BY_KEY = 'stateline.servedBy';

function noteServedBy(instance: string): void {
  try {
    localStorage.setItem(SERVED_BY_KEY, instance);
  } catch {
    // Storage refused (private mode): the dashboard then marks nothing.
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
}

async function problemOf(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get('retry-after'));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
  let doc: Problem = {};
  try {
    doc = (await res.json()) as Problem;
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(
    res.status,
    doc.code ?? `HTTP_${res.status}`,
    doc.title ?? (res.statusText || `HTTP ${res.status}`),
    doc.detail ?? '',
    retryAfter,
  );
}

/**
 * One JSON call to the shop API with the session cookie. Resolves with the parsed body
 * (`undefined` for 204); rejects with an {@link ApiError}.
 *
 * @example
 * ```ts
 * const { items } = await api<{ items: CartItem[] }>('/api/cart/items', { method: 'POST', body: { productId: 'mug', qty: 1 } });
 * ```
 */
export async function api<T>(path: string, o: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method: o.method ?? 'GET',
      headers,
      body: o.body === undefined ? null : JSON.stringify(o.body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', 'The shop cannot be reached', err instanceof Error ? err.message : '');
  }
  const failover = res.headers.get('x-stateline-failover');
  if (failover) announceFailover(JSON.parse(decodeURIComponent(failover)) as FailoverNotice);
  const instance = res.headers.get('x-stateline-instance');
  if (instance) {
    for (const fn of instanceListeners) fn(instance);
    noteServedBy(instance);
  }
  if (!res.ok) throw await problemOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}
