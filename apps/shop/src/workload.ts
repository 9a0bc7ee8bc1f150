import type { AuditRecord, Workload, WorkloadAction, WorkloadAnswer, WorkloadUser } from 'stateline/instance';
import { DEFAULT_DEMO_PASSWORD, SHOP_ENV } from './config.js';
import { SL_ERR_CART_EMPTY } from './errors.js';
import { VIEWED_MAX } from './recently-viewed.js';
import { bearerHttp, refreshTokens, tokenLogin, type BearerState } from './workload-bearer.js';
import { joinChat, say, tallyChat, type ChatMember } from './workload-chat.js';

interface CartItem {
  productId: string;
  qty: number;
}

/** What one shopper remembers between its actions (`tokens`: a bearer client's). */
interface Shopper extends BearerState {
  /** `user<n>`, seeded by the shop from `STATELINE_SHOP_USERS`. */
  name: string;
  /** What it believes; 'unknown' after a logout whose answer never came. */
  loggedIn: boolean | 'unknown';
  /** Quantity per product acknowledged since the cart was last known to be empty. */
  expected: Map<string, number>;
  /**
   * True while every cart write was answered: the cart is then exactly {@link expected}, so a
   * view with more in it (an order's lines back after the checkout) is an old copy too.
   */
  exact: boolean;
  /** Product ids from the last catalogue listing. */
  products: string[];
  /** "Recently viewed" entries the shop said this login's session holds. */
  viewed: number;
  /** The cookies it held before each answered logout (the last few): they must stay signed out. */
  revoked: string[];
  /** Its chat client in the lobby (users 1…{@link CHAT_USERS} with cookies), once joined. */
  chat: ChatMember | null;
  /** The join under way (it does not hold the shopper up), and how many were tried. */
  chatJoin: Promise<void> | null;
  chatJoins: number;
}

/** How often a bearer client rotates its tokens before an action. */
const REFRESH_CHANCE = 0.15;

/** Users 1…this many keep a chat client open in the lobby (and never log out, which would end it). */
const CHAT_USERS = 6;

/** Joins a chatting user tries (an app without the chat refuses them all: the load goes on). */
const CHAT_JOINS = 3;

/** Old session cookies each shopper keeps to re-present after the load. */
const REVOKED_KEPT = 4;

/** How often a logout is "log out everywhere" (`POST /api/logout-all`: revokes every session). */
const LOGOUT_ALL_CHANCE = 0.25;

/** Check out before a line gets near the shop's 999 limit. */
const LINE_SOFT_LIMIT = 900;

function isCartItem(v: unknown): v is CartItem {
  return (
    typeof v === 'object' &&
    v !== null &&
    'productId' in v &&
    typeof v.productId === 'string' &&
    'qty' in v &&
    typeof v.qty === 'number'
  );
}

function itemsOf(body: unknown): CartItem[] | null {
  if (typeof body !== 'object' || body === null || !('items' in body) || !Array.isArray(body.items))
    return null;
  return body.items.filter(isCartItem);
}

function ordersOf(body: unknown): AuditRecord[] | null {
  if (typeof body !== 'object' || body === null || !('orders' in body) || !Array.isArray(body.orders))
    return null;
  return body.orders.map((o: unknown) => {
    const id = typeof o === 'object' && o !== null && 'id' in o ? String(o.id) : 'undefined';
    const key =
      typeof o === 'object' && o !== null && 'idempotencyKey' in o && typeof o.idempotencyKey === 'string'
        ? o.idempotencyKey
        : null;
    return { id, idempotencyKey: key };
  });
}

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null && name in body
    ? Object.getOwnPropertyDescriptor(body, name)?.value
    : undefined;
}

/** Go on: not stopped, and still logged in as far as the shopper knows. */
const proceed = (user: WorkloadUser, s: Shopper) => !user.stopped() && s.loggedIn === true;

