/**
 * The account cart in a real browser (headless Chromium) on a gateway + 3 instances (`server`
 * strategy on SQLite): a cart filled before logging in is merged into the account's cart at login,
 * and a second device logged in as the same user sees and changes the same cart. Screenshots go to
 * test-results/.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { fillLogin, RESULTS, useBrowser } from './browser-support.js';

const fx = useBrowser('shop cart browser test', { cluster: true });
const skip = fx.skip;

async function device(errors: string[]): Promise<Page> {
  const context = await fx.browser.newContext();
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(fx.cluster.url);
  await page.locator('body[data-ready="true"]').waitFor();
  return page;
}

async function logIn(page: Page, name: string): Promise<void> {
  await page.getByTestId('nav-login').click();
  await fillLogin(page, name);
}

async function add(page: Page, productId: string, qty: number, total: number): Promise<void> {
  await page.getByTestId('nav-catalog').click();
  await page.getByTestId(`qty-${productId}`).fill(String(qty));
  await page.getByTestId(`add-${productId}`).click();
  await page
    .getByTestId('cart-count')
    .filter({ hasText: new RegExp(`^${total}$`) })
    .waitFor();
}

/** The cart view's lines, as productId → qty. */
async function lines(page: Page): Promise<Record<string, string>> {
  await page.getByTestId('nav-cart').click();
  await page.locator('[data-testid="cart"], [data-testid="cart-empty"]').first().waitFor();
  const out: Record<string, string> = {};
  for (const row of await page.locator('[data-testid^="cart-line-"]').all()) {
    const id = (await row.getAttribute('data-testid'))!.slice('cart-line-'.length);
    out[id] = (await page.getByTestId(`cart-qty-${id}`).textContent()) ?? '';
  }
  return out;
}

describe('the account cart in a browser', () => {
  it(
    'an anonymous cart is merged at login; a second device shares the cart',
    { skip, timeout: 90_000 },
    async () => {
      const errors: string[] = [];
      // The phone is logged in and already has a cap in carol's cart.
      const phone = await device(errors);
      await logIn(phone, 'carol');
      await add(phone, 'cap', 1, 1);

      // The laptop shops anonymously, then logs in: its lines join the account's, once.
      const laptop = await device(errors);
      await add(laptop, 'mug', 1, 1);
      await add(laptop, 'tee', 2, 3);
      await logIn(laptop, 'carol');
      await laptop.getByTestId('cart-count').filter({ hasText: /^4$/ }).waitFor();
      assert.deepEqual(await lines(laptop), { cap: '1', mug: '1', tee: '2' });
      await laptop.screenshot({ path: join(RESULTS, 'shop-cart-merged.png'), fullPage: true });

      // The phone sees the merged cart, and what it adds shows on the laptop.
      await phone.reload();
      assert.deepEqual(await lines(phone), { cap: '1', mug: '1', tee: '2' });
      await add(phone, 'sticker', 3, 7);
      await laptop.reload();
      assert.deepEqual(await lines(laptop), { cap: '1', mug: '1', sticker: '3', tee: '2' });
      await phone.screenshot({ path: join(RESULTS, 'shop-cart-second-device.png'), fullPage: true });

      // Logging out of the laptop leaves the account's cart to the phone.
      await laptop.getByTestId('logout').click();
      await laptop.getByTestId('nav-login').waitFor();
      assert.equal(await laptop.getByTestId('cart-count').textContent(), '0');
      await phone.reload();
      assert.deepEqual(await lines(phone), { cap: '1', mug: '1', sticker: '3', tee: '2' });
      assert.deepEqual(errors, [], 'no script error');
    },
  );
});
