import { ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { buyDrop, getDrops } from '../entity-api.js';
import { price } from '../format.js';
import { watchRoom } from '../live.js';
import { showError, showInfo } from '../notice.js';
import { getState } from '../state.js';
import type { DropEvent, DropView } from '../types.js';

const isDropEvent = (e: unknown): e is DropEvent =>
  typeof e === 'object' && e !== null && (e as { kind?: unknown }).kind === 'drop';

/**
 * The limited drop: units left, live from the drop's room while the page is open, and a Buy button
 * (logged in) that turns into "Sold out". Anonymous visitors see the count as loaded.
 *
 * @example
 * ```ts
 * const cleanup = renderDrop(document.querySelector('#view')!);
 * ```
 */
export function renderDrop(root: HTMLElement): () => void {
  let drop: DropView | null = null;
  let buying = false;
  const left = h('strong', { class: 'drop-left', testid: 'drop-left' }, '…');
  const status = h('span', { class: 'muted', testid: 'drop-live' }, '');
  const button = h('button', { class: 'primary', testid: 'drop-buy', disabled: true }, 'Buy one');
  const soldOut = h('p', { class: 'notice info', testid: 'drop-sold-out', hidden: true }, 'Sold out.');
  const title = h('h2', {}, 'Limited drop');
  const about = h('p', { class: 'muted' });
  const priceTag = h('span', { class: 'price' });

  const draw = () => {
    if (!drop) return;
    title.textContent = drop.name;
    about.textContent = drop.description;
    priceTag.textContent = price(drop.price);
    left.textContent = `${drop.left} of ${drop.stock} left`;
    left.dataset.left = String(drop.left);
    soldOut.hidden = !drop.soldOut;
    button.disabled = drop.soldOut || buying || !getState().user;
    button.textContent = drop.soldOut ? 'Sold out' : getState().user ? 'Buy one' : 'Log in to buy';
  };
  const load = () =>
    getDrops().then(([d]) => {
      // An event may have come in while the answer was on its way: keep the newer of the two.
      if (d && (!drop || d.version >= drop.version)) drop = d;
      draw();
    }, showError);

  button.onclick = () => {
    if (!drop || buying) return;
    buying = true;
    draw();
    buyDrop(drop.sku)
      .then(
        (r) => showInfo(`Unit ${r.unit} is yours: order ${r.order.id}.`),
        (err: unknown) => {
          if (err instanceof ApiError && err.code === 'SL_ERR_SOLD_OUT' && drop)
            drop = { ...drop, left: 0, soldOut: true };
          showError(err);
        },
      )
      .finally(() => {
        buying = false;
        draw();
      });
  };

  replace(
    root,
    h('div', { class: 'row spread' }, title, status),
    h(
      'section',
      { class: 'card drop' },
      about,
      h('div', { class: 'row spread' }, priceTag, left),
      soldOut,
      button,
    ),
  );
  let stop: (() => void) | null = null;
  let gone = false;
  void load().then(() => {
    // The room needs a session; without one the count is the one loaded.
    if (gone || !drop || !getState().user) return;
    stop = watchRoom(`drop:${drop.sku}`, {
      event(e) {
        if (!isDropEvent(e) || !drop || e.sku !== drop.sku || e.version <= drop.version) return;
        drop = { ...drop, left: e.left, sold: e.sold, soldOut: e.left <= 0, version: e.version };
        draw();
      },
      joined: () => void load(),
      status: (s) => (status.textContent = s),
    });
  });
  return () => {
    gone = true;
    stop?.();
  };
}
