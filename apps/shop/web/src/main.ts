// The shop's web UI: plain TypeScript views on the JSON API; the page keeps nothing across a
// reload but the session cookie (everything is read from the API again).
import './style.css';
import { onInstance } from './api.js';
import { mountBanner } from './banner.js';
import { onFailover } from './failover.js';
import { stopChat } from './chat.js';
import { clearNotice, showError } from './notice.js';
import { currentRoute, type Route, type View } from './router.js';
import { getCart, whoami } from './shop-api.js';
import { getState, setState, subscribe } from './state.js';
import { renderCart } from './views/cart.js';
import { renderCatalog } from './views/catalog.js';
import { renderChat } from './views/chat.js';
import { renderDrop } from './views/drop.js';
import { renderList } from './views/list.js';
import { renderLogin } from './views/login.js';
import { renderOrders } from './views/orders.js';
import { renderSessions } from './views/sessions.js';

const VIEWS: Record<Route, View> = {
  catalog: renderCatalog,
  cart: renderCart,
  orders: renderOrders,
  sessions: renderSessions,
  chat: renderChat,
  drop: renderDrop,
  list: renderList,
  login: renderLogin,
};

const view = document.querySelector<HTMLElement>('#view')!;
let cleanup: (() => void) | void;

function show(): void {
  cleanup?.();
  cleanup = undefined;
  clearNotice(true);
  const route = currentRoute();
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === `#/${route === 'catalog' ? '' : route}`);
  }
  view.dataset.view = route;
  cleanup = VIEWS[route](view);
}

onInstance((instance) => setState({ instance }));
// The instance that answers now keeps the session elsewhere: the banner asks again.
onFailover(() => void whoami().catch(showError));
mountBanner(document.querySelector('#banner')!, document.querySelector('#nav')!);

// A session that ended (logout here, elsewhere, revoked) closes the chat that belonged to it.
let userId = getState().user?.id;
subscribe((s) => {
  if (s.user?.id === userId) return;
  userId = s.user?.id;
  stopChat();
});

async function boot(): Promise<void> {
  try {
    await Promise.all([whoami(), getCart()]);
  } catch (err) {
    showError(err);
  }
  window.addEventListener('hashchange', show);
  show();
  document.body.dataset.ready = 'true';
}

void boot();
