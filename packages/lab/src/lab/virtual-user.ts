import { fetch, type Dispatcher } from 'undici';
import { CookieJar } from './cookie-jar.js';
import type { Random } from './prng.js';
import type { Recorder, SessionLossReason } from './recorder.js';

/** The password of every seeded user (`STATELINE_DEMO_PASSWORD`'s default). */
export const LAB_PASSWORD = 'stateline';

/** What one virtual user needs. */
export interface VirtualUserOptions {
  /** Its number, 1-based: it logs in as `user<n>`. */
  n: number;
  /** The gateway, e.g. `http://127.0.0.1:40123`. */
  base: string;
  dispatcher: Dispatcher;
  rec: Recorder;
  rnd: Random;
  /** True once the load should end; the user finishes its current request and returns. */
  stopped: () => boolean;
  /** Longest wait for one answer (default 10 s). */
  requestTimeout?: number;
}

/** One answer as the script sees it. */
interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

interface CartItem {
  productId: string;
  qty: number;
}

/** An order as the shop lists it. */
export interface ListedOrder {
  id: string;
  idempotencyKey: string | null;
}

const THINK_MIN = 10;
const THINK_MAX = 40;
/** Retries of one checkout after a network error or 5xx, with backoff 100 ms × 2^n. */
const CHECKOUT_RETRIES = 5;
/** Longest one checkout keeps trying (covers an idempotency lock of a killed instance, 5–10 s). */
const CHECKOUT_DEADLINE = 15_000;
/** Check out before a line gets near the shop's 999 limit. */
const LINE_SOFT_LIMIT = 900;
/** Cart views after one that disagreed with the acknowledged writes, 50 ms × n apart. */
const REREADS = 3;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function problemCode(body: unknown): string {
  const code = (body as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function itemsOf(body: unknown): CartItem[] | null {
  const items = (body as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return null;
  return items.filter(
    (i): i is CartItem =>
      typeof i === 'object' &&
      i !== null &&
      typeof (i as CartItem).productId === 'string' &&
      typeof (i as CartItem).qty === 'number',
  );
}

/**
 * A scripted shopper. It logs in as its own `user<n>`, then repeats a visit until told to stop:
 * maybe checks who it is, lists the products and opens a few (revalidating with `If-None-Match`),
 * adds one to three lines to the cart (each acknowledged add is recorded), views the cart and
 * compares it with what it recorded, often checks out with an `Idempotency-Key` (the same key on
 * every retry after a network error or 5xx, with backoff), sometimes removes a line, now and then
 * logs out and in. Think time 10–40 ms between requests. Every choice comes from its seeded PRNG.
 *
 * It counts, through the {@link Recorder}: a session lost when it finds itself logged out without
 * having logged out (or 401 where it was logged in), or when a cart that held acknowledged lines
 * comes back without any of them (then it logs in again and carries on); a lost update when a cart
 * line holds less than the acknowledged adds put there while the rest of the cart survived; a
 * stale read when a cart view (or a checkout's `SL_ERR_CART_EMPTY`) disagreed with the writes it
 * was already answered for and a view right after agreed again (an old copy, not a lost write).
 *
 * @example
 * ```ts
 * const vu = new VirtualUser({ n: 1, base: cluster.url, dispatcher, rec, rnd: mulberry32(1), stopped: () => Date.now() > end });
 * await vu.run();
 * vu.ordersSeen; // Map idempotencyKey → order ids the shop answered with
 * ```
 */
export class VirtualUser {
  readonly name: string;
  /** Every order id the shop answered with, by Idempotency-Key. */
  readonly ordersSeen = new Map<string, Set<string>>();
  private readonly jar = new CookieJar();
  /** Quantity per product acknowledged since the cart was last known to be empty. */
  private readonly expected = new Map<string, number>();
  private readonly etags = new Map<string, { etag: string; body: unknown }>();
  private products: string[] = [];
  /** What the user believes; 'unknown' after a logout whose answer never came. */
  private loggedIn: boolean | 'unknown' = false;
  /**
   * True while every cart write was answered: the cart is then exactly {@link expected}, so a
   * view with more in it (an order's lines back after the checkout) is an old copy too.
   */
  private exact = true;

  constructor(private readonly o: VirtualUserOptions) {
    this.name = `user${o.n}`;
  }

  /** The cookies the user holds now (its session, when it still has one). */
  cookies(): string | undefined {
    return this.jar.header();
  }

  async run(): Promise<void> {
    while (!this.o.stopped()) {
      if (this.loggedIn !== true && !(await this.login())) continue;
      await this.visit();
    }
  }

  private think(): Promise<void> {
    return this.o.stopped() ? Promise.resolve() : sleep(this.o.rnd.int(THINK_MIN, THINK_MAX));
  }

  /** One request through the gateway; null on a network error (already recorded). */
  private async call(
    method: string,
    path: string,
    init: { json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer | null> {
    const { rec } = this.o;
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    const cookie = this.jar.header();
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers['content-type'] = 'application/json';
    }
    rec.sent();
    const started = performance.now();
    try {
      const res = await fetch(this.o.base + path, {
        method,
        headers,
        body,
        dispatcher: this.o.dispatcher,
        signal: AbortSignal.timeout(this.o.requestTimeout ?? 10_000),
        redirect: 'manual',
      });
      const text = await res.text();
      rec.response(performance.now() - started);
      this.jar.store(res.headers.getSetCookie());
      let parsed: unknown = null;
      if (text) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      const answer = { status: res.status, headers: res.headers, body: parsed };
      if (res.status >= 500) rec.error(`${res.status} ${problemCode(parsed)}`.trim());
      return answer;
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string }; code?: string };
      const why = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.code ?? e.name ?? 'error');
      rec.error(`network ${why}`);
      return null;
    }
  }

  /** A 4xx the script did not expect is an error the user saw. */
  private unexpected(a: Answer, what: string): void {
    if (a.status >= 400 && a.status < 500) this.o.rec.error(`${a.status} ${problemCode(a.body) || what}`);
  }

  private lost(reason: SessionLossReason): void {
    this.o.rec.sessionLost(reason);
    this.expected.clear();
    this.exact = false;
    this.loggedIn = false;
  }

  /** Logs in; false when it did not work this time (recorded, after a short pause). */
  private async login(): Promise<boolean> {
    const a = await this.call('POST', '/api/login', {
      json: { username: this.name, password: LAB_PASSWORD },
    });
    if (a?.status === 200) {
      this.loggedIn = true;
      return true;
    }
    if (a?.status === 429) this.o.rec.retries++;
    else if (a) this.unexpected(a, 'login');
    const retryAfter = Number(a?.headers.get('retry-after'));
    await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 5000) : 200);
    return false;
  }

  /** Go on with the visit: not stopped, and still logged in as far as the user knows. */
  private proceed(): boolean {
    return !this.o.stopped() && this.loggedIn === true;
  }

  private async visit(): Promise<void> {
    const { rnd } = this.o;
    if (rnd.chance(0.3)) {
      await this.whoami();
      await this.think();
      if (!this.proceed()) return;
    }
    await this.get('/api/products', 'products');
    await this.think();
    for (let i = rnd.int(0, 2); i > 0 && this.products.length > 0 && this.proceed(); i--) {
      await this.get(`/api/products/${encodeURIComponent(rnd.pick(this.products))}`, 'product');
      await this.think();
    }
    for (let i = rnd.int(1, 3); i > 0 && this.products.length > 0 && this.proceed(); i--) {
      await this.add(rnd.pick(this.products), rnd.int(1, 3));
      await this.think();
    }
    if (!this.proceed()) return;
    const items = await this.viewCart();
    await this.think();
    if (!this.proceed()) return;
    if (items && items.length > 0 && rnd.chance(0.15)) {
      await this.remove(rnd.pick(items).productId);
      await this.think();
      if (!this.proceed()) return;
    }
    const full = [...this.expected.values()].some((q) => q > LINE_SOFT_LIMIT);
    if (items && items.length > 0 && (full || rnd.chance(0.4))) {
      await this.checkout();
      await this.think();
      if (!this.proceed()) return;
      if (rnd.chance(0.3)) {
        await this.listOrders();
        await this.think();
        if (!this.proceed()) return;
      }
    }
    if (rnd.chance(0.05)) {
      await this.logout();
      await this.think();
    }
  }

  private async whoami(): Promise<void> {
    const a = await this.call('GET', '/api/whoami');
    if (!a || a.status >= 500) return;
    if (a.status !== 200) return this.unexpected(a, 'whoami');
    const user = (a.body as { user?: unknown } | null)?.user;
    if (user === null || user === undefined) {
      if (this.loggedIn === true) this.lost('logged-out');
      else this.loggedIn = false;
    } else if (this.loggedIn === 'unknown') this.loggedIn = true;
  }

  /** A GET that revalidates its cached copy with If-None-Match. */
  private async get(path: string, what: 'products' | 'product'): Promise<void> {
    const cached = this.etags.get(path);
    const a = await this.call('GET', path, cached ? { headers: { 'if-none-match': cached.etag } } : {});
    if (cached) this.o.rec.conditionalRequests++;
    if (!a || a.status >= 500) return;
    let body = a.body;
    if (a.status === 304 && cached) {
      this.o.rec.notModified++;
      body = cached.body;
    } else if (a.status !== 200) return this.unexpected(a, what);
    else {
      const etag = a.headers.get('etag');
      if (etag) this.etags.set(path, { etag, body });
    }
    if (what === 'products') {
      const list = (body as { products?: { id?: unknown }[] } | null)?.products;
      if (Array.isArray(list)) {
        const ids = list.map((p) => p?.id).filter((id): id is string => typeof id === 'string');
        if (ids.length > 0) this.products = ids;
      }
    }
  }

  private async add(productId: string, qty: number): Promise<void> {
    const a = await this.call('POST', '/api/cart/items', { json: { productId, qty } });
    if (!a || a.status >= 500) {
      this.exact = false; // may or may not have landed: nothing recorded
      return;
    }
    if (a.status !== 200) return this.unexpected(a, 'add');
    this.o.rec.addsAcknowledged++;
    // The cart as it was before this add: what earlier acknowledged adds must still be there.
    const items = itemsOf(a.body);
    const before = items?.map((i) => (i.productId === productId ? { ...i, qty: i.qty - qty } : i));
    if (before && !(await this.compare(before, true))) return;
    this.expected.set(productId, (this.expected.get(productId) ?? 0) + qty);
  }

  private async viewCart(): Promise<CartItem[] | null> {
    const a = await this.call('GET', '/api/cart');
    if (!a || a.status >= 500) return null;
    if (a.status !== 200) {
      this.unexpected(a, 'cart');
      return null;
    }
    const items = itemsOf(a.body);
    if (items) await this.compare(items);
    return items;
  }

  private async remove(productId: string): Promise<void> {
    const a = await this.call('DELETE', `/api/cart/items/${encodeURIComponent(productId)}`);
    // Unanswered: the line may be gone or not; either is consistent with "at least 0".
    this.expected.delete(productId);
    if (!a || a.status >= 500) {
      this.exact = false;
      return;
    }
    if (a.status !== 200 && a.status !== 404) return this.unexpected(a, 'remove');
  }

  /**
   * True when a cart shown disagrees with the answered writes: a line short of its acknowledged
   * quantity, or (while {@link exact}) anything beyond them.
   */
  private disagrees(items: CartItem[]): boolean {
    const actual = new Map(items.map((i) => [i.productId, i.qty]));
    for (const [p, q] of this.expected) if (q > 0 && (actual.get(p) ?? 0) < q) return true;
    return this.exact && items.some((i) => i.qty > (this.expected.get(i.productId) ?? 0));
  }

  /**
   * After a cart that disagreed with the answered writes: views the cart again (up to
   * {@link REREADS} times). When a view agrees, the first one was an old copy: a stale read.
   * Returns the last cart seen, or null when it was a stale read.
   */
  private async reread(items: CartItem[]): Promise<CartItem[] | null> {
    let last = items;
    for (let i = 1; i <= REREADS && !this.o.stopped(); i++) {
      await sleep(50 * i);
      const a = await this.call('GET', '/api/cart');
      const again = a?.status === 200 ? itemsOf(a.body) : null;
      if (!again) break;
      if (!this.disagrees(again)) {
        this.o.rec.staleRead();
        return null;
      }
      last = again;
    }
    return last;
  }

  /**
   * Compares a cart the shop showed with the acknowledged adds. When they disagree and a view
   * right after agrees, that was a stale read; otherwise every expected line gone (while
   * something was expected) is a lost session, and a line short of its acknowledged quantity is
   * a lost update, after which the shown quantity is the new baseline (so it counts once).
   * `written`: the cart came with a write's answer, which is never an old copy (no view again).
   * False when the session counted as lost.
   */
  private async compare(shown: CartItem[], written = false): Promise<boolean> {
    this.o.rec.cartChecks++;
    if (!this.disagrees(shown)) return true;
    const items = written ? shown : await this.reread(shown);
    if (!items) return true;
    // Extra lines that stay are not counted (an earlier unanswered write may explain them).
    this.exact = false;
    const expectedLines = [...this.expected].filter(([, q]) => q > 0);
    if (expectedLines.length === 0) return true;
    const actual = new Map(items.map((i) => [i.productId, i.qty]));
    if (expectedLines.every(([p]) => (actual.get(p) ?? 0) <= 0)) {
      this.lost('cart-lost');
      return false;
    }
    for (const [p, q] of expectedLines) {
      const got = actual.get(p) ?? 0;
      if (got < q) {
        this.o.rec.lostUpdate();
        this.expected.set(p, got);
      }
    }
    return true;
  }

  private async checkout(): Promise<void> {
    const { rec, rnd } = this.o;
    const key = rnd.hex128();
    const deadline = performance.now() + CHECKOUT_DEADLINE;
    let failures = 0;
    let uncertain = false;
    for (;;) {
      const a = await this.call('POST', '/api/orders', { json: {}, headers: { 'idempotency-key': key } });
      if (a?.status === 201) {
        const order = (a.body as { order?: { id?: unknown } } | null)?.order;
        if (typeof order?.id === 'string') {
          const ids = this.ordersSeen.get(key) ?? new Set<string>();
          ids.add(order.id);
          this.ordersSeen.set(key, ids);
        }
        rec.ordersPlaced++;
        this.expected.clear();
        // The order's lines left the cart; nothing else is in it (this user adds one at a time).
        this.exact = true;
        return;
      }
      if (a && a.status < 500) {
        const code = problemCode(a.body);
        if (a.status === 401) {
          if (this.loggedIn === true) this.lost('unauthenticated');
          else this.loggedIn = false;
          return;
        }
        if (a.status === 409 && code === 'SL_ERR_CART_EMPTY') {
          // After an unanswered or "in flight" attempt the order may have gone through; otherwise
          // the checkout read an old copy of the cart (a view right after shows the lines) or the cart vanished.
          if (!uncertain && [...this.expected.values()].some((q) => q > 0)) {
            if ((await this.reread([])) === null) return;
            this.lost('cart-lost');
          }
          this.expected.clear();
          this.exact = false;
          return;
        }
        if ((a.status === 409 || a.status === 429) && a.headers.get('retry-after') !== null) {
          // "Being processed elsewhere, ask again": the protocol working, not an error. An
          // earlier attempt of this key is running or ran: what follows may find the cart empty.
          rec.retries++;
          uncertain = true;
          const wait = Math.min(Math.max(Number(a.headers.get('retry-after')) || 1, 0.1), 5) * 1000;
          if (performance.now() + wait > deadline || this.o.stopped()) break;
          await sleep(wait);
          continue;
        }
        this.unexpected(a, 'checkout');
        if (a.status !== 409) return;
        break;
      }
      uncertain = true;
      if (++failures > CHECKOUT_RETRIES || performance.now() > deadline) break;
      await sleep(100 * 2 ** (failures - 1) + rnd.int(0, 50));
    }
    // No answer in the end: the order may exist or not, and the cart with it.
    this.expected.clear();
    this.exact = false;
  }

  private async listOrders(): Promise<void> {
    const a = await this.call('GET', '/api/orders');
    if (!a || a.status >= 500) return;
    if (a.status === 401) {
      if (this.loggedIn === true) this.lost('unauthenticated');
      else this.loggedIn = false;
      return;
    }
    if (a.status !== 200) this.unexpected(a, 'orders');
  }

  private async logout(): Promise<void> {
    const a = await this.call('POST', '/api/logout');
    this.expected.clear(); // the session and its cart end with a logout
    if (a && (a.status === 204 || a.status === 200)) {
      this.loggedIn = false;
      this.exact = true;
    } else {
      this.loggedIn = 'unknown';
      this.exact = false;
      if (a && a.status < 500) this.unexpected(a, 'logout');
    }
  }
}

