import type { User } from './types.js';

/** What the page knows; all of it comes from the API (a reload starts from the cookie alone). */
export interface AppState {
  user: User | null;
  strategy: string;
  store: string;
  /** Where the serving instance keeps the session, in words (from `whoami`). */
  where: string;
  balance: string | null;
  replication: string;
  /** `X-Stateline-Instance` of the last API answer. */
  instance: string | null;
  /** Units in the cart. */
  cartCount: number;
}

const state: AppState = {
  user: null,
  strategy: '…',
  store: '',
  where: '',
  balance: null,
  replication: 'off',
  instance: null,
  cartCount: 0,
};
const listeners = new Set<(s: Readonly<AppState>) => void>();

/**
 * The current state (read-only; change it with {@link setState}).
 *
 * @example
 * ```ts
 * if (getState().user) showCheckout();
 * ```
 */
export function getState(): Readonly<AppState> {
  return state;
}

/**
 * Merges `patch` into the state and tells every subscriber.
 *
 * @example
 * ```ts
 * setState({ user: { id: 'alice', name: 'alice' } });
 * ```
 */
export function setState(patch: Partial<AppState>): void {
  Object.assign(state, patch);
  for (const fn of listeners) fn(state);
}

/**
 * Calls `fn` on every change; returns the unsubscribe.
 *
 * @example
 * ```ts
 * const off = subscribe((s) => (badge.textContent = String(s.cartCount)));
 * ```
 */
export function subscribe(fn: (s: Readonly<AppState>) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
