import { checkoutPending, placeOrder } from '../checkout.js';
import { h, replace } from '../dom.js';
import { price } from '../format.js';
import { showError, showInfo } from '../notice.js';
import { go } from '../router.js';
import { addToCart, getCart, loadProducts, removeFromCart } from '../shop-api.js';
import { getState } from '../state.js';
import type { CartItem, Product } from '../types.js';

/**
 * The cart: its lines (one more, remove), the total, and checkout (idempotent: see checkout.ts).
 *
 * @example
 * ```ts
 * renderCart(document.querySelector('#view')!);
 * ```
 */
export function renderCart(root: HTMLElement): void {
  let products = new Map<string, Product>();

  const draw = (items: CartItem[]) => {
    if (items.length === 0 && !checkoutPending()) {
      replace(
        root,
        h('h2', {}, 'Cart'),
        h(
          'p',
          { class: 'card muted', testid: 'cart-empty' },
          'Your cart is empty. ',
          h('a', { href: '#/' }, 'Browse the catalogue.'),
        ),
      );
      return;
    }
    const change = (p: Promise<CartItem[]>) => p.then(draw).catch(showError);
    const total = items.reduce((sum, i) => sum + i.qty * (products.get(i.productId)?.price ?? 0), 0);
    const rows = items.map((i) => {
      const p = products.get(i.productId);
      return h(
        'tr',
        { testid: `cart-line-${i.productId}` },
        h('td', {}, p?.name ?? i.productId),
        h('td', { class: 'num' }, p ? price(p.price) : '–'),
        h('td', { class: 'num', testid: `cart-qty-${i.productId}` }, i.qty),
        h('td', { class: 'num' }, p ? price(p.price * i.qty) : '–'),
        h(
          'td',
          { class: 'actions' },
          h(
            'button',
            {
              testid: `cart-inc-${i.productId}`,
              'aria-label': `One more ${p?.name ?? i.productId}`,
              onclick: () => change(addToCart(i.productId, 1)),
            },
            '+1',
          ),
          h(
            'button',
            { testid: `cart-remove-${i.productId}`, onclick: () => change(removeFromCart(i.productId)) },
            'Remove',
          ),
        ),
      );
    });
    replace(
      root,
      h('h2', {}, 'Cart'),
      items.length > 0 &&
        h(
          'table',
          { class: 'card table', testid: 'cart' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'Product'),
              h('th', { class: 'num' }, 'Price'),
              h('th', { class: 'num' }, 'Qty'),
              h('th', { class: 'num' }, 'Subtotal'),
              h('th', {}),
            ),
          ),
          h('tbody', {}, ...rows),
          h(
            'tfoot',
            {},
            h(
              'tr',
              {},
              h('th', { colspan: 3 }, 'Total'),
              h('th', { class: 'num', testid: 'cart-total' }, price(total)),
              h('th', {}),
            ),
          ),
        ),
      checkoutBox(),
    );
  };

  const checkoutBox = (): HTMLElement => {
    if (!getState().user)
      return h(
        'div',
        { class: 'card checkout' },
        h('p', {}, 'Log in to place the order; your cart stays as it is.'),
        h('button', { class: 'primary', testid: 'checkout-login', onclick: () => go('login') }, 'Log in'),
      );
    const pending = checkoutPending();
    const button = h(
      'button',
      {
        class: 'primary',
        testid: 'checkout',
        onclick: () => {
          button.disabled = true;
          button.textContent = 'Placing the order…';
          placeOrder().then(
            (order) => {
              showInfo(`Order ${order.id} placed: ${price(order.total)}.`);
              go('orders');
            },
            (err: unknown) => {
              showError(err);
              getCart().then(draw, () => draw([]));
            },
          );
        },
      },
      pending ? 'Retry the order' : 'Place the order',
    );
    return h(
      'div',
      { class: 'card checkout' },
      pending &&
        h(
          'p',
          { class: 'hint', testid: 'checkout-pending' },
          'The last attempt got no clear answer. Retrying sends the same Idempotency-Key: you get that order, never a second one.',
        ),
      button,
    );
  };

  replace(root, h('p', { class: 'muted' }, 'Loading the cart…'));
  Promise.all([loadProducts(), getCart()]).then(
    ([p, items]) => {
      products = p;
      draw(items);
    },
    (err: unknown) => {
      replace(root, h('h2', {}, 'Cart'), h('p', { class: 'muted' }, 'The cart could not be loaded.'));
      showError(err);
    },
  );
}
