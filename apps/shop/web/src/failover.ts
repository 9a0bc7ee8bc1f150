import type { FailoverNotice } from './types.js';

const box = () => document.querySelector<HTMLElement>('#failover')!;
let shown = '';
const listeners = new Set<(notice: FailoverNotice) => void>();

/**
 * Calls `fn` after each new failover notice (the banner re-reads where the session now lives).
 *
 * @example
 * ```ts
 * onFailover(() => void whoami());
 * ```
 */
export function onFailover(fn: (notice: FailoverNotice) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Shows what the server said became of the session after the instance it was pinned to stopped
 * (restored from a replica, kept in the store or cookie, or lost). It stays until dismissed: the
 * server tells it once, on the first answer after the failover.
 *
 * @example
 * ```ts
 * announceFailover({ from: 'i2', to: 'i3', outcome: 'lost', text: 'i2, which held your session, stopped; …' });
 * ```
 */
export function announceFailover(notice: FailoverNotice): void {
  const key = `${notice.from}>${notice.to}:${notice.outcome}`;
  // whoami and the header of the same answer tell the same thing.
  if (key === shown) return;
  shown = key;
  const el = box();
  el.replaceChildren();
  const text = document.createElement('span');
  text.dataset.testid = 'failover-text';
  text.textContent = notice.text;
  const close = document.createElement('button');
  close.className = 'link';
  close.textContent = 'Dismiss';
  close.dataset.testid = 'failover-dismiss';
  close.onclick = () => {
    el.hidden = true;
    shown = '';
  };
  el.append(text, ' ', close);
  el.className = `notice failover ${notice.outcome}`;
  el.dataset.outcome = notice.outcome;
  el.setAttribute('role', notice.outcome === 'lost' ? 'alert' : 'status');
  el.hidden = false;
  for (const fn of listeners) fn(notice);
}
