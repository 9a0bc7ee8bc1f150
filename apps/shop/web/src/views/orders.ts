import { h, replace } from '../dom.js';
import { price, when } from '../format.js';
import { showError } from '../notice.js';
import { go } from '../router.js';
import { listOrders, loadProducts } from '../shop-api.js';
import { getState } from '../state.js';

/**
 * The user's orders, newest first.
 *
 * @example
 * ```ts
 * renderOrders(document.querySelector('#view')!);
 * ```
 */
export function renderOrders(root: HTMLElement): void {
  if (!getState().user) return go('login');
  replace(root, h('p', { class: 'muted' }, 'Loading your orders…'));
  Promise.all([listOrders(), loadProducts()]).then(
    ([orders, products]) => {
      replace(
        root,
        h('h2', {}, 'Orders'),
        orders.length === 0
          ? h('p', { class: 'card muted', testid: 'orders-empty' }, 'No orders yet.')
          : h(
              'ol',
              { class: 'orders', testid: 'orders' },
              ...orders.map((o) =>
                h(
                  'li',
                  { class: 'card order', testid: 'order', 'data-order-id': o.id },
                  h(
                    'div',
                    { class: 'row spread' },
                    h('strong', {}, `Order ${o.id}`),
                    h('span', { class: 'muted' }, when(o.createdAt)),
                    h('strong', { testid: 'order-total' }, price(o.total)),
                  ),
                  h(
                    'ul',
                    { class: 'lines' },
                    ...o.items.map((i) =>
                      h(
                        'li',
                        { testid: `order-line-${i.productId}` },
                        `${i.qty} × ${products.get(i.productId)?.name ?? i.productId} at ${price(i.price)}`,
                      ),
                    ),
                  ),
                ),
              ),
            ),
      );
    },
    (err: unknown) => {
      replace(root, h('h2', {}, 'Orders'), h('p', { class: 'muted' }, 'Your orders could not be loaded.'));
      showError(err);
    },
  );
}