/**
 * Lists `user`'s orders from one instance directly (not through the gateway): what the lab counts
 * duplicates from after the load. With `cookie` (the virtual user's own session) it asks with
 * that, which costs no password check; without, it logs in first. Null when that did not work.
 *
 * @example
 * ```ts
 * const orders = await auditOrders('http://127.0.0.1:41001', 'user1', dispatcher, vu.cookies());
 * ```
 */
export async function auditOrders(
  instanceUrl: string,
  user: string,
  dispatcher: Dispatcher,
  cookie?: string,
): Promise<ListedOrder[] | null> {
  const jar = new CookieJar();
  const send = async (method: string, path: string, json?: unknown, cookies = jar.header()) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (cookies) headers.cookie = cookies;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(instanceUrl + path, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      dispatcher,
      signal: AbortSignal.timeout(10_000),
    });
    jar.store(res.headers.getSetCookie());
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
  };
  const parse = (list: { status: number; body: unknown }): ListedOrder[] | null => {
    const orders = (list.body as { orders?: unknown } | null)?.orders;
    if (list.status !== 200 || !Array.isArray(orders)) return null;
    return orders.map((o: { id?: unknown; idempotencyKey?: unknown }) => ({
      id: String(o?.id),
      idempotencyKey: typeof o?.idempotencyKey === 'string' ? o.idempotencyKey : null,
    }));
  };
  try {
    if (cookie) return parse(await send('GET', '/api/orders', undefined, cookie));
    const login = await send('POST', '/api/login', { username: user, password: LAB_PASSWORD });
    if (login.status !== 200) return null;
    return parse(await send('GET', '/api/orders'));
  } catch {
    return null;
  }
}