function lost(user: WorkloadUser, s: Shopper, reason: 'logged-out' | 'unauthenticated' | 'data-lost'): void {
  user.report.sessionLost(reason);
  s.viewed = 0;
  s.expected.clear();
  s.exact = false;
  s.loggedIn = false;
}

/** A 401 where the shopper believed itself logged in is a lost session. */
function unauthenticated(user: WorkloadUser, s: Shopper): void {
  if (s.loggedIn === true) lost(user, s, 'unauthenticated');
  else s.loggedIn = false;
}

/** A 4xx the script did not expect is an error the user saw. */
function unexpected(user: WorkloadUser, a: WorkloadAnswer, what: string): void {
  if (a.status >= 400 && a.status < 500) user.report.unexpected(a, what);
}

/** Logs in; false when it did not work this time (after a pause, longer when asked to wait). */
async function login(user: WorkloadUser, s: Shopper): Promise<boolean> {
  const a = await user.http.request('POST', '/api/login', {
    json: { username: s.name, password: DEFAULT_DEMO_PASSWORD },
  });
  if (a?.status === 200) {
    s.loggedIn = true;
    // A login after a logout (or a lost session) starts a session with no views of this shopper's.
    s.viewed = 0;
    return true;
  }
  if (a?.status === 429) user.report.retry();
  else if (a) unexpected(user, a, 'login');
  const retryAfter = Number(a?.headers.get('retry-after'));
  await user.sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 5000) : 200);
  return false;
}

async function whoami(user: WorkloadUser, s: Shopper): Promise<void> {
  const a = await user.http.request('GET', '/api/whoami');
  if (!a || a.status >= 500) return;
  if (a.status === 401) return unauthenticated(user, s);
  if (a.status !== 200) return unexpected(user, a, 'whoami');
  const who = field(a.body, 'user');
  if (who === null || who === undefined) {
    if (s.loggedIn === true) lost(user, s, 'logged-out');
    else s.loggedIn = false;
  } else if (s.loggedIn === 'unknown') s.loggedIn = true;
}

/** A catalogue GET, revalidated with If-None-Match once it holds an ETag. */
async function catalogue(user: WorkloadUser, s: Shopper, path: string, what: string): Promise<void> {
  const a = await user.http.request('GET', path, { revalidate: true });
  if (!a || a.status >= 500) return;
  if (a.status !== 200 && a.status !== 304) return unexpected(user, a, what);
  const list = field(a.body, 'products');
  if (!Array.isArray(list)) return;
  const ids = list.map((p: unknown) => field(p, 'id')).filter((id): id is string => typeof id === 'string');
  if (ids.length > 0) s.products = ids;
}

/**
 * True when a cart shown disagrees with the answered writes: a line short of its acknowledged
 * quantity, or (while `exact`) anything beyond them.
 */
function disagrees(s: Shopper, items: CartItem[]): boolean {
  const actual = new Map(items.map((i) => [i.productId, i.qty]));
  for (const [p, q] of s.expected) if (q > 0 && (actual.get(p) ?? 0) < q) return true;
  return s.exact && items.some((i) => i.qty > (s.expected.get(i.productId) ?? 0));
}

async function readCart(user: WorkloadUser): Promise<CartItem[] | null> {
  const a = await user.http.request('GET', '/api/cart');
  return a?.status === 200 ? itemsOf(a.body) : null;
}

/**
 * Compares a cart the shop showed with the acknowledged adds. When they disagree and a view right
 * after agrees, that was a stale read; otherwise every expected line gone (while something was
 * expected) is a lost session, and a line short of its acknowledged quantity is a lost update,
 * after which the shown quantity is the new baseline (so it counts once). `written`: the cart came
 * with a write's answer, which is never an old copy (no view again). False when the session
 * counted as lost.
 */
