/**
 * One server of the tokens bench (bench/tokens.bench.ts), in its own process: `GET /orders` behind
 * a bearer check, answering the token's user as JSON. Rows:
 * - `express-bearer`, `fastify-bearer`: Stateline's `bearer` (scope checked, revocation on: the
 *   manager's Store and Bus are Redis, revocations re-read every second and pushed on the Bus);
 * - `express-bearer-nocache`: the same with the verified-token cache off (every request verifies);
 * - `express-jwt`, `fastify-jwt`: the anchors, express-jwt and @fastify/jwt, which verify
 *   signature, `iss`, `aud` and `exp` of every request and cannot revoke.
 * Env: `TOKENS_BENCH_KEY` (the ES256 TokenKey, JSON), `TOKENS_BENCH_STORE` (a Store/Bus spec).
 * Sends `{ port }` to the parent once listening.
 */
import { createPublicKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import fastifyJwt from '@fastify/jwt';
import express from 'express';
import { expressjwt } from 'express-jwt';
import Fastify from 'fastify';
import { bearer as expressBearer } from 'stateline/express';
import { bearer as fastifyBearer } from 'stateline/fastify';
import { createSessions } from 'stateline/session';
import { createTokens, type TokenKey } from 'stateline/tokens';
import { AUDIENCE, ISSUER, ROWS, type TokensRow } from './tokens-rows.js';

const row = process.argv[2] as TokensRow;
if (!ROWS.includes(row)) throw new Error(`unknown row ${row}; rows: ${ROWS.join(', ')}`);
const key = JSON.parse(process.env.TOKENS_BENCH_KEY ?? '') as TokenKey & {
  privateJwk: Record<string, unknown>;
};
const spec = process.env.TOKENS_BENCH_STORE ?? 'memory:';
const { d: _private, ...publicJwk } = key.privateJwk;
// express-jwt gets a KeyObject (imported once); given the PEM, jsonwebtoken would parse it on every request.
const publicKey = createPublicKey({ key: publicJwk as never, format: 'jwk' });
const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;

async function stateline(cacheSize?: number) {
  const sessions = await createSessions({
    strategy: 'server',
    store: spec,
    bus: spec,
    keys: ['b'.repeat(40)],
  });
  return createTokens({
    keys: [key],
    sessions,
    issuer: ISSUER,
    audience: AUDIENCE,
    ...(cacheSize === undefined ? {} : { cacheSize }),
  });
}

let port: number;
if (row.startsWith('express')) {
  const app = express();
  if (row === 'express-jwt') {
    app.get(
      '/orders',
      expressjwt({ secret: publicKey, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }),
      (req, res) => {
        res.json({ user: (req as unknown as { auth: { sub: string } }).auth.sub });
      },
    );
  } else {
    const tokens = await stateline(row === 'express-bearer-nocache' ? 0 : undefined);
    app.get('/orders', expressBearer(tokens, { scopes: ['orders:read'] }), (req, res) => {
      res.json({ user: req.auth.userId });
    });
  }
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  port = (server.address() as AddressInfo).port;
} else {
  const app = Fastify();
  if (row === 'fastify-jwt' || row === 'fastify-jwt-cache') {
    await app.register(fastifyJwt, {
      secret: { public: pem, private: '' },
      verify: {
        algorithms: ['ES256'],
        allowedIss: ISSUER,
        allowedAud: AUDIENCE,
        // fast-jwt's own verified-token cache (off by default), for the recorded like-for-like pair.
        ...(row === 'fastify-jwt-cache' ? { cache: 10_000 } : {}),
      },
    });
    app.get('/orders', { onRequest: (request) => request.jwtVerify() }, async (request) => ({
      user: (request.user as { sub: string }).sub,
    }));
  } else {
    const tokens = await stateline();
    app.get(
      '/orders',
      { onRequest: fastifyBearer(tokens, { scopes: ['orders:read'] }) },
      async (request) => ({
        user: request.auth.userId,
      }),
    );
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
}
process.send?.({ port });
