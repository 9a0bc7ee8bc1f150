import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { RedisStore } from 'connect-redis';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { createClient } from 'redis';
import { sessionPlugin } from '../../src/adapters/fastify/index.js';
import { fromFastifySession, type FastifySessionOptions } from '../../src/migrate/index.js';
import { createSessions } from '../../src/session/index.js';
import type { Session, SessionManager } from '../../src/session/types.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { expectAnonymous, loginOnLegacy, runSwitch, type RunningApp } from './switch.case.js';

const skip = await needService('redis');
cleanUpAfter('redis', skip);

const SECRET = 'the @fastify/session secret, at least 32 characters';
const OLD_SECRET = 'the @fastify/session secret used before this one';
const KEY = 'stateline-migration-test-key-0123456789abcdef';

/** @fastify/session's `request.session`, loosely (its types know only declared SessionData keys). */
interface LegacySession {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
}
const legacySession = (r: FastifyRequest) => (r as unknown as { session: LegacySession }).session;
const sl = (r: FastifyRequest) => (r as unknown as { session: Session }).session;

async function listen(
  app: FastifyInstance,
  close: () => Promise<void> = async () => {},
): Promise<RunningApp> {
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    close: async () => {
      await app.close();
      await close();
    },
  };
}

/** The app before: @fastify/session (+ @fastify/cookie) on connect-redis. */
async function legacyApp(
  prefix: string,
  secret: string | string[] = SECRET,
  cookiePrefix?: string,
): Promise<RunningApp> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret,
    store: new RedisStore({ client, prefix }),
    cookie: { secure: false, maxAge: 3_600_000 },
    saveUninitialized: false,
    ...(cookiePrefix ? { cookiePrefix } : {}),
  });
  app.post<{ Querystring: { user: string } }>('/login', async (request) => {
    const s = legacySession(request);
    s.set('userId', request.query.user);
    s.set('user', { id: request.query.user });
    return { user: request.query.user };
  });
  app.post<{ Querystring: { item: string } }>('/cart', async (request) => {
    const s = legacySession(request);
    const cart = [...((s.get('cart') as string[] | undefined) ?? []), request.query.item];
    s.set('cart', cart);
    return cart;
  });
  app.get('/me', async (request) => {
    const s = legacySession(request);
    return {
      user: (s.get('userId') as string | undefined) ?? null,
      cart: (s.get('cart') as string[] | undefined) ?? [],
    };
  });
  return listen(app, () => client.close().then(() => {}));
}

/** The same app after: Stateline with the @fastify/session reader. */
async function statelineApp(
  prefix: string,
  reader: Partial<FastifySessionOptions> = {},
): Promise<RunningApp & { sessions: SessionManager }> {
  const sessions = await createSessions({
    strategy: 'server',
    store: `${REDIS_URL}?prefix=${prefix}sl:`,
    keys: [KEY],
    migrate: [fromFastifySession({ secret: SECRET, store: REDIS_URL, prefix, ...reader })],
  });
  const app = Fastify();
  await app.register(sessionPlugin, { sessions });
  app.post<{ Querystring: { user: string } }>('/login', async (request) => {
    await sl(request).login(request.query.user);
    return { user: sl(request).userId };
  });
  app.post<{ Querystring: { item: string } }>('/cart', (request) =>
    sl(request).update<string[]>('cart', (c = []) => [...c, request.query.item]),
  );
  app.get('/me', async (request) => ({
    user: sl(request).userId,
    cart: sl(request).get<string[]>('cart') ?? [],
  }));
  return Object.assign(await listen(app, () => sessions.close()), { sessions });
}

/** @fastify/cookie's signature of `sid` (HMAC-SHA256, base64 without padding). */
function signed(sid: string, secret: string): string {
  return `${sid}.${createHmac('sha256', secret).update(sid).digest('base64').replace(/=/g, '')}`;
}