async function compare(user: WorkloadUser, s: Shopper, shown: CartItem[], written = false): Promise<boolean> {
  user.report.checked();
  if (!disagrees(s, shown)) return true;
  const items = written
    ? shown
    : await user.recheck(
        shown,
        () => readCart(user),
        (c) => !disagrees(s, c),
      );
  if (!items) return true;
  // Extra lines that stay are not counted (an earlier unanswered write may explain them).
  s.exact = false;
  const expectedLines = [...s.expected].filter(([, q]) => q > 0);
  if (expectedLines.length === 0) return true;
  const actual = new Map(items.map((i) => [i.productId, i.qty]));
  if (expectedLines.every(([p]) => (actual.get(p) ?? 0) <= 0)) {
    lost(user, s, 'data-lost');
    return false;
  }
  for (const [p, q] of expectedLines) {
    const got = actual.get(p) ?? 0;
    if (got < q) {
      user.report.lostUpdate();
      s.expected.set(p, got);
    }
  }
  return true;
}

async function add(user: WorkloadUser, s: Shopper, productId: string, qty: number): Promise<void> {
  const init = { json: { productId, qty } };
  // An API client sends an Idempotency-Key, so a retry after a lost answer adds once.
  const a =
    user.credentials === 'bearer'
      ? (await user.http.idempotent('POST', '/api/cart/items', init)).answer
      : await user.http.request('POST', '/api/cart/items', init);
  if (!a || a.status >= 500) {
    s.exact = false; // may or may not have landed: nothing recorded
    return;
  }
  if (a.status !== 200) return unexpected(user, a, 'add');
  user.report.acknowledged();
  // The cart as it was before this add: what earlier acknowledged adds must still be there.
  const before = itemsOf(a.body)?.map((i) => (i.productId === productId ? { ...i, qty: i.qty - qty } : i));
  if (before && !(await compare(user, s, before, true))) return;
  s.expected.set(productId, (s.expected.get(productId) ?? 0) + qty);
}

async function viewCart(user: WorkloadUser, s: Shopper): Promise<CartItem[] | null> {
  const a = await user.http.request('GET', '/api/cart');
  if (!a || a.status >= 500) return null;
  if (a.status !== 200) {
    unexpected(user, a, 'cart');
    return null;
  }
  const items = itemsOf(a.body);
  if (items) await compare(user, s, items);
  return items;
}

async function remove(user: WorkloadUser, s: Shopper, productId: string): Promise<void> {
  const a = await user.http.request('DELETE', `/api/cart/items/${encodeURIComponent(productId)}`);
  // Unanswered: the line may be gone or not; either is consistent with "at least 0".
  s.expected.delete(productId);
  if (!a || a.status >= 500) {
    s.exact = false;
    return;
  }
  if (a.status !== 200 && a.status !== 404) unexpected(user, a, 'remove');
}

/** `POST /api/orders` with an Idempotency-Key, retried with the same key until it gets its answer. */
async function checkout(user: WorkloadUser, s: Shopper): Promise<void> {
  const { key, answer: a, uncertain } = await user.http.idempotent('POST', '/api/orders', { json: {} });
  if (a?.status === 201) {
    const id = field(field(a.body, 'order'), 'id');
    if (typeof id === 'string') user.report.created(key, id);
    else user.report.unexpected(a, 'order without id');
    s.expected.clear();
    // The order's lines left the cart; nothing else is in it (this shopper adds one at a time).
    s.exact = true;
    return;
  }
  if (a) {
    if (a.status === 401) return unauthenticated(user, s);
    if (a.status === 409 && a.code === SL_ERR_CART_EMPTY.code) {
      // After an unanswered or "in flight" attempt the order may have gone through; otherwise the
      // checkout read an old copy of the cart (a view right after shows the lines) or the cart vanished.
      if (!uncertain && [...s.expected.values()].some((q) => q > 0)) {
        const again = await user.recheck(
          [],
          () => readCart(user),
          (c) => !disagrees(s, c),
        );
        if (again === null) return;
        lost(user, s, 'data-lost');
      }
      s.expected.clear();
      s.exact = false;
      return;
    }
    unexpected(user, a, 'checkout');
    if (a.status !== 409) return;
  }
  // No answer in the end: the order may exist or not, and the cart with it.
  s.expected.clear();
  s.exact = false;
}

