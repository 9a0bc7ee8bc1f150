/**
 * The `bearer` middleware and the JWKS route of every adapter answer alike: `auth` for a valid
 * token; 401 with `WWW-Authenticate: Bearer realm=…` (no error code) without a token, 401
 * `invalid_token` for a bad or revoked one, 403 `insufficient_scope` for a missing scope, each
 * with a problem+json body; the JWKS with public keys only and `Cache-Control`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import * as ex from '../../src/adapters/express/index.js';
import * as fa from '../../src/adapters/fastify/index.js';
import * as ho from '../../src/adapters/hono/index.js';
import * as no from '../../src/adapters/node/index.js';
import type { Tokens } from '../../src/tokens/types.js';
import { rig, type Rig } from './fixture.js';

interface Server {
  url: string;
  close(): Promise<void>;
}

const SCOPES = { scopes: ['orders:read'], realm: 'shop-api' };

async function listen(server: http.Server): Promise<Server> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const adapters: Record<string, (tokens: Tokens) => Promise<Server>> = {
  express: async (tokens) => {
    const app = express();
    app.get('/orders', ex.bearer(tokens, SCOPES), (req, res) => void res.json(req.auth));
    app.get('/.well-known/jwks.json', ex.jwks(tokens));
    return listen(http.createServer(app));
  },
  fastify: async (tokens) => {
    const app = Fastify();
    app.get('/orders', { onRequest: fa.bearer(tokens, SCOPES) }, async (request) => request.auth);
    app.get('/.well-known/jwks.json', fa.jwks(tokens));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
  hono: async (tokens) => {
    const app = new Hono();
    app.get('/orders', ho.bearer(tokens, SCOPES), (c) => c.json(c.get('auth')));
    app.get('/.well-known/jwks.json', ho.jwks(tokens));
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
  node: async (tokens) => {
    const orders = no.bearer(
      tokens,
      SCOPES,
    )((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.auth));
    });
    const jwks = no.jwks(tokens);
    return listen(
      http.createServer((req, res) => void (req.url === '/orders' ? orders(req, res) : jwks(req, res))),
    );
  },
};

for (const [name, start] of Object.entries(adapters)) {
  describe(`bearer middleware [${name}]`, () => {
    let r: Rig;
    let server: Server;
    before(async () => {
      r = await rig();
      server = await start(r.tokens);
    });
    after(async () => {
      await server.close();
      await r.close();
    });

    const get = (authorization?: string) =>
      fetch(`${server.url}/orders`, { headers: authorization ? { authorization } : {} });

    async function problem(res: Response, status: number, challenge: string, code: string) {
      assert.equal(res.status, status);
      assert.equal(res.headers.get('www-authenticate'), challenge);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json(; charset=utf-8)?$/);
      const body = (await res.json()) as { code: string; status: number; detail: string };
      assert.equal(body.code, code);
      assert.equal(body.status, status);
      assert.doesNotMatch(body.detail, /at |\.ts:|\.js:/);
    }

    it(`[${name}] a valid token with the scope: the handler sees auth`, async () => {
      const pair = await r.tokens.issue('alice', { scopes: ['orders:read', 'cart:write'] });
      for (let i = 0; i < 2; i++) {
        // The second request is answered from the verified cache (no promise on the way).
        const res = await get(`Bearer ${pair.accessToken}`);
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), {
          userId: 'alice',
          scopes: ['orders:read', 'cart:write'],
          sid: pair.handle,
        });
      }
      assert.equal(r.tokens.metrics.cacheHits, 1);
      const lower = await get(`bearer ${pair.accessToken}`);
      assert.equal(lower.status, 200);
    });

    it(`[${name}] no token, or another scheme: 401 with a bare challenge`, async () => {
      await problem(await get(), 401, 'Bearer realm="shop-api"', 'SL_ERR_TOKEN_INVALID');
      await problem(
        await get('Basic YWxpY2U6c2VjcmV0'),
        401,
        'Bearer realm="shop-api"',
        'SL_ERR_TOKEN_INVALID',
      );
    });

    it(`[${name}] a bad, malformed or revoked token: 401 invalid_token`, async () => {
      const invalid = 'Bearer realm="shop-api", error="invalid_token"';
      await problem(await get('Bearer abc.def.ghi'), 401, invalid, 'SL_ERR_TOKEN_INVALID');
      await problem(await get('Bearer '), 401, invalid, 'SL_ERR_TOKEN_INVALID');
      await problem(await get('Bearer a b'), 401, invalid, 'SL_ERR_TOKEN_INVALID');
      await problem(await get(`Bearer ${'a'.repeat(9_000)}`), 401, invalid, 'SL_ERR_TOKEN_INVALID');
      const pair = await r.tokens.issue('bob', { scopes: ['orders:read'] });
      assert.equal((await get(`Bearer ${pair.accessToken}`)).status, 200);
      await r.sessions.revokeAll('bob');
      await problem(await get(`Bearer ${pair.accessToken}`), 401, invalid, 'SL_ERR_TOKEN_INVALID');
    });

    it(`[${name}] a valid token without the scope: 403 insufficient_scope naming it`, async () => {
      const pair = await r.tokens.issue('carol', { scopes: ['cart:write'] });
      const challenge = 'Bearer realm="shop-api", error="insufficient_scope", scope="orders:read"';
      await problem(await get(`Bearer ${pair.accessToken}`), 403, challenge, 'SL_ERR_TOKEN_SCOPE');
    });

    it(`[${name}] GET /.well-known/jwks.json: public keys only, cacheable`, async () => {
      const res = await fetch(`${server.url}/.well-known/jwks.json`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
      assert.match(res.headers.get('content-type') ?? '', /^application\/jwk-set\+json(; charset=utf-8)?$/);
      const body = (await res.json()) as { keys: Record<string, unknown>[] };
      assert.deepEqual(body, r.tokens.jwks());
      assert.equal(body.keys.length, 1);
      assert.deepEqual(Object.keys(body.keys[0]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
      const head = await fetch(`${server.url}/.well-known/jwks.json`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('cache-control'), 'public, max-age=300');
    });
  });
}
