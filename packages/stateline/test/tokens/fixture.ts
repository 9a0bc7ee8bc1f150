import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { bearer, problemHandler } from '../../src/adapters/express/index.js';
import { createSessions } from '../../src/session/index.js';
import type { SessionManager, SessionOptions } from '../../src/session/types.js';
import { createStore } from '../../src/store/index.js';
import { createTokens, generateTokenKey } from '../../src/tokens/index.js';
import type { TokenKey, Tokens, TokensOptions } from '../../src/tokens/types.js';

export const SESSION_KEY = 'k'.repeat(40);
export const ISSUER = 'https://shop.test';
export const AUDIENCE = 'shop-api';

/** A settable clock shared by a manager and its tokens. */
export class Clock {
  constructor(public t = Date.UTC(2026, 11, 3, 12)) {}
  readonly now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Rig {
  sessions: SessionManager;
  tokens: Tokens;
  close(): Promise<void>;
}

/** A manager (server strategy on a memory Store unless told) and tokens on it. */
export async function rig(
  o: {
    clock?: Clock;
    keys?: TokenKey[];
    session?: Partial<SessionOptions>;
    tokens?: Partial<TokensOptions>;
  } = {},
): Promise<Rig> {
  const sessions = await createSessions({
    strategy: 'server',
    store: await createStore('memory:'),
    keys: [SESSION_KEY],
    ...(o.clock ? { now: o.clock.now } : {}),
    ...o.session,
  });
  const tokens = await createTokens({
    keys: o.keys ?? [await generateTokenKey('EdDSA')],
    sessions,
    issuer: ISSUER,
    audience: AUDIENCE,
    ...o.tokens,
  });
  return {
    sessions,
    tokens,
    close: async () => {
      await tokens.close();
      await sessions.close();
    },
  };
}

/** An Express app answering `GET /me` behind `bearer(tokens)`, listening on port 0. */
export async function expressApi(tokens: Tokens): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.get('/me', bearer(tokens), (req, res) => void res.json(req.auth));
  app.use(problemHandler());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/me`,
    close: () => new Promise((r) => server.close(() => r(undefined))),
  };
}

export const b64 = (x: unknown) =>
  Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

/** The three segments of a compact JWS, decoded. */
export function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>,
  };
}

/** A compact JWS with header and payload as given and an HMAC-SHA256 signature under `secret`. */
export function hs256(header: object, payload: object, secret: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Deterministic PRNG (mulberry32), so a failing mutation can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