async function listOrders(user: WorkloadUser, s: Shopper): Promise<void> {
  const a = await user.http.request('GET', '/api/orders');
  if (!a || a.status >= 500) return;
  if (a.status === 401) return unauthenticated(user, s);
  if (a.status !== 200) unexpected(user, a, 'orders');
}

/** A bearer client gives its family up (`DELETE /api/tokens/<handle>`) and forgets its tokens. */
async function endFamily(user: WorkloadUser, s: Shopper): Promise<void> {
  const handle = s.tokens?.handle ?? '';
  const a = await user.http.request('DELETE', `/api/tokens/${encodeURIComponent(handle)}`);
  s.expected.clear();
  s.tokens = null;
  s.loggedIn = false;
  // 404: an earlier attempt (retried by the gateway) already ended it.
  s.exact = a?.status === 204 || a?.status === 404;
  if (a && a.status < 500 && !s.exact) unexpected(user, a, 'end family');
}

const chatting = (user: WorkloadUser) => user.credentials === 'cookie' && user.n <= CHAT_USERS;

async function logout(user: WorkloadUser, s: Shopper): Promise<void> {
  if (user.credentials === 'bearer') return endFamily(user, s);
  if (chatting(user)) return whoami(user, s);
  const before = user.http.cookie?.();
  const path = user.random.chance(LOGOUT_ALL_CHANCE) ? '/api/logout-all' : '/api/logout';
  const a = await user.http.request('POST', path);
  // The cart is the account's: it is there again, unchanged, at the next login.
  if (a && (a.status === 204 || a.status === 200)) {
    s.loggedIn = false;
    if (before) s.revoked = [...s.revoked, before].slice(-REVOKED_KEPT);
  } else {
    s.loggedIn = 'unknown';
    s.exact = false;
    if (a && a.status < 500) unexpected(user, a, 'logout');
  }
}

/**
 * With a state size (`stateline lab --state-size`): the session holds that many "recently viewed"
 * entries (at most the shop's {@link VIEWED_MAX}: random products, a few seconds to a minute
 * apart), sent in one `POST /api/viewed` after each login, so every request carries (token) or reads (server, memory) a session of that size. True
 * when the session holds them (or nothing is asked).
 */
async function fill(user: WorkloadUser, s: Shopper): Promise<boolean> {
  const size = Math.min(user.stateSize ?? 0, VIEWED_MAX);
  if (size <= 0 || s.viewed >= size) return true;
  if (s.products.length === 0) {
    await catalogue(user, s, '/api/products', 'products');
    if (s.products.length === 0 || !proceed(user, s)) return false;
  }
  // Products picked at random, viewed over the last minutes (as a page batching its views sends them).
  const now = Math.floor(Date.now() / 1000);
  const n = size - s.viewed;
  let at = now - n * 30;
  const views = Array.from({ length: n }, () => ({
    id: user.random.pick(s.products),
    at: Math.min((at += user.random.int(5, 55)), now),
  }));
  const a = await user.http.request('POST', '/api/viewed', { json: { views } });
  if (!a || a.status >= 500) return false;
  if (a.status === 401) {
    unauthenticated(user, s);
    return false;
  }
  if (a.status !== 200) {
    unexpected(user, a, 'viewed');
    return false;
  }
  const count = field(a.body, 'count');
  s.viewed = typeof count === 'number' ? count : s.viewed;
  return s.viewed >= size;
}

/** One line to the lobby from a chatting user (a look at whoami for the others). */
async function chatLine(user: WorkloadUser, s: Shopper): Promise<void> {
  if (!s.chat) return whoami(user, s);
  say(s.chat, `user${user.n} ${user.random.hex128().slice(0, 8)}`);
}

/**
 * Re-presents every cookie a shopper held before an answered logout: `whoami` must answer
 * anonymous. Counts the ones that came back signed in, and those no instance answered.
 */