describe(
  'fromFastifySession: @fastify/session + connect-redis → Stateline',
  { skip: skip || undefined },
  () => {
    let redis: ReturnType<typeof createClient>;
    before(async () => {
      redis = createClient({ url: REDIS_URL });
      await redis.connect();
    });
    after(async () => {
      await redis?.close();
    });
    const sidOf = (cookieValue: string) => decodeURIComponent(cookieValue).replace(/^s:/, '').split('.')[0]!;

    it('100 users logged in with carts stay logged in with their carts, move to a Stateline cookie, and the old cookie then gives an anonymous session', async () => {
      const prefix = `${uniquePrefix('mig-fs')}sess:`;
      await runSwitch({
        cookieName: 'sessionId',
        legacy: () => legacyApp(prefix),
        stateline: () => statelineApp(prefix),
        legacyRecordExists: async (v) => (await redis.exists(prefix + sidOf(v))) === 1,
      });
    });

    it('tampered, wrongly signed, unknown and expired cookies give an anonymous session, never a 5xx', async () => {
      const prefix = `${uniquePrefix('mig-fs')}sess:`;
      const legacy = await legacyApp(prefix);
      const [alice, bob] = await loginOnLegacy(legacy, 2).finally(() => legacy.close());
      const aliceCookie = decodeURIComponent(alice!.cookies.get('sessionId')!);
      const bobSid = sidOf(bob!.cookies.get('sessionId')!);
      // Bob's record ended a minute ago by its own cookie dates (the Redis TTL has not removed it yet).
      const rec = JSON.parse((await redis.get(prefix + bobSid))!) as {
        cookie: { expires: string; originalExpires?: string };
      };
      rec.cookie.expires = rec.cookie.originalExpires = new Date(Date.now() - 60_000).toISOString();
      await redis.set(prefix + bobSid, JSON.stringify(rec), { expiration: { type: 'EX', value: 600 } });

      const app = await statelineApp(prefix);
      try {
        const last = aliceCookie.at(-1) === 'A' ? 'B' : 'A';
        await expectAnonymous(app, 'sessionId', encodeURIComponent(aliceCookie.slice(0, -1) + last));
        await expectAnonymous(app, 'sessionId', encodeURIComponent(signed(sidOf(aliceCookie), OLD_SECRET)));
        await expectAnonymous(
          app,
          'sessionId',
          encodeURIComponent(signed('no-such-session-id-anywhere', SECRET)),
        );
        await expectAnonymous(app, 'sessionId', encodeURIComponent(signed(bobSid, SECRET)));
        await expectAnonymous(app, 'sessionId', sidOf(aliceCookie));
        assert.deepEqual([app.sessions.metrics.migrated, app.sessions.metrics.migrationRefused], [0, 5]);
        assert.equal(((await alice!.call(app, 'GET', '/me')).body as { user: string }).user, alice!.name);
      } finally {
        await app.close();
      }
    });

    it('a secret list (rotation) and an express-style cookiePrefix are read as @fastify/session wrote them', async () => {
      const prefix = `${uniquePrefix('mig-fs')}sess:`;
      const before = await legacyApp(prefix, OLD_SECRET, 's:');
      const [early] = await loginOnLegacy(before, 1, 'early').finally(() => before.close());
      const rotated = await legacyApp(prefix, [SECRET, OLD_SECRET], 's:');
      const [late] = await loginOnLegacy(rotated, 1, 'late').finally(() => rotated.close());
      assert.match(decodeURIComponent(early!.cookies.get('sessionId')!), /^s:/);
      const app = await statelineApp(prefix, { secret: [SECRET, OLD_SECRET], cookiePrefix: 's:' });
      try {
        for (const u of [early!, late!])
          assert.equal(((await u.call(app, 'GET', '/me')).body as { user: string }).user, u.name);
      } finally {
        await app.close();
      }
    });

    it('a store that fails answers 503 under the default policy, as the manager’s own store would', async () => {
      const failing = {
        get: (_sid: string, cb: (err: unknown) => void) => cb(new Error('connection refused')),
        destroy: (_sid: string, cb: (err?: unknown) => void) => cb(),
      };
      const app = await statelineApp(`${uniquePrefix('mig-fs')}sess:`, { store: failing });
      try {
        const res = await fetch(`${app.url}/me`, {
          headers: { cookie: `sessionId=${signed('abc', SECRET)}` },
        });
        assert.equal(res.status, 503);
        assert.equal(((await res.json()) as { code: string }).code, 'SL_ERR_STORE_UNAVAILABLE');
      } finally {
        await app.close();
      }
    });
  },
);

describe('fromFastifySession options', () => {
  it('refuses a missing secret or store, an unknown algorithm and unknown options', () => {
    const cases: unknown[] = [
      { store: REDIS_URL },
      { secret: SECRET },
      { secret: [], store: REDIS_URL },
      { secret: SECRET, store: REDIS_URL, algorithm: 'no-such-hash' },
      { secret: { sign: () => '' }, store: REDIS_URL },
      { secret: SECRET, store: REDIS_URL, saveUninitialized: false },
    ];
    for (const o of cases)
      assert.throws(
        () => fromFastifySession(o as FastifySessionOptions),
        (err: { code?: string }) => err.code === 'SL_ERR_INVALID_OPTION',
        JSON.stringify(o),
      );
  });

  it('takes a signer object as @fastify/session does', async () => {
    const reader = fromFastifySession({
      secret: {
        unsign: (v) => (v === 'ok.sig' ? { valid: true, value: 'ok' } : { valid: false, value: null }),
      },
      store: {
        get: (sid, cb) => cb(null, sid === 'ok' ? { cookie: { originalExpires: null }, userId: 7 } : null),
        destroy: (_sid, cb) => cb(),
      },
    });
    const read = (value: string) =>
      reader.read({ cookie: undefined, encrypted: false }, new Map([['sessionId', value]]));
    assert.equal((await read('ok.sig'))?.userId, '7');
    assert.equal(await read('ok.bad'), null);
  });
});
