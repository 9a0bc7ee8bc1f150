import { ApiError, describeError } from './api.js';
import { getState, setState } from './state.js';

const box = () => document.querySelector<HTMLElement>('#notice')!;
const INFO_MS = 6000;
let hideTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Shows an error as its problem title and detail.
 *
 * @example
 * ```ts
 * try { await addToCart('mug', 1); } catch (err) { showError(err); }
 * ```
 */
export function showError(err: unknown): void {
  // The session ended elsewhere (revoked, logged out everywhere): the page follows.
  if (err instanceof ApiError && err.code === 'SL_ERR_UNAUTHENTICATED' && getState().user)
    setState({ user: null });
  show(describeError(err), 'error');
}

/**
 * Shows a short confirmation.
 *
 * @example
 * ```ts
 * showInfo('Added to the cart');
 * ```
 */
export function showInfo(text: string): void {
  show(text, 'info');
}

/**
 * Hides the notice (`onlyErrors`: only when it shows an error, as on a change of view).
 *
 * @example
 * ```ts
 * clearNotice();
 * ```
 */
export function clearNotice(onlyErrors = false): void {
  const el = box();
  if (onlyErrors && el.dataset.kind !== 'error') return;
  clearTimeout(hideTimer);
  el.hidden = true;
  el.textContent = '';
  delete el.dataset.kind;
}

function show(text: string, kind: 'error' | 'info'): void {
  const el = box();
  el.textContent = text;
  el.className = `notice ${kind}`;
  el.dataset.kind = kind;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.hidden = false;
  clearTimeout(hideTimer);
  if (kind === 'info') hideTimer = setTimeout(() => clearNotice(), INFO_MS);
}