async function resurrections(
  http: WorkloadUser['http'],
  states: readonly Shopper[],
): Promise<{ checked: number; resurrected: number; unchecked: number }> {
  const out = { checked: 0, resurrected: 0, unchecked: 0 };
  for (const s of states)
    for (const cookie of s.revoked) {
      const a = await http.request('GET', '/api/whoami', { headers: { cookie } });
      if (a?.status !== 200) {
        out.unchecked++;
        continue;
      }
      out.checked++;
      const who = field(a.body, 'user');
      if (who !== null && who !== undefined) out.resurrected++;
    }
  return out;
}

/** A view of the cart, then, when it holds lines, a checkout and now and then the order list. */
async function buy(user: WorkloadUser, s: Shopper): Promise<void> {
  const items = await viewCart(user, s);
  if (!items || items.length === 0 || !proceed(user, s)) return;
  await user.think();
  if (!proceed(user, s)) return;
  await checkout(user, s);
  if (!user.random.chance(0.3) || !proceed(user, s)) return;
  await user.think();
  if (proceed(user, s)) await listOrders(user, s);
}

/** A bearer client's tokens were refused and could not be refreshed: its family (and cart) is gone. */
function signedOut(s: Shopper): void {
  s.tokens = null;
  s.loggedIn = false;
  s.expected.clear();
  s.exact = false;
}

/** The actions, run by a bearer client with its tokens on every request. */
function bearerToo(actions: WorkloadAction<Shopper>[]): WorkloadAction<Shopper>[] {
  return actions.map((a) => ({
    ...a,
    run: (user, s) =>
      a.run(
        user.credentials === 'bearer' ? { ...user, http: bearerHttp(user, s, () => signedOut(s)) } : user,
        s,
      ),
  }));
}

/**
 * The shop's workload for `stateline lab`: shoppers `user1…userN` (the shop seeds them from
 * `STATELINE_SHOP_USERS`, password `stateline`) who browse the catalogue with ETag revalidation,
 * add lines to their carts, view and compare them with every add the shop acknowledged, remove a
 * line now and then, check out with an Idempotency-Key, list their orders and sometimes log out.
 *
 * What it judges: a session lost when the shop says the shopper is logged out (or answers 401)
 * though it never logged out, or when a cart that held acknowledged lines comes back without any
 * of them; a lost update when a line holds less than its acknowledged adds while the rest of the
 * cart survived; a stale read when a cart view (or a checkout's `SL_ERR_CART_EMPTY`) disagreed
 * with the acknowledged writes and a view right after agreed again. After the load each
 * shopper's orders are listed for the lab to count duplicates. Given a state size, each cookie
 * shopper's session holds that many "recently viewed" entries (sent after each login, up to the
 * shop's 100): what a session carries grows with it, while the cart lives with the account.
 *
 * Its `verify` adds two checks. Every session cookie a shopper held before an answered logout (a
 * quarter of them "log out everywhere") is presented again: `whoami` must answer anonymous, or
 * the session counts in `session.resurrected`. Shoppers 1–6 (cookie runs) keep a chat client
 * open in the lobby through the gateway (they never log out) and now and then send a line: each
 * line the hub stored must reach every client that had joined before it exactly once, through
 * reconnects and resumes (`chat.lost`, `chat.duplicates`).
 *
 * With `bearer` credentials the same shoppers are API clients: they sign in with
 * `POST /api/tokens`, send `Authorization: Bearer` on every request (their cart lives with their
 * token family), add to the cart with an Idempotency-Key, rotate their tokens before about one
 * action in seven (`POST /api/tokens/refresh`, with an Idempotency-Key), and log out by ending
 * their family. A refresh refused while they still held the family is a refresh family lost.
 *
 * @example
 * ```ts
 * import { workload } from '@stateline/shop/server';
 * workload.actions.map((a) => a.name); // ['whoami', 'browse', 'add', …, 'chat']
 * ```
 */
