/**
 * The shop in a real browser (headless Chromium through playwright-core) on a real cluster:
 * gateway + 3 instances, `server` strategy on SQLite. Alice logs in and fills her cart, kills the
 * instance that served her last request from the dashboard, reloads and still has her cart,
 * places an order, and chats with Bob, whose socket goes through another instance.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ClusterStatus } from '@stateline/lab';
import type { Page } from 'playwright-core';
import { logInAt, RESULTS, useBrowser } from './browser-support.js';
import { within } from './support.js';

const fx = useBrowser('shop browser test', { cluster: true });
const skip = fx.skip;

const status = async (): Promise<ClusterStatus> =>
  (await (await fetch(`${fx.cluster.url}/_stateline/status`)).json()) as ClusterStatus;

/** Polls until `check` returns a value (not undefined) or `ms` pass. */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Per instance, the WebSockets the gateway routes to it now. */
async function sockets(): Promise<Map<string, number>> {
  return new Map((await status()).instances.map((i) => [i.id, i.websockets]));
}

const logIn = (page: Page, name: string) => logInAt(page, fx.cluster.url, name);

/** Collects page errors and console errors: a working page has none. */
function watch(page: Page, into: string[]): void {
  page.on('pageerror', (e) => into.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') into.push(`${page.url()}: ${m.text()}`);
  });
}

/** A new browser context per user (15 s timeouts), its page watched and logged in. */
async function loggedIn(names: readonly string[], errors: string[]): Promise<Page[]> {
  const pages: Page[] = [];
  for (const name of names) {
    const context = await fx.browser.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    watch(page, errors);
    await logIn(page, name);
    pages.push(page);
  }
  return pages;
}

