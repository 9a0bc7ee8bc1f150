import { api } from './api.js';
import { announceFailover } from './failover.js';
import { setState } from './state.js';
import type { CartItem, Order, Product, SessionInfo, User, WhoAmI } from './types.js';

let products: Promise<Map<string, Product>> | undefined;

/**
 * The catalogue by id, fetched once per page load (the server caches it with an ETag too).
 *
 * @example
 * ```ts
 * const name = (await loadProducts()).get('mug')?.name;
 * ```
 */
export function loadProducts(): Promise<Map<string, Product>> {
  products ??= api<{ products: Product[] }>('/api/products').then(
    (r) => new Map(r.products.map((p) => [p.id, p])),
    (err: unknown) => {
      products = undefined;
      throw err;
    },
  );
  return products;
}

const units = (items: CartItem[]) => items.reduce((n, i) => n + i.qty, 0);

/** Keeps the cart badge in step with every cart answer. */
function counted(r: { items: CartItem[] }): CartItem[] {
  setState({ cartCount: units(r.items) });
  return r.items;
}

/**
 * Who the cookie belongs to, and how this cluster keeps its state.
 *
 * @example
 * ```ts
 * const me = await whoami(); // { instance: 'i2', strategy: 'server', store: 'sqlite:…', user: null }
 * ```
 */
export async function whoami(): Promise<WhoAmI> {
  const me = await api<WhoAmI>('/api/whoami');
  setState({
    user: me.user,
    strategy: me.strategy,
    store: me.store,
    where: me.where,
    balance: me.balance,
    replication: me.replication,
  });
  if (me.failover) announceFailover(me.failover);
  return me;
}

/**
 * Logs in; the server renews the session id and merges the anonymous cart into the account's,
 * which may already hold lines from another device: the badge is refreshed.
 *
 * @example
 * ```ts
 * await login('alice', 'stateline');
 * ```
 */
export async function login(username: string, password: string): Promise<User> {
  const { user } = await api<{ user: User }>('/api/login', { method: 'POST', body: { username, password } });
  setState({ user });
  // Only the badge: a cart answer that fails here is not a failed login (the cart page reads again).
  await getCart().catch(() => undefined);
  return user;
}

/**
 * Ends this session (`everywhere`: every session of the user).
 *
 * @example
 * ```ts
 * await logout(true);
 * ```
 */
export async function logout(everywhere = false): Promise<void> {
  await api(everywhere ? '/api/logout-all' : '/api/logout', { method: 'POST' });
  // The cart stays with the account; the visitor starts with an empty one.
  setState({ user: null, cartCount: 0 });
}

/**
 * The cart's lines.
 *
 * @example
 * ```ts
 * const items = await getCart(); // [{ productId: 'mug', qty: 2 }]
 * ```
 */
export async function getCart(): Promise<CartItem[]> {
  return counted(await api<{ items: CartItem[] }>('/api/cart'));
}

/**
 * Adds `qty` (1–99) of a product to its line.
 *
 * @example
 * ```ts
 * await addToCart('tee', 2);
 * ```
 */
export async function addToCart(productId: string, qty: number): Promise<CartItem[]> {
  return counted(
    await api<{ items: CartItem[] }>('/api/cart/items', { method: 'POST', body: { productId, qty } }),
  );
}

/**
 * Removes a product's line.
 *
 * @example
 * ```ts
 * await removeFromCart('tee');
 * ```
 */
export async function removeFromCart(productId: string): Promise<CartItem[]> {
  return counted(
    await api<{ items: CartItem[] }>(`/api/cart/items/${encodeURIComponent(productId)}`, {
      method: 'DELETE',
    }),
  );
}

/**
 * The user's orders, newest first.
 *
 * @example
 * ```ts
 * const orders = await listOrders();
 * ```
 */
export async function listOrders(): Promise<Order[]> {
  return (await api<{ orders: Order[] }>('/api/orders')).orders;
}

/**
 * The user's live sessions (`current` marks this one).
 *
 * @example
 * ```ts
 * const sessions = await listSessions();
 * ```
 */
export async function listSessions(): Promise<SessionInfo[]> {
  return (await api<{ sessions: SessionInfo[] }>('/api/sessions')).sessions;
}

/**
 * Logs one session out.
 *
 * @example
 * ```ts
 * await revokeSession(handle);
 * ```
 */
export async function revokeSession(handle: string): Promise<void> {
  await api(`/api/sessions/${encodeURIComponent(handle)}`, { method: 'DELETE' });
}
