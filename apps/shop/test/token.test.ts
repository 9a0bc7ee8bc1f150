import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { shopApiSuite } from './api.case.js';

const dir = mkdtempSync(join(tmpdir(), 'shop-token-'));
after(() => rmSync(dir, { recursive: true, force: true }));

shopApiSuite({
  strategy: 'token',
  // Users, orders, revocations and idempotency records live in SQLite; the session is the cookie.
  store: async () => `sqlite:${join(dir, 'shop.db')}`,
  lossyConcurrentUpdates:
    'token: the cart is inside the cookie, so concurrent requests holding the same cookie each write their own copy (documented in docs/sessions.md and docs/shop.md)',
});