describe('the shop in a browser', () => {
  it(
    'cart survives the death of the instance that served it; order; chat across instances',
    { skip, timeout: 60_000 },
    async () => {
      const errors: string[] = [];
      const alice = await fx.browser.newContext();
      alice.setDefaultTimeout(10_000);
      const shop = await alice.newPage();
      watch(shop, errors);

      // Log in, fill the cart.
      await logIn(shop, 'alice');
      assert.equal(await shop.getByTestId('strategy').textContent(), 'server');
      await shop.getByTestId('nav-catalog').click();
      await shop.getByTestId('add-mug').click();
      await shop.getByTestId('cart-count').filter({ hasText: /^1$/ }).waitFor();
      await shop.getByTestId('qty-tee').fill('2');
      await shop.getByTestId('add-tee').click();
      await shop.getByTestId('cart-count').filter({ hasText: /^3$/ }).waitFor();
      const victim = (await shop.getByTestId('served-by').textContent())!;
      assert.match(victim, /^i[123]$/, 'the banner names the instance of the last request');

      // Kill that instance from the dashboard.
      const dashboard = await alice.newPage();
      watch(dashboard, errors);
      await dashboard.goto(`${fx.cluster.url}/_stateline/`);
      await dashboard.getByTestId(`state-${victim}`).filter({ hasText: 'up' }).waitFor();
      // The dashboard marks the instance that served this browser's shop page last, and asks before a kill.
      await dashboard.getByTestId(`you-${victim}`).waitFor();
      dashboard.once('dialog', (d) => void d.accept());
      await dashboard.getByTestId(`kill-${victim}`).click();
      await dashboard.getByTestId(`state-${victim}`).filter({ hasText: 'down' }).waitFor();
      assert.equal((await status()).instances.find((i) => i.id === victim)!.pid, null, 'the process is gone');

      // Reload: the cart comes back from the store through another instance.
      await shop.reload();
      await shop.getByTestId('nav-cart').click();
      await shop.getByTestId('cart-line-mug').waitFor();
      assert.equal(await shop.getByTestId('cart-qty-mug').textContent(), '1');
      assert.equal(await shop.getByTestId('cart-qty-tee').textContent(), '2');
      assert.notEqual(await shop.getByTestId('served-by').textContent(), victim);
      await shop.screenshot({ path: join(RESULTS, 'shop-cart.png'), fullPage: true });

      // Place the order and see it listed.
      await shop.getByTestId('checkout').click();
      await shop.getByTestId('order').first().waitFor();
      assert.equal(await shop.getByTestId('order').count(), 1);
      assert.match((await shop.getByTestId('order').first().textContent()) ?? '', /2 × .*tee/i);
      assert.equal(await shop.getByTestId('cart-count').textContent(), '0');
      await shop.screenshot({ path: join(RESULTS, 'shop-orders.png'), fullPage: true });

      // Chat: Alice's socket lands on some instance…
      await shop.getByTestId('nav-chat').click();
      await shop
        .getByTestId('chat-status')
        .filter({ hasText: /^connected$/ })
        .waitFor();
      const aliceOn = await until('alice on the hub', async () => {
        const live = [...(await sockets())].filter(([, n]) => n > 0);
        return live.length === 1 && live[0]![1] === 1 ? live[0]![0] : undefined;
      });

      // …Bob's must land on another: reconnect (shifting the round-robin by a request) until it does.
      const bobContext = await fx.browser.newContext();
      bobContext.setDefaultTimeout(10_000);
      const bob = await bobContext.newPage();
      watch(bob, errors);
      await logIn(bob, 'bob');
      let bobOn: string | undefined;
      for (let attempt = 0; attempt < 6 && bobOn === undefined; attempt++) {
        if (attempt > 0) {
          for (let k = 0; k < attempt; k++)
            await bob.evaluate(() => fetch('/api/whoami').then((r) => r.text()));
          await bob.reload();
        } else {
          await bob.getByTestId('nav-chat').click();
        }
        // A reload reconnects from scratch; under CI load (another cluster starting beside this
        // one) the first connect can take its backoff, so this wait is longer than the default.
        await bob
          .getByTestId('chat-status')
          .filter({ hasText: /^connected$/ })
          .waitFor({ timeout: 25_000 });
        const on = await until('two sockets on the hub', async () => {
          const s = await sockets();
          const total = [...s.values()].reduce((a, b) => a + b, 0);
          if (total !== 2) return undefined;
          return [...s].find(([id, n]) => n > (id === aliceOn ? 1 : 0))![0];
        });
        if (on !== aliceOn) bobOn = on;
      }
      assert.ok(bobOn, 'bob connected through another instance than alice');
      assert.notEqual(bobOn, victim);

      // Both see each other; Bob receives what Alice writes.
      await bob.getByTestId('presence-alice').waitFor();
      await shop.getByTestId('presence-bob').waitFor();
      const text = `hello bob, from ${aliceOn} (${Date.now()})`;
      await shop.getByTestId('chat-input').fill(text);
      await shop.getByTestId('chat-send').click();
      const received = bob.getByTestId('chat-message').filter({ hasText: text });
      await received.waitFor();
      assert.match((await received.textContent()) ?? '', /^alice/);

      await shop.screenshot({ path: join(RESULTS, 'shop.png'), fullPage: true });
      await bob.screenshot({ path: join(RESULTS, 'shop-chat-bob.png'), fullPage: true });
      await dashboard.bringToFront();
      await dashboard.screenshot({ path: join(RESULTS, 'dashboard.png'), fullPage: true });
      assert.deepEqual(errors, [], 'no script error in any page');
      await bobContext.close();
      await alice.close();
    },
  );

  it(
    'errors read as problems; a checkout whose answer is lost is retried with its key (one order); sessions page',
    { skip, timeout: 30_000 },
    async () => {
      const errors: string[] = [];
      const laptop = await fx.browser.newContext();
      laptop.setDefaultTimeout(10_000);
      const page = await laptop.newPage();
      watch(page, errors);

      // A wrong password: the problem's title, not a dump.
      await page.goto(`${fx.cluster.url}/#/login`);
      await page.getByTestId('login-username').fill('carol');
      await page.getByTestId('login-password').fill('not-the-password');
      await page.getByTestId('login-submit').click();
      const notice = page.locator('#notice[data-kind="error"]');
      await notice.waitFor();
      const shown = (await notice.textContent()) ?? '';
      assert.match(shown, /username or password is wrong/i);
      assert.doesNotMatch(shown, /[{}]|SL_ERR_/, 'no raw problem document');
      errors.length = 0; // the browser logs the 401 itself

      // The first checkout answer is lost after the server made the order: the page retries with the same key.
      await logIn(page, 'carol');
      await page.getByTestId('nav-catalog').click();
      await page.getByTestId('add-sticker').click();
      await page.getByTestId('cart-count').filter({ hasText: /^1$/ }).waitFor();
      const keys: string[] = [];
      await page.route('**/api/orders', async (route) => {
        const req = route.request();
        if (req.method() !== 'POST') return route.continue();
        keys.push((await req.headerValue('idempotency-key')) ?? '');
        if (keys.length > 1) return route.continue();
        await route.fetch(); // it reached the shop and made the order…
        await route.abort('connectionreset'); // …but the answer never reached the page
      });
      await page.getByTestId('nav-cart').click();
      await page.getByTestId('checkout').click();
      await page.getByTestId('order').first().waitFor();
      assert.equal(keys.length, 2);
      assert.match(keys[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(keys[1], keys[0], 'the retry carries the same Idempotency-Key');
      assert.equal(await page.getByTestId('order').count(), 1, 'one order, not two');
      // A new checkout is a new attempt with a new key.
      await page.getByTestId('nav-catalog').click();
      await page.getByTestId('add-cap').click();
      await page.getByTestId('cart-count').filter({ hasText: /^1$/ }).waitFor();
      await page.getByTestId('nav-cart').click();
      await page.getByTestId('checkout').click();
      await page.getByTestId('order').nth(1).waitFor();
      assert.equal(keys.length, 3);
      assert.notEqual(keys[2], keys[0]);
      await page.unroute('**/api/orders');
      errors.length = 0; // the aborted request is logged by the browser

      // My sessions: two devices and an API client; revoke the phone, then log out everywhere.
      const cli = await fetch(`${fx.cluster.url}/api/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'carol-cli' },
        body: JSON.stringify({ username: 'carol', password: 'stateline' }),
      });
      const { accessToken } = (await cli.json()) as { accessToken: string };
      const phone = await fx.browser.newContext({ userAgent: 'carol-phone' });
      phone.setDefaultTimeout(10_000);
      const phonePage = await phone.newPage();
      watch(phonePage, errors);
      await logIn(phonePage, 'carol');
      await page.getByTestId('nav-sessions').click();
      await page.getByTestId('session').nth(2).waitFor();
      assert.equal(await page.getByTestId('session').count(), 3);
      const token = page.getByTestId('session').filter({ hasText: 'carol-cli' });
      assert.equal(await token.getByTestId('session-token').count(), 1, 'the token family is marked');
      const other = page.getByTestId('session').filter({ hasText: 'carol-phone' });
      assert.equal(await other.getAttribute('data-current'), 'false');
      await other.getByTestId('session-revoke').click();
      await page.getByTestId('session').filter({ hasText: 'carol-phone' }).waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('session').count(), 2);
      await phonePage.reload();
      await phonePage.getByTestId('nav-login').waitFor();
      await page.screenshot({ path: join(RESULTS, 'shop-sessions.png'), fullPage: true });
      await page.getByTestId('logout-all').click();
      await page.getByTestId('login-form').waitFor();
      await page.getByTestId('nav-login').waitFor();
      // Every instance refuses the API client's token within a second of "log out everywhere".
      await within(1000, async () => {
        const r = await fetch(`${fx.cluster.url}/api/whoami`, {
          headers: { authorization: `Bearer ${accessToken}` },
        });
        return r.status === 401;
      });
      assert.deepEqual(errors, [], 'no script error in any page');
      await phone.close();
      await laptop.close();
    },
  );

  it(
    'the limited drop and the shared list: one browser acts, the other sees it live',
    { skip, timeout: 60_000 },
    async () => {
      const errors: string[] = [];
      const pages = await loggedIn(['alice', 'bob'], errors);
      const [alice, bob] = pages as [Page, Page];

      // The shared list: alice adds, bob sees it without reloading; bob ticks it, alice sees that.
      for (const p of pages) {
        await p.getByTestId('nav-list').click();
        await p.getByTestId('list-live').filter({ hasText: 'live' }).waitFor();
      }
      const text = `tea for ${Date.now()}`;
      await alice.getByTestId('list-input').fill(text);
      await alice.getByTestId('list-add').click();
      const onBob = bob.getByTestId('list-item').filter({ hasText: text });
      await onBob.waitFor();
      const id = await onBob.getAttribute('data-item');
      await bob.getByTestId(`list-toggle-${id}`).check();
      await alice.locator(`[data-testid="list-item"][data-item="${id}"].done`).waitFor();
      await bob.screenshot({ path: join(RESULTS, 'shop-list.png'), fullPage: true });

      // The drop: alice buys one unit, bob's page counts it down live.
      for (const p of pages) {
        await p.getByTestId('nav-drop').click();
        await p.getByTestId('drop-live').filter({ hasText: 'live' }).waitFor();
      }
      const before = Number(await bob.getByTestId('drop-left').getAttribute('data-left'));
      assert.ok(before > 0, 'units are left');
      await alice.getByTestId('drop-buy').click();
      await alice
        .getByTestId('notice')
        .filter({ hasText: /Unit \d+ is yours/ })
        .waitFor();
      await bob.locator(`[data-testid="drop-left"][data-left="${before - 1}"]`).waitFor();
      await bob.screenshot({ path: join(RESULTS, 'shop-drop.png'), fullPage: true });
      assert.deepEqual(errors, []);
      for (const p of pages) await p.context().close();
    },
  );

  it(
    'the shared list: a change that reaches the page before its first read answers is not lost',
    { skip, timeout: 60_000 },
    async () => {
      const errors: string[] = [];
      const pages = await loggedIn(['alice', 'bob'], errors);
      const [alice, bob] = pages as [Page, Page];
      await alice.getByTestId('nav-list').click();
      await alice.getByTestId('list-live').filter({ hasText: 'live' }).waitFor();

      // Bob's reads of the list are answered by the shop at once, but their answers reach his
      // page only after alice's new item has come in on his socket: the order a loaded machine
      // can produce (a slow fetch answer, a quick WebSocket frame).
      const text = `early tea ${Date.now()}`;
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const read: Promise<unknown>[] = [];
      const delivered: Promise<void>[] = [];
      await bob.route('**/api/lists/shared', (route) => {
        if (route.request().method() !== 'GET') return route.continue();
        const answered = route.fetch();
        read.push(answered);
        delivered.push(answered.then(async (response) => released.then(() => route.fulfill({ response }))));
      });
      const frame = new Promise<void>((resolve) =>
        bob.on('websocket', (ws) =>
          ws.on('framereceived', (f) => {
            if (typeof f.payload === 'string' && f.payload.includes(text)) resolve();
          }),
        ),
      );
      await bob.getByTestId('nav-list').click();
      await bob.getByTestId('list-live').filter({ hasText: 'live' }).waitFor();
      // Both reads (the first render's and the one after `joined`) were answered before the add.
      await until('bob read the list twice', async () => (read.length >= 2 ? true : undefined));
      await Promise.all(read);
      await alice.getByTestId('list-input').fill(text);
      await alice.getByTestId('list-add').click();
      await frame;
      release();
      await Promise.all(delivered);
      await bob.unroute('**/api/lists/shared');
      await bob.getByTestId('list-item').filter({ hasText: text }).waitFor({ timeout: 5000 });
      assert.deepEqual(errors, []);
      for (const p of pages) await p.context().close();
    },
  );
});
