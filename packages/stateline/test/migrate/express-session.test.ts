import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RedisStore } from 'connect-redis';
import express, { type Request, type RequestHandler } from 'express';
import { createClient } from 'redis';
import { problemHandler, session } from '../../src/adapters/express/index.js';
import { fromExpressSession, type ExpressSessionOptions } from '../../src/migrate/index.js';
import { createSessions } from '../../src/session/index.js';
import type { Session, SessionManager, SessionOptions } from '../../src/session/types.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { freePort } from '../support/free-port.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { expectAnonymous, loginOnLegacy, runSwitch, type RunningApp } from './switch.case.js';

/** The part of express-session used here (it ships no types; @types/express-session is not installed). */
type ExpressSession = (options: {
  store: unknown;
  secret: string | string[];
  resave: boolean;
  saveUninitialized: boolean;
  cookie: { maxAge: number };
}) => RequestHandler;
const expressSession = createRequire(import.meta.url)('express-session') as ExpressSession;

const skip = await needService('redis');
cleanUpAfter('redis', skip);

const SECRET = 'express-session secret of the app, 2026';
const OLD_SECRET = 'the express-session secret used before';
const KEY = 'stateline-migration-test-key-0123456789abcdef';

interface LegacyData {
  userId?: string;
  user?: { id: string; name: string };
  cart?: string[];
}
const legacySession = (req: Request) => (req as unknown as { session: LegacyData }).session;
const sl = (req: Request) => (req as unknown as { session: Session }).session;

async function listen(
  app: express.Express,
  close: () => Promise<void> = async () => {},
): Promise<RunningApp> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await close();
    },
  };
}

/** The shop before: express-session on connect-redis, writing properties of `req.session`. */
async function legacyApp(prefix: string, secret: string | string[] = SECRET): Promise<RunningApp> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  const app = express();
  app.use(
    expressSession({
      store: new RedisStore({ client, prefix }),
      secret,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 3_600_000 },
    }),
  );
  app.post('/login', (req, res) => {
    const user = String(req.query.user);
    Object.assign(legacySession(req), { userId: user, user: { id: user, name: user.toUpperCase() } });
    res.json({ user });
  });
  app.post('/cart', (req, res) => {
    const s = legacySession(req);
    s.cart = [...(s.cart ?? []), String(req.query.item)];
    res.json(s.cart);
  });
  app.get('/me', (req, res) => {
    const s = legacySession(req);
    res.json({ user: s.userId ?? null, cart: s.cart ?? [] });
  });
  return listen(app, () => client.close().then(() => {}));
}

/** The same shop after: Stateline with the express-session reader. */
async function statelineApp(
  prefix: string,
  reader: Partial<ExpressSessionOptions> = {},
  extra: Partial<SessionOptions> = {},
): Promise<RunningApp & { sessions: SessionManager }> {
  const sessions = await createSessions({
    strategy: 'server',
    store: `${REDIS_URL}?prefix=${prefix}sl:`,
    keys: [KEY],
    migrate: [fromExpressSession({ secret: SECRET, store: REDIS_URL, prefix, ...reader })],
    ...extra,
  });
  const app = express();
  app.use(session(sessions));
  app.post('/login', async (req, res) => {
    await sl(req).login(String(req.query.user));
    res.json({ user: sl(req).userId });
  });
  app.post('/cart', async (req, res) => {
    res.json(await sl(req).update<string[]>('cart', (c = []) => [...c, String(req.query.item)]));
  });
  app.get(
    '/me',
    (req, res) => void res.json({ user: sl(req).userId, cart: sl(req).get<string[]>('cart') ?? [] }),
  );
  app.use(problemHandler());
  return Object.assign(await listen(app, () => sessions.close()), { sessions });
}

/** express-session's cookie value for session id `sid`, as cookie-signature signs it. */
function signed(sid: string, secret: string): string {
  const mac = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
  return encodeURIComponent(`s:${sid}.${mac}`);
}

