import { h, replace } from '../dom.js';
import { price } from '../format.js';
import { showError, showInfo } from '../notice.js';
import { addToCart, loadProducts } from '../shop-api.js';
import type { Product } from '../types.js';

function card(p: Product): HTMLElement {
  const qty = h('input', {
    type: 'number',
    min: 1,
    max: 99,
    value: '1',
    'aria-label': `Quantity of ${p.name}`,
    testid: `qty-${p.id}`,
  });
  const add = h(
    'button',
    {
      class: 'primary',
      testid: `add-${p.id}`,
      onclick: () => {
        add.disabled = true;
        addToCart(p.id, Number(qty.value))
          .then(() => showInfo(`Added ${qty.value} × ${p.name} to the cart.`))
          .catch(showError)
          .finally(() => (add.disabled = false));
      },
    },
    'Add to cart',
  );
  return h(
    'article',
    { class: 'card product', testid: `product-${p.id}` },
    h('h3', {}, p.name),
    h('p', { class: 'muted' }, p.description),
    h('div', { class: 'row' }, h('strong', { class: 'price' }, price(p.price)), qty, add),
  );
}

/**
 * The catalogue: every product with a quantity and an add button.
 *
 * @example
 * ```ts
 * renderCatalog(document.querySelector('#view')!);
 * ```
 */
export function renderCatalog(root: HTMLElement): void {
  replace(root, h('p', { class: 'muted' }, 'Loading the catalogue…'));
  loadProducts().then(
    (products) =>
      replace(
        root,
        h('h2', {}, 'Catalogue'),
        h('div', { class: 'grid', testid: 'catalog' }, ...[...products.values()].map(card)),
      ),
    (err: unknown) => {
      replace(root, h('p', { class: 'muted' }, 'The catalogue could not be loaded.'));
      showError(err);
    },
  );
}
