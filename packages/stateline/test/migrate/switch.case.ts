/**
 * The switch every migration test runs: an app on a legacy session library logs in users with
 * carts over real HTTP; the same app on Stateline with the matching reader must keep every one of
 * them logged in with their cart on the first request, move each to a Stateline cookie (legacy
 * cookie cleared in that response, legacy record gone), and refuse the old cookie afterwards.
 */
import assert from 'node:assert/strict';
import type { SessionManager } from '../../src/session/types.js';

/** A started app: its base URL and how to stop it. */
export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

/** A cookie jar for one user, over real HTTP. */
export class HttpUser {
  readonly cookies = new Map<string, string>();

  constructor(readonly name: string) {}

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** One request; the answer's cookies go into the jar (a Max-Age=0 or empty one is removed). */
  async call(app: RunningApp, method: string, path: string): Promise<Answer> {
    const res = await fetch(app.url + path, {
      method,
      headers: this.cookies.size ? { cookie: this.header() } : {},
    });
    const setCookie = res.headers.getSetCookie();
    for (const line of setCookie) {
      const pair = line.split(';', 1)[0]!;
      const eq = pair.indexOf('=');
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      if (value === '' || /;\s*max-age=0\b/i.test(line) || /expires=thu, 01 jan 1970/i.test(line))
        this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    return { status: res.status, setCookie, body: text ? (JSON.parse(text) as unknown) : null };
  }

  clone(name = this.name): HttpUser {
    const u = new HttpUser(name);
    for (const [k, v] of this.cookies) u.cookies.set(k, v);
    return u;
  }
}

export interface Answer {
  status: number;
  setCookie: string[];
  body: unknown;
}

/** What `/me` answers in both the legacy and the Stateline app. */
export interface Me {
  user: string | null;
  cart: string[];
}

/**
 * Both versions of an app: routes `POST /login?user=`, `POST /cart?item=`, `GET /me` → {@link Me}.
 */
export interface Anchor {
  /** The legacy library's cookie name. */
  cookieName: string;
  legacy(): Promise<RunningApp>;
  /** The same app switched to Stateline with the reader; its manager, to read the counters. */
  stateline(): Promise<RunningApp & { sessions: SessionManager }>;
  /** Whether the legacy record behind a user's legacy cookie value still exists (undefined: the cookie is the record). */
  legacyRecordExists?(cookieValue: string): Promise<boolean>;
}

/** Runs `fn` over `items`, `width` at a time. */
export async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

/** Logs `n` users in on the legacy app, each with a cart of two items; returns their jars. */
export async function loginOnLegacy(app: RunningApp, n: number, prefix = 'user'): Promise<HttpUser[]> {
  const users = Array.from({ length: n }, (_, i) => new HttpUser(`${prefix}-${i}`));
  await inBatches(users, 20, async (u) => {
    assert.equal((await u.call(app, 'POST', `/login?user=${u.name}`)).status, 200);
    for (const item of ['a', 'b'])
      assert.equal((await u.call(app, 'POST', `/cart?item=${u.name}-${item}`)).status, 200);
    const me = await u.call(app, 'GET', '/me');
    assert.deepEqual(
      me.body,
      { user: u.name, cart: [`${u.name}-a`, `${u.name}-b`] },
      'the legacy app itself works',
    );
  });
  return users;
}

/** The whole switch for `n` users (Must show 1). */
export async function runSwitch(anchor: Anchor, n = 100): Promise<void> {
  const legacy = await anchor.legacy();
  let users: HttpUser[];
  try {
    users = await loginOnLegacy(legacy, n);
  } finally {
    await legacy.close();
  }
  const legacyValues = new Map(users.map((u) => [u.name, u.cookies.get(anchor.cookieName)!]));
  for (const v of legacyValues.values()) assert.ok(v, `every user holds a ${anchor.cookieName} cookie`);
  if (anchor.legacyRecordExists)
    for (const v of legacyValues.values()) assert.equal(await anchor.legacyRecordExists(v), true);

  const app = await anchor.stateline();
  try {
    await inBatches(users, 20, async (u) => {
      const old = u.clone();
      const first = await u.call(app, 'GET', '/me');
      assert.equal(first.status, 200);
      assert.deepEqual(
        first.body,
        { user: u.name, cart: [`${u.name}-a`, `${u.name}-b`] },
        'logged in with the cart',
      );
      assert.ok(
        first.setCookie.some((c) => /^sl\.sid=[^;]+;/.test(c) && !/Max-Age=0/.test(c)),
        'rotated to a Stateline cookie',
      );
      assert.ok(
        first.setCookie.some((c) => c.startsWith(`${anchor.cookieName}=;`) && /Max-Age=0/.test(c)),
        'the legacy cookie is cleared in the same response',
      );
      assert.equal(u.cookies.has(anchor.cookieName), false);
      if (anchor.legacyRecordExists)
        assert.equal(
          await anchor.legacyRecordExists(legacyValues.get(u.name)!),
          false,
          'the legacy record is gone',
        );

      const again = await u.call(app, 'GET', '/me');
      assert.deepEqual(again.body, { user: u.name, cart: [`${u.name}-a`, `${u.name}-b`] });
      assert.deepEqual(again.setCookie, [], 'an ordinary Stateline session from then on');
      const added = await u.call(app, 'POST', `/cart?item=${u.name}-c`);
      assert.equal(added.status, 200);

      const replay = new HttpUser(u.name);
      replay.cookies.set(anchor.cookieName, old.cookies.get(anchor.cookieName)!);
      const replayed = await replay.call(app, 'GET', '/me');
      assert.equal(replayed.status, 200);
      assert.deepEqual(replayed.body, { user: null, cart: [] }, 'the old cookie gives an anonymous session');
    });
    assert.equal(app.sessions.metrics.migrated, n);
    assert.equal(app.sessions.metrics.migrationRefused, n, 'each replay was refused');
    for (const u of users.slice(0, 3)) {
      const listed = await app.sessions.list(u.name);
      assert.equal(listed.length, 1, 'the migrated session is listed under its user');
      assert.equal(await app.sessions.revoke(listed[0]!.handle), true);
      assert.deepEqual((await u.call(app, 'GET', '/me')).body, { user: null, cart: [] }, 'and revocable');
    }
  } finally {
    await app.close();
  }
}

/** One request with a hand-made legacy cookie: must be an anonymous 200, never a 5xx. */
export async function expectAnonymous(app: RunningApp, cookieName: string, value: string): Promise<void> {
  const u = new HttpUser('stranger');
  u.cookies.set(cookieName, value);
  const a = await u.call(app, 'GET', '/me');
  assert.equal(a.status, 200, `${cookieName}=${value.slice(0, 40)}… answered ${a.status}`);
  assert.deepEqual(a.body, { user: null, cart: [] });
  assert.ok(!a.setCookie.some((c) => c.startsWith('sl.sid=')), 'no session is made from it');
}
