import { h, replace } from '../dom.js';
import { addListItem, getList, removeListItem, toggleListItem } from '../entity-api.js';
import { watchRoom } from '../live.js';
import { showError } from '../notice.js';
import { go } from '../router.js';
import { getState } from '../state.js';
import type { ListEvent, ListView } from '../types.js';

/** The one list every logged-in user shares. */
const LIST = 'shared';

const isListEvent = (e: unknown): e is ListEvent =>
  typeof e === 'object' && e !== null && (e as { kind?: unknown }).kind === 'list';

/** Events kept while the page has no list yet (beyond it, the oldest go: a gap makes it read again). */
const MAX_EARLY = 200;

/** The list after one event, or null when the event does not follow on (then read it again). */
function apply(list: ListView, e: ListEvent): ListView | null {
  if (e.version <= list.version) return list;
  if (e.version !== list.version + 1) return null;
  let items = list.items;
  if (e.op === 'remove') items = items.filter((i) => i.id !== e.id);
  else if (e.op === 'add') items = [...items, e.item];
  else items = items.map((i) => (i.id === e.item.id ? e.item : i));
  return { ...list, items, version: e.version };
}

/**
 * The shared list: every logged-in user adds, ticks and removes items, and every open page sees
 * each change as it happens (the list's room), whichever instance served it.
 *
 * @example
 * ```ts
 * const cleanup = renderList(document.querySelector('#view')!);
 * ```
 */
export function renderList(root: HTMLElement): (() => void) | void {
  if (!getState().user) return go('login');
  let list: ListView | null = null;
  const status = h('span', { class: 'muted', testid: 'list-live' }, '');
  const items = h('ul', { class: 'shared-list', testid: 'list-items' });
  const input = h('input', {
    name: 'text',
    maxlength: 200,
    autocomplete: 'off',
    placeholder: 'Add an item for everyone',
    'aria-label': 'Item',
    testid: 'list-input',
  });
  const add = h('button', { type: 'submit', class: 'primary', testid: 'list-add' }, 'Add');

  const draw = () => {
    if (!list) return;
    items.dataset.version = String(list.version);
    replace(
      items,
      ...list.items.map((i) =>
        h(
          'li',
          { testid: 'list-item', 'data-item': i.id, class: i.done ? 'done' : '' },
          h('input', {
            type: 'checkbox',
            checked: i.done,
            'aria-label': `Done: ${i.text}`,
            testid: `list-toggle-${i.id}`,
            onchange: () => void toggleListItem(LIST, i.id).catch(showError),
          }),
          h('span', { class: 'text' }, i.text),
          h('span', { class: 'muted' }, i.by),
          h(
            'button',
            {
              class: 'link',
              testid: `list-remove-${i.id}`,
              onclick: () => void removeListItem(LIST, i.id).catch(showError),
            },
            'Remove',
          ),
        ),
      ),
    );
  };
  // Events that came in before any read answered: that read may be older than them, so they are
  // applied on top of it (dropping them would lose them for good: the room is live only).
  let early: ListEvent[] = [];
  const load = (): Promise<void> =>
    getList(LIST).then((l) => {
      let next: ListView = !list || l.version >= list.version ? l : list;
      const waiting = early.sort((a, b) => a.version - b.version);
      early = [];
      for (const [i, e] of waiting.entries()) {
        const after = apply(next, e);
        if (after) next = after;
        else {
          // A change between the read and this event is missing: keep the rest, read again.
          early = waiting.slice(i);
          void load();
          break;
        }
      }
      list = next;
      draw();
    }, showError);

  const form = h(
    'form',
    {
      class: 'row',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        add.disabled = true;
        addListItem(LIST, text)
          .then(() => (input.value = ''))
          .catch(showError)
          .finally(() => {
            add.disabled = false;
            input.focus();
          });
      },
    },
    input,
    add,
  );
  replace(
    root,
    h('div', { class: 'row spread' }, h('h2', {}, 'Shared list'), status),
    h('section', { class: 'card' }, items, form),
  );
  void load();
  return watchRoom(`list:${LIST}`, {
    event(e) {
      if (!isListEvent(e) || e.list !== LIST) return;
      if (!list) {
        early.push(e);
        if (early.length > MAX_EARLY) early.shift();
        return;
      }
      const next = apply(list, e);
      if (next) {
        list = next;
        draw();
      } else void load();
    },
    joined: () => void load(),
    status: (s) => (status.textContent = s),
  });
}
