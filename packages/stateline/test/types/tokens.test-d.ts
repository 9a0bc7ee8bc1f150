// Type tests of `stateline/tokens` and the `bearer` middleware of each adapter: importing an
// adapter types `auth` on its request (Express `req.auth`, Fastify `request.auth`, Hono
// `c.get('auth')`), and node's `bearer` hands the wrapped handler a request carrying it.
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import http from 'node:http';
import { expectTypeOf } from 'expect-type';
import { bearer as expressBearer, jwks as expressJwks } from 'stateline/express';
import { bearer as fastifyBearer, jwks as fastifyJwks } from 'stateline/fastify';
import { bearer as honoBearer, jwks as honoJwks } from 'stateline/hono';
import { bearer as nodeBearer } from 'stateline/node';
import type { SessionInfo, SessionManager } from 'stateline/session';
import {
  bearerProblem,
  createTokens,
  generateTokenKey,
  jwksHandler,
  type BearerAuth,
  type TokenKey,
  type TokenPair,
  type Tokens,
} from 'stateline/tokens';

declare const sessions: SessionManager;

const key = await generateTokenKey('ES256');
expectTypeOf(key).toEqualTypeOf<TokenKey>();
// @ts-expect-error HS256 is not a token algorithm
void generateTokenKey('HS256');
const tokens = await createTokens({
  keys: [key],
  sessions,
  issuer: 'https://shop.example',
  audience: 'shop-api',
});
expectTypeOf(tokens).toEqualTypeOf<Tokens>();
expectTypeOf(tokens.issue('alice', { scopes: ['orders:read'] })).resolves.toEqualTypeOf<TokenPair>();
expectTypeOf(tokens.refresh('r')).resolves.toEqualTypeOf<TokenPair>();
expectTypeOf(tokens.verify('t', { scopes: ['orders:read'] })).resolves.toEqualTypeOf<BearerAuth>();
expectTypeOf<TokenPair['tokenType']>().toEqualTypeOf<'Bearer'>();
expectTypeOf(tokens.metrics.reuseDetected).toEqualTypeOf<number>();
expectTypeOf<SessionInfo['kind']>().toEqualTypeOf<'cookie' | 'token'>();
expectTypeOf(bearerProblem(new Error('x')).status).toEqualTypeOf<number>();
// @ts-expect-error unknown options are refused at compile time too
void createTokens({ keys: [key], sessions, issuer: 'i', audience: 'a', algorithm: 'none' });

const app = express();
app.get('/.well-known/jwks.json', expressJwks(tokens));
app.get('/orders', expressBearer(tokens, { scopes: ['orders:read'] }), (req, res) => {
  expectTypeOf(req.auth).toEqualTypeOf<BearerAuth>();
  expectTypeOf(req.auth.userId).toEqualTypeOf<string>();
  expectTypeOf(req.auth.scopes).toEqualTypeOf<readonly string[]>();
  expectTypeOf(req.auth.sid).toEqualTypeOf<string>();
  res.json({ user: req.auth.userId });
});

const f = Fastify();
f.get('/.well-known/jwks.json', fastifyJwks(tokens));
f.get('/orders', { onRequest: fastifyBearer(tokens, { scopes: ['orders:read'] }) }, async (request) => {
  expectTypeOf(request.auth).toEqualTypeOf<BearerAuth>();
  return { user: request.auth.userId };
});
f.addHook('onRequest', fastifyBearer(tokens));

const h = new Hono();
h.get('/.well-known/jwks.json', honoJwks(tokens));
h.get('/orders', honoBearer(tokens, { scopes: ['orders:read'] }), (c) => {
  expectTypeOf(c.get('auth')).toEqualTypeOf<BearerAuth>();
  expectTypeOf(c.var.auth.userId).toEqualTypeOf<string>();
  return c.json({ user: c.get('auth').userId });
});

const orders = nodeBearer(tokens, { scopes: ['orders:read'] });
http.createServer(
  orders((req, res) => {
    expectTypeOf(req.auth).toEqualTypeOf<BearerAuth>();
    expectTypeOf(req).toMatchTypeOf<http.IncomingMessage>();
    res.end(req.auth.userId);
  }),
);
http.createServer((req, res) => jwksHandler(tokens, { maxAge: 60 })(req, res));
