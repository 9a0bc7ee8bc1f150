/**
 * The adapter suite: every framework adapter, driven over real HTTP on port 0.
 * Routes (see routes.ts): GET /cart, POST /cart?item=, POST /login?user=, POST /logout, POST /slow?gate=, POST /assign, POST /big.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSessions } from '../../src/session/index.js';
import type { SessionManager, SessionOptions } from '../../src/session/types.js';
import type { Store } from '../../src/store/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { StatelineError } from '../../src/errors.js';
import { KEY_A } from '../session/client.js';
import { gate } from './routes.js';

export interface Running {
  url: string;
  close: () => Promise<void>;
}

export interface AdapterCase {
  name: string;
  start: (sessions: SessionManager) => Promise<Running>;
  /** Store for the `server` strategy (default: in-memory). */
  store?: () => Promise<Store>;
  skip?: string | false;
}

/** A tiny cookie-keeping HTTP client. */
class Browser {
  cookie = '';
  constructor(private readonly base: string) {}
  async call(method: string, path: string): Promise<{ status: number; body: unknown; headers: Headers }> {
    const res = await fetch(this.base + path, {
      method,
      headers: this.cookie ? { cookie: this.cookie } : {},
    });
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      this.cookie = /Max-Age=0/.test(line) ? '' : pair;
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body, headers: res.headers };
  }
  fork(): Browser {
    const b = new Browser(this.base);
    b.cookie = this.cookie;
    return b;
  }
}

/** A Store that can be switched off: every read then fails as if the server were down. */
class FlakyStore extends MemoryStore {
  down = false;
  override get(key: string) {
    if (this.down)
      return Promise.reject(new StatelineError('SL_ERR_STORE_UNAVAILABLE', 'test: store is down'));
    return super.get(key);
  }
}

export function runAdapterSuite(c: AdapterCase): void {
  describe(`adapter [${c.name}]`, { skip: c.skip || undefined }, () => {
    const running: Running[] = [];
    const managers: SessionManager[] = [];
    const serve = async (o: Partial<SessionOptions> = {}) => {
      const m = await createSessions({
        keys: [KEY_A],
        strategy: 'server',
        store: c.store ? await c.store() : new MemoryStore(),
        ...o,
      });
      managers.push(m);
      const r = await c.start(m);
      running.push(r);
      return new Browser(r.url);
    };
    let b: Browser;
    before(async () => {
      b = await serve();
    });
    after(async () => {
      for (const r of running) await r.close();
      for (const m of managers) await m.close();
    });

    it(`[${c.name}] keeps a session across requests with a hardened cookie`, async () => {
      const r = await b.call('POST', '/cart?item=apple');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Lax/);
      assert.deepEqual((await b.call('GET', '/cart')).body, { cart: ['apple'], user: null });
    });

    it(`[${c.name}] 100 concurrent update(push) requests on one session leave exactly 100 items`, async () => {
      const browser = (await b.call('POST', '/logout'), b);
      await browser.call('POST', '/cart?item=first');
      await Promise.all(
        Array.from({ length: 99 }, (_, i) => browser.fork().call('POST', `/cart?item=i${i}`)),
      );
      const cart = ((await browser.call('GET', '/cart')).body as { cart: string[] }).cart;
      assert.equal(cart.length, 100);
      assert.equal(new Set(cart).size, 100);
    });

    it(`[${c.name}] no resurrection: a slow request cannot write back a session destroyed meanwhile`, async () => {
      const browser = await serve();
      await browser.call('POST', '/login?user=alice');
      await browser.call('POST', '/cart?item=x');
      const name = `g-${c.name}-${Math.random()}`;
      const slow = browser.fork().call('POST', `/slow?gate=${name}`);
      await gate(name).atGate;
      assert.equal((await browser.fork().call('POST', '/logout')).status, 204);
      gate(name).open();
      const r = await slow;
      assert.equal(r.status, 409);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal((r.body as { code: string }).code, 'SL_ERR_SESSION_ENDED');
      assert.deepEqual((await browser.call('GET', '/cart')).body, { cart: [], user: null });
    });

    it(`[${c.name}] no resurrection after revokeAll from elsewhere`, async () => {
      const browser = await serve();
      const m = managers.at(-1)!;
      await browser.call('POST', '/login?user=bob');
      const name = `g2-${c.name}-${Math.random()}`;
      const slow = browser.fork().call('POST', `/slow?gate=${name}`);
      await gate(name).atGate;
      assert.equal(await m.revokeAll('bob'), 1);
      gate(name).open();
      assert.equal((await slow).status, 409);
      assert.deepEqual((await browser.call('GET', '/cart')).body, { cart: [], user: null });
    });

    it(`[${c.name}] a Store outage is a 503 problem with Retry-After (onStoreError: 'fail')`, async () => {
      const store = new FlakyStore();
      const browser = await serve({ store });
      await browser.call('POST', '/cart?item=kept');
      store.down = true;
      const r = await browser.call('GET', '/cart');
      assert.equal(r.status, 503);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(r.headers.get('retry-after'), '1');
      assert.equal((r.body as { code: string }).code, 'SL_ERR_STORE_UNAVAILABLE');
      assert.ok(!JSON.stringify(r.body).includes('.ts:'), 'no stack trace');
      store.down = false;
      assert.deepEqual(
        (await browser.call('GET', '/cart')).body,
        { cart: ['kept'], user: null },
        'nothing was lost',
      );
    });

    it(`[${c.name}] onStoreError 'anonymous' serves an empty session`, async () => {
      const store = new FlakyStore();
      const browser = await serve({ store, onStoreError: 'anonymous' });
      await browser.call('POST', '/cart?item=kept');
      const cookie = browser.cookie;
      store.down = true;
      const r = await browser.call('GET', '/cart');
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { cart: [], user: null });
      assert.equal(browser.cookie, cookie, 'the cookie is left alone');
      store.down = false;
      assert.deepEqual((await browser.call('GET', '/cart')).body, { cart: ['kept'], user: null });
    });

    it(`[${c.name}] a token over its budget is a clear 500 problem, never a dropped cookie`, async () => {
      const browser = await serve({ strategy: 'token' });
      const r = await browser.call('POST', '/big');
      assert.equal(r.status, 500);
      assert.equal((r.body as { code: string }).code, 'SL_ERR_SESSION_TOO_LARGE');
      assert.equal(r.headers.get('set-cookie'), null);
    });

    for (const strategy of ['server', 'token'] as const) {
      it(`[${c.name}] ${strategy}: req.session.cart = x throws a TypeError naming set() and update(), never dropped silently`, async () => {
        const browser = await serve({ strategy });
        await browser.call('POST', '/cart?item=a');
        const r = await browser.call('POST', '/assign');
        assert.equal(r.status, 200);
        const { threw, cart } = r.body as { threw: string | null; cart: unknown };
        assert.match(threw ?? 'nothing thrown', /^TypeError: session\.cart = … would be lost/);
        assert.match(threw!, /session\.set\("cart", value\)/);
        assert.match(threw!, /session\.update\("cart"/);
        assert.deepEqual(cart, ['a'], 'the session kept its value');
        assert.deepEqual((await browser.call('GET', '/cart')).body, { cart: ['a'], user: null });
      });
    }

    it(`[${c.name}] a tampered cookie is a fresh session, not an error`, async () => {
      const browser = await serve();
      await browser.call('POST', '/cart?item=a');
      browser.cookie = browser.cookie.slice(0, -6) + 'AAAAAA';
      const r = await browser.call('GET', '/cart');
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { cart: [], user: null });
    });
  });
}
