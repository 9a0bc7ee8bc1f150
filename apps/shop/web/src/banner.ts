import { h, replace } from './dom.js';
import { showError } from './notice.js';
import { go } from './router.js';
import { logout, whoami } from './shop-api.js';
import { subscribe, type AppState } from './state.js';

/**
 * The banner: which instance served the last request, the cluster's strategy and store, where the
 * session lives in words, the balancing policy and replication, and who is logged in; and the navigation with the cart's count. Kept up to date from the state.
 *
 * @example
 * ```ts
 * mountBanner(document.querySelector('#banner')!, document.querySelector('#nav')!);
 * ```
 */
export function mountBanner(banner: HTMLElement, nav: HTMLElement): void {
  const servedBy = h('b', { class: 'pill', testid: 'served-by' }, '–');
  const strategy = h('b', { testid: 'strategy' });
  const store = h('b', { testid: 'store' });
  const where = h('b', { testid: 'session-where' });
  const routing = h('b', { testid: 'routing' });
  const who = h('span', { class: 'who' });
  replace(
    banner,
    h('a', { class: 'brand', href: '#/' }, 'Stateline shop'),
    h(
      'span',
      { class: 'fact', title: 'X-Stateline-Instance of the last API answer' },
      'served by ',
      servedBy,
    ),
    h('span', { class: 'fact' }, 'strategy ', strategy),
    h('span', { class: 'fact store' }, 'store ', store),
    h(
      'span',
      { class: 'fact', title: 'Where the instance that served you keeps your session' },
      'your session lives ',
      where,
    ),
    h(
      'span',
      { class: 'fact', title: 'How the gateway picks an instance, and session replication' },
      routing,
    ),
    who,
  );
  const cartCount = h('span', { class: 'badge', testid: 'cart-count' }, '0');
  const link = (route: string, label: string, ...extra: Node[]) =>
    h('a', { href: `#/${route}`, testid: `nav-${route || 'catalog'}` }, label, ...extra);
  const userLinks = [
    link('orders', 'Orders'),
    link('sessions', 'My sessions'),
    link('chat', 'Chat'),
    link('list', 'Shared list'),
  ];
  replace(nav, link('', 'Catalogue'), link('drop', 'Drop'), link('cart', 'Cart ', cartCount), ...userLinks);

  const logoutButton = h(
    'button',
    {
      class: 'link',
      testid: 'logout',
      onclick: () => {
        logout()
          .then(() => whoami())
          .then(() => go('catalog'))
          .catch(showError);
      },
    },
    'Log out',
  );
  const loginLink = h('a', { href: '#/login', testid: 'nav-login' }, 'Log in');

  let shownUser: string | null | undefined;
  const update = (s: Readonly<AppState>) => {
    servedBy.textContent = s.instance ?? '–';
    strategy.textContent = s.strategy;
    store.textContent = s.store;
    where.textContent = s.where;
    routing.textContent = [
      s.balance ? `balance ${s.balance}` : '',
      s.replication !== 'off' ? `replication ${s.replication}` : 'no replication',
    ]
      .filter(Boolean)
      .join(', ');
    cartCount.textContent = String(s.cartCount);
    const name = s.user?.name ?? null;
    if (name === shownUser) return;
    shownUser = name;
    if (name) replace(who, 'logged in as ', h('b', { testid: 'user' }, name), ' ', logoutButton);
    else replace(who, loginLink);
    for (const l of userLinks) l.hidden = !name;
  };
  subscribe(update);
}