describe(
  'fromExpressSession: express-session + connect-redis → Stateline',
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
    const sidOf = (cookieValue: string) => decodeURIComponent(cookieValue).slice(2).split('.')[0]!;

    it('100 users logged in with carts stay logged in with their carts, move to a Stateline cookie, and the old cookie then gives an anonymous session', async () => {
      const prefix = `${uniquePrefix('mig-es')}sess:`;
      await runSwitch({
        cookieName: 'connect.sid',
        legacy: () => legacyApp(prefix),
        stateline: () => statelineApp(prefix),
        legacyRecordExists: async (v) => (await redis.exists(prefix + sidOf(v))) === 1,
      });
    });

    it('tampered, wrongly signed, unsigned, unknown and expired cookies give an anonymous session, never a 5xx', async () => {
      const prefix = `${uniquePrefix('mig-es')}sess:`;
      const legacy = await legacyApp(prefix);
      const [alice, bob] = await loginOnLegacy(legacy, 2).finally(() => legacy.close());
      const aliceCookie = decodeURIComponent(alice!.cookies.get('connect.sid')!);
      const bobSid = sidOf(bob!.cookies.get('connect.sid')!);
      // Bob's record says its cookie expired a minute ago (connect-redis's TTL has not removed it yet).
      const rec = JSON.parse((await redis.get(prefix + bobSid))!) as { cookie: { expires: string } };
      rec.cookie.expires = new Date(Date.now() - 60_000).toISOString();
      await redis.set(prefix + bobSid, JSON.stringify(rec), { expiration: { type: 'EX', value: 600 } });

      const app = await statelineApp(prefix);
      try {
        const last = aliceCookie.at(-1) === 'A' ? 'B' : 'A';
        await expectAnonymous(app, 'connect.sid', encodeURIComponent(aliceCookie.slice(0, -1) + last));
        await expectAnonymous(app, 'connect.sid', signed(sidOf(aliceCookie), 'not the secret at all'));
        await expectAnonymous(app, 'connect.sid', sidOf(aliceCookie));
        await expectAnonymous(app, 'connect.sid', signed(randomBytes(24).toString('base64url'), SECRET));
        await expectAnonymous(app, 'connect.sid', signed(bobSid, SECRET));
        await expectAnonymous(app, 'connect.sid', '%E0%A4%A');
        assert.equal(app.sessions.metrics.migrated, 0);
        assert.equal(app.sessions.metrics.migrationRefused, 6);
        // The genuine cookie still works afterwards: nothing above retired it.
        const me = await alice!.call(app, 'GET', '/me');
        assert.deepEqual(me.body, { user: alice!.name, cart: [`${alice!.name}-a`, `${alice!.name}-b`] });
      } finally {
        await app.close();
      }
    });

    it('secret rotation: cookies signed with an older secret in the list are taken over too', async () => {
      const prefix = `${uniquePrefix('mig-es')}sess:`;
      const before = await legacyApp(prefix, OLD_SECRET);
      const [early] = await loginOnLegacy(before, 1, 'early').finally(() => before.close());
      const rotated = await legacyApp(prefix, [SECRET, OLD_SECRET]);
      const [late] = await loginOnLegacy(rotated, 1, 'late').finally(() => rotated.close());
      // A reader that knows only the new secret refuses the early cookie…
      const onlyNew = await statelineApp(prefix);
      try {
        await expectAnonymous(onlyNew, 'connect.sid', early!.cookies.get('connect.sid')!);
      } finally {
        await onlyNew.close();
      }
      // …one given both, as the app had them, takes over both users.
      const client = createClient({ url: REDIS_URL });
      await client.connect();
      // The reader takes the app's own node-redis client here (the first test gives a URL).
      const app = await statelineApp(prefix, {
        secret: undefined,
        secrets: [SECRET, OLD_SECRET],
        store: client,
      });
      try {
        for (const u of [early!, late!])
          assert.equal(((await u.call(app, 'GET', '/me')).body as { user: string }).user, u.name);
        assert.equal(app.sessions.metrics.migrated, 2);
      } finally {
        await app.close();
        await client.close();
      }
    });

    it('reads through an express-session store object (connect-redis RedisStore) as well', async () => {
      const prefix = `${uniquePrefix('mig-es')}sess:`;
      const client = createClient({ url: REDIS_URL });
      await client.connect();
      try {
        await runSwitch(
          {
            cookieName: 'connect.sid',
            legacy: () => legacyApp(prefix),
            stateline: () => statelineApp(prefix, { store: new RedisStore({ client, prefix }) }),
            legacyRecordExists: async (v) => (await redis.exists(prefix + sidOf(v))) === 1,
          },
          10,
        );
      } finally {
        await client.close();
      }
    });

    for (const policy of ['fail', 'anonymous'] as const) {
      it(`legacy Redis down: the manager's onStoreError '${policy}' decides`, async () => {
        const prefix = `${uniquePrefix('mig-es')}sess:`;
        const legacy = await legacyApp(prefix);
        const [carol] = await loginOnLegacy(legacy, 1, 'carol').finally(() => legacy.close());
        const closed = `redis://127.0.0.1:${await freePort()}`;
        const app = await statelineApp(prefix, { store: closed }, { onStoreError: policy });
        try {
          const u = carol!.clone();
          const res = await fetch(`${app.url}/me`, { headers: { cookie: u.header() } });
          if (policy === 'fail') {
            assert.equal(res.status, 503);
            assert.equal(res.headers.get('content-type'), 'application/problem+json');
            assert.equal(((await res.json()) as { code: string }).code, 'SL_ERR_STORE_UNAVAILABLE');
          } else {
            assert.equal(res.status, 200);
            assert.deepEqual(await res.json(), { user: null, cart: [] });
            assert.ok(
              !res.headers.getSetCookie().some((c) => c.startsWith('connect.sid=')),
              'the legacy cookie is kept for later',
            );
          }
          assert.equal(app.sessions.metrics.storeErrors, 1);
        } finally {
          await app.close();
        }
        // The legacy record was not touched: a reader on a reachable Redis still takes it over.
        const back = await statelineApp(prefix);
        try {
          assert.equal(((await carol!.call(back, 'GET', '/me')).body as { user: string }).user, carol!.name);
        } finally {
          await back.close();
        }
      });
    }
  },
);

