/** The page's views, by `location.hash`. */
export type Route = 'catalog' | 'cart' | 'orders' | 'sessions' | 'chat' | 'drop' | 'list' | 'login';

const ROUTES: readonly Route[] = ['catalog', 'cart', 'orders', 'sessions', 'chat', 'drop', 'list', 'login'];

/**
 * The route in the address bar (`#/cart` → `'cart'`; anything else is the catalog).
 *
 * @example
 * ```ts
 * currentRoute(); // 'catalog'
 * ```
 */
export function currentRoute(): Route {
  const name = location.hash.replace(/^#\/?/, '').split('?', 1)[0] ?? '';
  return (ROUTES as readonly string[]).includes(name) ? (name as Route) : 'catalog';
}

/**
 * Goes to a view (a hash change: the back button works, nothing is reloaded).
 *
 * @example
 * ```ts
 * go('login');
 * ```
 */
export function go(route: Route): void {
  location.hash = `#/${route === 'catalog' ? '' : route}`;
}

/** A view draws itself into `root` and may return its cleanup. */
export type View = (root: HTMLElement) => (() => void) | void;