/**
 * Duplicate orders of one user: for each Idempotency-Key, every distinct order id beyond the first,
 * counting the ids the shop lists and the ids it answered the client with (an order listed under a
 * key the client got another order for is a second order). Also returns the acknowledged orders
 * that the list does not hold.
 *
 * @example
 * ```ts
 * countDuplicates([{ id: 'a', idempotencyKey: 'k' }, { id: 'b', idempotencyKey: 'k' }], new Map([['k', new Set(['a'])]]));
 * // { duplicates: 1, missing: 0 }
 * ```
 */
export function countDuplicates(
  listed: readonly ListedOrder[],
  seen: ReadonlyMap<string, ReadonlySet<string>>,
): { duplicates: number; missing: number } {
  const ids = new Map<string, Set<string>>();
  for (const o of listed) {
    const key = o.idempotencyKey ?? `(no key) ${o.id}`;
    const set = ids.get(key) ?? new Set<string>();
    set.add(o.id);
    ids.set(key, set);
  }
  const listedIds = new Set(listed.map((o) => o.id));
  let duplicates = 0;
  let missing = 0;
  for (const [key, set] of ids) {
    const all = new Set([...set, ...(seen.get(key) ?? [])]);
    duplicates += all.size - 1;
  }
  for (const [key, set] of seen) {
    if (!ids.has(key)) duplicates += set.size - 1;
    if (![...set].some((id) => listedIds.has(id))) missing++;
  }
  return { duplicates, missing };
}