describe('fromExpressSession options', () => {
  it('refuses what express-session would not have signed with', () => {
    const cases: unknown[] = [
      {},
      { store: REDIS_URL },
      { secret: '', store: REDIS_URL },
      { secret: SECRET, secrets: [SECRET], store: REDIS_URL },
      { secret: SECRET },
      { secret: SECRET, store: 'memcached://x' },
      { secret: SECRET, store: {} },
      { secret: SECRET, store: REDIS_URL, cookieName: 'bad name' },
      { secret: SECRET, store: REDIS_URL, userId: 'id' },
      { secret: SECRET, store: REDIS_URL, cookie: { path: 'x' } },
      { secret: SECRET, store: REDIS_URL, ttl: 5 },
    ];
    for (const o of cases)
      assert.throws(
        () => fromExpressSession(o as ExpressSessionOptions),
        (err: { code?: string }) => err.code === 'SL_ERR_INVALID_OPTION',
        JSON.stringify(o),
      );
  });

  it('uses userId(data) to find the user, and keeps every property but cookie', async () => {
    const records = new Map<string, unknown>([
      ['s1', { cookie: { expires: null }, account: { uid: 42 }, cart: ['x'] }],
    ]);
    const reader = fromExpressSession({
      secret: SECRET,
      store: {
        get: (sid, cb) => cb(null, records.get(sid) ?? null),
        destroy: (sid, cb) => cb(records.delete(sid) ? undefined : undefined),
      },
      userId: (data) => (data.account as { uid: number }).uid,
    });
    const cookies = new Map([['connect.sid', decodeURIComponent(signed('s1', SECRET))]]);
    const found = await reader.read({ cookie: undefined, encrypted: false }, cookies);
    assert.deepEqual(found && { data: found.data, userId: found.userId }, {
      data: { account: { uid: 42 }, cart: ['x'] },
      userId: '42',
    });
    await found!.retire!();
    assert.equal(records.has('s1'), false);
    await found!.retire!();
  });
});
