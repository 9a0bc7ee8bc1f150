/**
 * The shop's bearer tokens beside its cookies, on a 3-instance cluster: token login under the
 * login limits, the API with `Authorization: Bearer` (CSRF-exempt, scoped, a cart per family),
 * refresh rotation and reuse, replays of token requests with an Idempotency-Key, the sessions
 * page listing and ending families, logout-all, and the JWKS endpoint.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Cluster } from '@stateline/lab';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { createStore } from 'stateline/store';
import { DEFAULT_TOKEN_ISSUER } from '../src/config.js';
import { Client, expectProblem, instanceUrls, startShop, within, type Answer } from './support.js';

interface Pair {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
  handle: string;
}

const dir = mkdtempSync(join(tmpdir(), 'shop-bearer-'));
let cluster: Cluster;
let api: Client;

before(async () => {
  cluster = await startShop('server', `sqlite:${join(dir, 'shop.db')}`);
  api = new Client(cluster.url, 'bearer-test');
});
after(async () => {
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

const bearer = (token: string, more: Record<string, string> = {}) => ({
  headers: { authorization: `Bearer ${token}`, ...more },
  noCookie: true,
});

async function issue(username: string, scopes?: string[], key?: string): Promise<Pair> {
  const r = await api.req<Pair>('POST', '/api/tokens', {
    body: { username, password: 'stateline', ...(scopes ? { scopes } : {}) },
    noCookie: true,
    ...(key ? { headers: { 'idempotency-key': key } } : {}),
  });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

const refresh = (token: string, key?: string) =>
  api.req<Pair>('POST', '/api/tokens/refresh', {
    body: { refreshToken: token },
    noCookie: true,
    ...(key ? { headers: { 'idempotency-key': key } } : {}),
  });

/** Asserts that every instance refuses this access token within a second. */
async function refusedEverywhere(token: string): Promise<void> {
  for (const { url } of await instanceUrls(cluster)) {
    const r = await within(1000, async () => {
      const a = await api.req('GET', '/api/whoami', { ...bearer(token), base: url });
      return a.status === 401 ? a : undefined;
    });
    expectInvalidToken(r!);
  }
}

function expectInvalidToken(r: Answer<unknown>): void {
  expectProblem(r, 401, 'SL_ERR_TOKEN_INVALID');
  assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="shop", error="invalid_token"/);
}