export const workload: Workload<Shopper> = {
  credentials: ['cookie', 'bearer'],
  env: (users) => ({ [SHOP_ENV.users]: String(users), [SHOP_ENV.demoPassword]: DEFAULT_DEMO_PASSWORD }),
  init: (user) => ({
    name: `user${user.n}`,
    loggedIn: false,
    expected: new Map(),
    exact: true,
    products: [],
    viewed: 0,
    tokens: null,
    revoked: [],
    chat: null,
    chatJoin: null,
    chatJoins: 0,
  }),
  prepare: async (user, s) => {
    if (user.credentials === 'cookie') {
      const ready =
        (s.loggedIn === true || (await login(user, s))) && (s.loggedIn !== true || (await fill(user, s)));
      if (ready && !s.chat && !s.chatJoin && s.chatJoins < CHAT_JOINS && chatting(user) && !user.stopped()) {
        s.chatJoins++;
        s.chatJoin = joinChat(user).then((m) => {
          s.chat = m;
          s.chatJoin = null;
        });
      }
      return ready;
    }
    if (s.tokens && user.random.chance(REFRESH_CHANCE)) await refreshTokens(user, s);
    if (!s.tokens) {
      s.expected.clear();
      s.exact = true;
      s.loggedIn = await tokenLogin(user, s);
    }
    return s.loggedIn === true;
  },
  actions: bearerToo([
    { name: 'whoami', weight: 3, run: whoami },
    {
      name: 'browse',
      weight: 10,
      async run(user, s) {
        await catalogue(user, s, '/api/products', 'products');
        for (let i = user.random.int(0, 2); i > 0 && s.products.length > 0 && proceed(user, s); i--) {
          await user.think();
          const id = user.random.pick(s.products);
          await catalogue(user, s, `/api/products/${encodeURIComponent(id)}`, 'product');
        }
      },
    },
    {
      name: 'add',
      weight: 20,
      async run(user, s) {
        if ([...s.expected.values()].some((q) => q > LINE_SOFT_LIMIT)) return buy(user, s);
        if (s.products.length === 0) {
          await catalogue(user, s, '/api/products', 'products');
          if (s.products.length === 0 || !proceed(user, s)) return;
          await user.think();
        }
        await add(user, s, user.random.pick(s.products), user.random.int(1, 3));
      },
    },
    {
      name: 'view-cart',
      weight: 6,
      run: async (user, s) => void (await viewCart(user, s)),
    },
    {
      name: 'remove',
      weight: 1.5,
      async run(user, s) {
        const items = await viewCart(user, s);
        if (!items || items.length === 0 || !proceed(user, s)) return;
        await user.think();
        await remove(user, s, user.random.pick(items).productId);
      },
    },
    { name: 'buy', weight: 4, run: buy },
    { name: 'logout', weight: 0.5, run: logout },
    { name: 'chat', weight: 2, run: chatLine },
  ]),
  async audit({ http, n, signIn }) {
    if (signIn) {
      const login = await http.request('POST', '/api/login', {
        json: { username: `user${n}`, password: DEFAULT_DEMO_PASSWORD },
      });
      if (login?.status !== 200) return null;
    }
    const a = await http.request('GET', '/api/orders');
    return a?.status === 200 ? ordersOf(a.body) : null;
  },
  async verify({ http, states }) {
    // Joins still under way end within their bound.
    await Promise.all(states.map((s) => s.chatJoin));
    const chat = await tallyChat(states.flatMap((s) => (s.chat ? [s.chat] : [])));
    const revoked = await resurrections(http, states);
    return {
      'session.revokedChecked': revoked.checked,
      'session.revokedUnchecked': revoked.unchecked,
      'session.resurrected': revoked.resurrected,
      'chat.clients': chat.clients,
      'chat.sent': chat.sent,
      'chat.lost': chat.lost,
      'chat.duplicates': chat.duplicates,
      'chat.unconfirmed': chat.unconfirmed,
      'chat.resent': chat.resent,
      'chat.reconnects': chat.reconnects,
      'chat.clientsGone': chat.gone,
    };
  },
};
