/**
 * `STATELINE_SESSION_STORE`: sessions in memcached while users and orders stay in SQLite. A restart
 * of memcached logs the user out (an anonymous session, never an error) and nothing else is lost.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  TestMemcached,
  memcachedMissing,
} from '../../../packages/stateline/test/support/memcached-server.js';
import { runShop } from './solo-shop.js';
import { Client } from './support.js';

const skip = memcachedMissing();
const dir = mkdtempSync(join(tmpdir(), 'shop-session-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('shop sessions in their own store', { skip: skip || undefined }, () => {
  it('keeps sessions in memcached and users and orders in SQLite; losing memcached only logs users out', async () => {
    const mc = await TestMemcached.start();
    const shop = await runShop({
      STATELINE_STORE: `sqlite:${join(dir, 'shop.db')}`,
      STATELINE_SESSION_STORE: `memcached://${mc.server}`,
      LOG_LEVEL: 'silent',
    });
    try {
      const c = new Client(shop.url);
      const itemsBefore = (await mc.stats()).curr_items!;
      await c.login('alice');
      const add = await c.req('POST', '/api/cart/items', { body: { productId: 'cap', qty: 1 } });
      assert.equal(add.status, 200);
      assert.ok((await mc.stats()).curr_items! > itemsBefore, 'the session went to memcached');

      await mc.kill();
      await mc.startProcess();
      // The driver waits a second before it tries a server it lost again.
      await new Promise((r) => setTimeout(r, 1200));
      const who = await c.req<{ user: unknown }>('GET', '/api/whoami');
      assert.equal(who.status, 200);
      assert.equal(who.body.user, null, 'logged out, not an error');
      await c.login('alice');
      assert.equal((await c.req('GET', '/api/cart')).status, 200);
    } finally {
      await shop.stop();
      await mc.stop();
    }
  });
});