describe('shop: bearer tokens beside cookies', () => {
  it('POST /api/tokens gives a pair; a wrong password is 401, and token and cookie logins share one limit', async () => {
    const pair = await issue('alice');
    assert.equal(pair.tokenType, 'Bearer');
    assert.ok(pair.expiresIn > 0 && pair.expiresIn <= 600);
    assert.ok(pair.refreshToken.length >= 22 && pair.handle.length > 0);
    const me = await api.req<{ user: { id: string } }>('GET', '/api/whoami', bearer(pair.accessToken));
    assert.equal(me.body.user.id, 'alice');
    const wrong = () =>
      api.req('POST', '/api/tokens', { body: { username: 'user2', password: 'nope' }, noCookie: true });
    for (let i = 0; i < 10; i++) expectProblem(await wrong(), 401, 'SL_ERR_BAD_CREDENTIALS');
    expectProblem(await wrong(), 429, 'SL_ERR_RATE_LIMITED');
    const cookie = await new Client(cluster.url).req('POST', '/api/login', {
      body: { username: 'user2', password: 'stateline' },
    });
    expectProblem(cookie, 429, 'SL_ERR_RATE_LIMITED');
    assert.ok(Number(cookie.headers.get('retry-after')) > 0);
  });

  it('bearer requests are CSRF-exempt (no ambient credential); the same request with a cookie is not', async () => {
    const pair = await issue('bob');
    const evil = { origin: 'http://evil.example', 'content-type': 'text/plain' };
    const viaToken = await api.req('POST', '/api/cart/items', {
      raw: JSON.stringify({ productId: 'mug', qty: 1 }),
      ...bearer(pair.accessToken, evil),
    });
    assert.equal(viaToken.status, 200, viaToken.text);
    const browser = new Client(cluster.url);
    await browser.login('bob');
    const viaCookie = await browser.req('POST', '/api/cart/items', {
      raw: JSON.stringify({ productId: 'mug', qty: 1 }),
      headers: evil,
    });
    expectProblem(viaCookie, 403, 'SL_ERR_CSRF');
  });

  it("a token client shares the account's cart with the user's browsers; checkout with a token places an order the cookie session lists", async () => {
    const pair = await issue('carol');
    const add = await api.req<{ items: unknown[] }>('POST', '/api/cart/items', {
      body: { productId: 'tee', qty: 2 },
      ...bearer(pair.accessToken),
    });
    assert.deepEqual(add.body.items, [{ productId: 'tee', qty: 2 }]);
    const browser = new Client(cluster.url);
    await browser.login('carol');
    assert.deepEqual((await browser.req<{ items: unknown[] }>('GET', '/api/cart')).body.items, [
      { productId: 'tee', qty: 2 },
    ]);
    const order = await api.req<{ order: { id: string } }>('POST', '/api/orders', {
      body: {},
      ...bearer(pair.accessToken, { 'idempotency-key': 'bearer-order-1' }),
    });
    assert.equal(order.status, 201, order.text);
    const listed = await browser.req<{ orders: { id: string }[] }>('GET', '/api/orders');
    assert.ok(listed.body.orders.some((o) => o.id === order.body.order.id));
    const empty = await api.req<{ items: unknown[] }>('GET', '/api/cart', bearer(pair.accessToken));
    assert.deepEqual(empty.body.items, []);
    assert.deepEqual((await browser.req<{ items: unknown[] }>('GET', '/api/cart')).body.items, []);
  });

  it('a cart add with an Idempotency-Key is applied once however often it is sent', async () => {
    const pair = await issue('user1');
    const send = () =>
      api.req<{ items: { qty: number }[] }>('POST', '/api/cart/items', {
        body: { productId: 'mug', qty: 3 },
        ...bearer(pair.accessToken, { 'idempotency-key': 'add-once' }),
      });
    const first = await send();
    const second = await send();
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    const cart = await api.req<{ items: { qty: number }[] }>('GET', '/api/cart', bearer(pair.accessToken));
    assert.deepEqual(cart.body.items, [{ productId: 'mug', qty: 3 }]);
  });

  it('scopes: a token without orders:read gets 403 insufficient_scope on GET /api/orders', async () => {
    const pair = await issue('alice', ['cart']);
    const r = await api.req('GET', '/api/orders', bearer(pair.accessToken));
    expectProblem(r, 403, 'SL_ERR_TOKEN_SCOPE');
    assert.match(r.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="orders:read"/);
    assert.equal((await api.req('GET', '/api/cart', bearer(pair.accessToken))).status, 200);
    const unknown = await api.req('POST', '/api/tokens', {
      body: { username: 'alice', password: 'stateline', scopes: ['admin'] },
      noCookie: true,
    });
    expectProblem(unknown, 400, 'SL_ERR_BAD_REQUEST');
  });

  it('refresh rotates; the spent refresh token presented again revokes the family on every instance', async () => {
    const first = await issue('bob');
    const second = await refresh(first.refreshToken);
    assert.equal(second.status, 200, second.text);
    assert.notEqual(second.body.refreshToken, first.refreshToken);
    assert.equal(second.body.handle, first.handle);
    assert.equal((await api.req('GET', '/api/whoami', bearer(second.body.accessToken))).status, 200);
    const reuse = await refresh(first.refreshToken);
    expectProblem(reuse, 401, 'SL_ERR_REFRESH_INVALID');
    await refusedEverywhere(second.body.accessToken);
    expectProblem(await refresh(second.body.refreshToken), 401, 'SL_ERR_REFRESH_INVALID');
    let reuses = 0;
    for (const { url } of await instanceUrls(cluster)) {
      const text = await (await fetch(`${url}/metrics`)).text();
      reuses += Number(/^stateline_tokens_reuse_detected_total (\d+)/m.exec(text)?.[1] ?? NaN);
    }
    assert.ok(reuses >= 1, 'the theft detection shows in /metrics');
  });

  it('a refresh retried with its Idempotency-Key gets the same refresh token and the family lives; another key is a reuse', async () => {
    const first = await issue('user3');
    const a = await refresh(first.refreshToken, 'refresh-k1');
    const b = await refresh(first.refreshToken, 'refresh-k1');
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    assert.equal(b.body.refreshToken, a.body.refreshToken);
    assert.equal(b.body.handle, a.body.handle);
    assert.equal((await api.req('GET', '/api/whoami', bearer(b.body.accessToken))).status, 200);
    const next = await refresh(b.body.refreshToken, 'refresh-k2');
    assert.equal(next.status, 200, next.text);
    // The first token again under a new key is a second use: theft detection ends the family.
    expectProblem(await refresh(first.refreshToken, 'refresh-k3'), 401, 'SL_ERR_REFRESH_INVALID');
    await refusedEverywhere(next.body.accessToken);
  });

  it('a token login retried with its Idempotency-Key gets the same family, and only with the right password', async () => {
    const a = await issue('user1', undefined, 'login-k1');
    const b = await issue('user1', undefined, 'login-k1');
    assert.deepEqual(b, a);
    const wrong = await api.req('POST', '/api/tokens', {
      body: { username: 'user1', password: 'guess' },
      headers: { 'idempotency-key': 'login-k1' },
      noCookie: true,
    });
    expectProblem(wrong, 401, 'SL_ERR_BAD_CREDENTIALS');
  });

  it('the sessions page lists token families beside cookie sessions; DELETE /api/tokens/<handle> ends one', async () => {
    const browser = new Client(cluster.url, 'browser-ua');
    await browser.login('user3');
    const pair = await issue('user3');
    const added = await api.req('POST', '/api/cart/items', {
      body: { productId: 'cap', qty: 1 },
      ...bearer(pair.accessToken),
    });
    assert.equal(added.status, 200);
    type Listed = { sessions: { handle: string; kind: string; current: boolean }[] };
    const viaCookie = await browser.req<Listed>('GET', '/api/sessions');
    const family = viaCookie.body.sessions.find((s) => s.handle === pair.handle);
    assert.equal(family?.kind, 'token');
    assert.ok(viaCookie.body.sessions.some((s) => s.kind === 'cookie' && s.current));
    const viaToken = await api.req<Listed>('GET', '/api/sessions', bearer(pair.accessToken));
    assert.equal(viaToken.body.sessions.find((s) => s.current)?.handle, pair.handle);
    const cookieHandle = viaCookie.body.sessions.find((s) => s.kind === 'cookie' && s.current)!.handle;
    expectProblem(await browser.req('DELETE', `/api/tokens/${cookieHandle}`), 404, 'SL_ERR_NOT_FOUND');
    assert.equal((await browser.req('DELETE', `/api/tokens/${pair.handle}`)).status, 204);
    await refusedEverywhere(pair.accessToken);
    const store = await createStore(`sqlite:${join(dir, 'shop.db')}`);
    try {
      assert.equal(await store.get(`shop:family:${pair.handle}`), null, "the family's cart went with it");
    } finally {
      await store.close();
    }
    expectProblem(await refresh(pair.refreshToken), 401, 'SL_ERR_REFRESH_INVALID');
    assert.equal((await browser.req('GET', '/api/whoami')).status, 200, 'the cookie session stays');
  });

  it('logout-all from the browser ends the token families too; from a token it ends the cookies', async () => {
    const pair = await issue('alice');
    const other = new Client(cluster.url);
    await other.login('alice');
    const mine = await issue('alice');
    assert.equal((await api.req('POST', '/api/logout-all', bearer(mine.accessToken))).status, 204);
    await refusedEverywhere(pair.accessToken);
    await refusedEverywhere(mine.accessToken);
    expectProblem(await refresh(pair.refreshToken), 401, 'SL_ERR_REFRESH_INVALID');
    const me = await other.req<{ user: unknown }>('GET', '/api/whoami');
    assert.equal(me.body.user, null, "alice's cookie session ended as well");
    const fresh = await issue('alice');
    assert.equal((await api.req('GET', '/api/whoami', bearer(fresh.accessToken))).status, 200);
  });

  it('without credentials a bearer route says which scheme works; a malformed header is invalid_token', async () => {
    const none = await api.req('GET', '/api/orders', { noCookie: true });
    expectProblem(none, 401, 'SL_ERR_UNAUTHENTICATED');
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="shop"');
    expectInvalidToken(await api.req('GET', '/api/orders', bearer('')));
    expectInvalidToken(await api.req('GET', '/api/orders', bearer('not.a.token')));
  });

  it('GET /.well-known/jwks.json publishes the public key (cacheable); another service verifies a token with jose alone', async () => {
    const r = await api.req<{ keys: Record<string, unknown>[] }>('GET', '/.well-known/jwks.json', {
      noCookie: true,
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('cache-control') ?? '', /^public, max-age=\d+/);
    assert.ok(r.body.keys.length >= 1);
    assert.ok(
      r.body.keys.every((k) => !('d' in k)),
      'no private part',
    );
    const pair = await issue('bob');
    const { payload } = await jwtVerify(pair.accessToken, createLocalJWKSet(r.body as never), {
      issuer: DEFAULT_TOKEN_ISSUER,
      audience: 'shop-api',
    });
    assert.equal(payload.sub, 'bob');
  });
});
