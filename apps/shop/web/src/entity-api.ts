import { api, type RequestOptions } from './api.js';
import { newKey, retryable } from './checkout.js';
import type { DropView, ListView, Order } from './types.js';

const AUTO_RETRIES = 3;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A change sent once: one Idempotency-Key for every attempt, retried after a lost answer or while
 * the entity's owner is being replaced (502/503/504), so the server applies it at most once.
 *
 * @example
 * ```ts
 * await once('/api/lists/shared/items', { method: 'POST', body: { text: 'milk' } });
 * ```
 */
export async function once<T>(path: string, o: RequestOptions): Promise<T> {
  const key = newKey();
  for (let attempt = 0; ; attempt++) {
    try {
      return await api<T>(path, { ...o, headers: { ...o.headers, 'idempotency-key': key } });
    } catch (err) {
      if (!retryable(err) || attempt >= AUTO_RETRIES) throw err;
      await sleep((err.retryAfter ?? 0.5) * 1000);
    }
  }
}

const dropPath = (sku: string) => `/api/drop/${encodeURIComponent(sku)}`;
const listPath = (id: string) => `/api/lists/${encodeURIComponent(id)}`;

/**
 * The drops on sale, each with its units left.
 *
 * @example
 * ```ts
 * const [drop] = await getDrops(); // { sku: 'aurora-lamp', left: 100, soldOut: false, … }
 * ```
 */
export async function getDrops(): Promise<DropView[]> {
  return (await api<{ drops: DropView[] }>('/api/drops')).drops;
}

/**
 * One drop, read from its owner.
 *
 * @example
 * ```ts
 * (await getDrop('aurora-lamp')).left; // 73
 * ```
 */
export async function getDrop(sku: string): Promise<DropView> {
  return (await api<{ drop: DropView }>(dropPath(sku))).drop;
}

/**
 * Buys one unit of a drop; rejects with `SL_ERR_SOLD_OUT` when none is left.
 *
 * @example
 * ```ts
 * const { unit, order } = await buyDrop('aurora-lamp');
 * ```
 */
export function buyDrop(sku: string): Promise<{ unit: number; left: number; order: Order }> {
  return once(`${dropPath(sku)}/buy`, { method: 'POST', body: {} });
}

/**
 * A shared list as its owner holds it.
 *
 * @example
 * ```ts
 * const { items, version } = await getList('shared');
 * ```
 */
export async function getList(id: string): Promise<ListView> {
  return (await api<{ list: ListView }>(listPath(id))).list;
}

/**
 * Adds an item to a shared list.
 *
 * @example
 * ```ts
 * await addListItem('shared', 'milk');
 * ```
 */
export function addListItem(id: string, text: string): Promise<unknown> {
  return once(`${listPath(id)}/items`, { method: 'POST', body: { text } });
}

/**
 * Flips an item between done and not done.
 *
 * @example
 * ```ts
 * await toggleListItem('shared', 3);
 * ```
 */
export function toggleListItem(id: string, item: number): Promise<unknown> {
  return once(`${listPath(id)}/items/${item}/toggle`, { method: 'POST' });
}

/**
 * Removes an item.
 *
 * @example
 * ```ts
 * await removeListItem('shared', 3);
 * ```
 */
export function removeListItem(id: string, item: number): Promise<unknown> {
  return once(`${listPath(id)}/items/${item}`, { method: 'DELETE' });
}
