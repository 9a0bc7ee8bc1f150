/**
 * The failover notice in a real browser (headless Chromium): a sticky cluster of three `memory`
 * instances, once without replication (the session is lost with its instance) and once with a
 * backup copy (it is restored). The browser only shows what the server said: the notice comes
 * from the `X-Stateline-Failover` header or `whoami`, derived from the route cookie naming a dead
 * instance and from what the session load found. Screenshots go to test-results/.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startCluster, type Cluster } from '@stateline/lab';
import { APP, logInAt, RESULTS, useBrowser } from './browser-support.js';

const fx = useBrowser('shop failover browser test', { cluster: false });
const skip = fx.skip;

/**
 * Logs in on a sticky memory cluster, fills the cart, kills the instance that holds the session
 * and then reloads the page (the notice comes through the page's `sl.failover` cookie and whoami)
 * or opens the cart (through the API answer's header): returns what the page shows.
 */
async function failover(replication: 'off' | 'backup', next: 'reload' | 'open the cart', shot: string) {
  const cluster: Cluster = await startCluster({
    app: APP,
    strategy: 'memory',
    balance: 'sticky',
    replication,
    store: `sqlite:${join(fx.dir, `${replication}.db`)}`,
    port: 0,
    instances: 3,
    stdio: 'ignore',
    env: { LOG_LEVEL: 'silent' },
  });
  const context = await fx.browser.newContext();
  try {
    context.setDefaultTimeout(15_000);
    const errors: string[] = [];
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await logInAt(page, cluster.url, 'alice');
    await page.getByTestId('nav-catalog').click();
    await page.getByTestId('add-mug').click();
    await page.getByTestId('cart-count').filter({ hasText: /^1$/ }).waitFor();
    const victim = (await page.getByTestId('served-by').textContent())!;
    assert.match(victim, /^i[123]$/);
    // The banner says in words where the session is and how requests are routed.
    const where = await page.getByTestId('session-where').textContent();
    assert.equal(
      where,
      replication === 'off'
        ? `in ${victim}'s memory only`
        : `in ${victim}'s memory, copied to one backup instance`,
    );
    assert.match((await page.getByTestId('routing').textContent()) ?? '', /balance sticky/);
    assert.ok(await page.getByTestId('failover-notice').isHidden(), 'no notice before a failover');

    const killed = await fetch(`${cluster.url}/_stateline/instances/${victim}/kill`, { method: 'POST' });
    assert.equal(killed.status, 200);
    if (next === 'reload') await page.reload();
    else await page.getByTestId('nav-cart').click();
    const notice = page.getByTestId('failover-notice');
    await notice.waitFor();
    const text = (await page.getByTestId('failover-text').textContent()) ?? '';
    const outcome = await notice.getAttribute('data-outcome');
    await page.locator('body[data-ready="true"]').waitFor();
    const servedBy = await page.getByTestId('served-by').textContent();
    // The banner now names where the answering instance keeps the session.
    await page
      .getByTestId('session-where')
      .filter({ hasText: `in ${servedBy}'s memory` })
      .waitFor();
    const loggedIn = (await page.getByTestId('user').count()) === 1;
    const cart = await page.getByTestId('cart-count').textContent();
    assert.notEqual(servedBy, victim);
    await page.screenshot({ path: join(RESULTS, shot), fullPage: true });
    assert.deepEqual(errors, [], 'no script error');
    return { victim, text, outcome, loggedIn, cart };
  } finally {
    await context.close();
    await cluster.close();
  }
}

describe('the failover notice in a browser', () => {
  it(
    'memory/sticky without replication: the session was lost, and the reloaded page says why',
    { skip, timeout: 90_000 },
    async () => {
      const { victim, text, outcome, loggedIn, cart } = await failover(
        'off',
        'reload',
        'shop-failover-lost.png',
      );
      assert.equal(outcome, 'lost');
      assert.equal(loggedIn, false);
      assert.equal(cart, '0');
      assert.match(text, new RegExp(`^${victim}, which held your session, stopped; your session was lost`));
      assert.match(text, /without replication keeps sessions only in the instance that served you/);
    },
  );

  it(
    'memory/sticky/backup: the session was restored from a copy (told on the next API answer)',
    { skip, timeout: 90_000 },
    async () => {
      const { victim, text, outcome, loggedIn, cart } = await failover(
        'backup',
        'open the cart',
        'shop-failover-restored.png',
      );
      assert.equal(outcome, 'restored');
      assert.equal(loggedIn, true);
      assert.equal(cart, '1');
      assert.match(
        text,
        new RegExp(`^${victim}, which held your session, stopped; your session was restored from`),
      );
    },
  );
});
