import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express, { type Request } from 'express';
import { getIronSession, sealData } from 'iron-session';
import { problemHandler, session } from '../../src/adapters/express/index.js';
import { fromIronSession, type IronSessionOptions } from '../../src/migrate/index.js';
import { createSessions } from '../../src/session/index.js';
import type { Session, SessionManager } from '../../src/session/types.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { cleanUpAfter } from '../support/cleanup.js';
import { REDIS_URL, needService, uniquePrefix } from '../support/services.js';
import { expectAnonymous, loginOnLegacy, runSwitch, type RunningApp } from './switch.case.js';

const skip = await needService('redis');
cleanUpAfter('redis', skip);

const PASSWORD = 'the iron-session password of the app, 32+ characters';
const OLD_PASSWORD = 'the iron-session password used before, 32+ chars';
const COOKIE = 'shop_session';
const KEY = 'stateline-migration-test-key-0123456789abcdef';

interface LegacyData {
  userId?: string;
  user?: { id: string };
  cart?: string[];
}
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

/** The app before: iron-session, the whole session sealed in the cookie. */
async function legacyApp(password: IronSessionOptions['password'] = PASSWORD): Promise<RunningApp> {
  const app = express();
  const open = (req: Request, res: express.Response) =>
    getIronSession<LegacyData>(req, res, {
      password: password as string | Record<string, string>,
      cookieName: COOKIE,
      cookieOptions: { secure: false },
    });
  app.post('/login', async (req, res) => {
    const s = await open(req, res);
    s.userId = String(req.query.user);
    s.user = { id: s.userId };
    await s.save();
    res.json({ user: s.userId });
  });
  app.post('/cart', async (req, res) => {
    const s = await open(req, res);
    s.cart = [...(s.cart ?? []), String(req.query.item)];
    await s.save();
    res.json(s.cart);
  });
  app.get('/me', async (req, res) => {
    const s = await open(req, res);
    res.json({ user: s.userId ?? null, cart: s.cart ?? [] });
  });
  return listen(app);
}

/** The same app after: Stateline with the iron-session reader (taken-over seals remembered in Redis). */
async function statelineApp(
  prefix: string,
  reader: Partial<IronSessionOptions> = {},
): Promise<RunningApp & { sessions: SessionManager }> {
  const sessions = await createSessions({
    strategy: 'server',
    store: `${REDIS_URL}?prefix=${prefix}sl:`,
    keys: [KEY],
    migrate: [
      fromIronSession({
        password: PASSWORD,
        cookieName: COOKIE,
        store: `${REDIS_URL}?prefix=${prefix}retired:`,
        ...reader,
      }),
    ],
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

describe('fromIronSession: iron-session → Stateline', { skip: skip || undefined }, () => {
  it('100 users logged in with carts stay logged in with their carts, move to a Stateline cookie, and the old cookie then gives an anonymous session', async () => {
    const prefix = uniquePrefix('mig-iron');
    await runSwitch({ cookieName: COOKIE, legacy: () => legacyApp(), stateline: () => statelineApp(prefix) });
  });

  it('tampered seals and seals of another password give an anonymous session, never a 5xx', async () => {
    const prefix = uniquePrefix('mig-iron');
    const legacy = await legacyApp();
    const [alice] = await loginOnLegacy(legacy, 1).finally(() => legacy.close());
    const seal = alice!.cookies.get(COOKIE)!;
    const app = await statelineApp(prefix);
    try {
      const parts = seal.split('*');
      parts[4] = parts[4]!.slice(0, -2) + (parts[4]!.endsWith('AA') ? 'BB' : 'AA');
      await expectAnonymous(app, COOKIE, parts.join('*'));
      await expectAnonymous(app, COOKIE, await sealData({ userId: 'mallory' }, { password: 'x'.repeat(32) }));
      await expectAnonymous(app, COOKIE, 'Fe26.2**not-a-seal');
      assert.deepEqual([app.sessions.metrics.migrated, app.sessions.metrics.migrationRefused], [0, 3]);
      assert.equal(((await alice!.call(app, 'GET', '/me')).body as { user: string }).user, alice!.name);
    } finally {
      await app.close();
    }
  });

  it('password rotation: a { id: password } map opens seals of every password in it', async () => {
    const prefix = uniquePrefix('mig-iron');
    const before = await legacyApp({ 1: OLD_PASSWORD });
    const [early] = await loginOnLegacy(before, 1, 'early').finally(() => before.close());
    const rotated = await legacyApp({ 2: PASSWORD, 1: OLD_PASSWORD });
    const [late] = await loginOnLegacy(rotated, 1, 'late').finally(() => rotated.close());
    const app = await statelineApp(prefix, { password: { 2: PASSWORD, 1: OLD_PASSWORD } });
    try {
      for (const u of [early!, late!])
        assert.equal(((await u.call(app, 'GET', '/me')).body as { user: string }).user, u.name);
      assert.equal(app.sessions.metrics.migrated, 2);
    } finally {
      await app.close();
    }
  });
});

describe('fromIronSession reader', () => {
  it('an expired seal opens nothing', async () => {
    const reader = fromIronSession({ password: PASSWORD, cookieName: COOKIE });
    const seal = await sealData({ userId: 'old' }, { password: PASSWORD, ttl: 60 });
    const read = () => reader.read({ cookie: undefined, encrypted: false }, new Map([[COOKIE, seal]]));
    assert.equal((await read())?.userId, 'old');
    const realNow = Date.now;
    // iron allows 60 s of clock skew: three minutes later the one-minute seal is over.
    Date.now = () => realNow() + 180_000;
    try {
      assert.equal(await read(), null);
    } finally {
      Date.now = realNow;
    }
  });

  it('without a store a seal keeps opening (as under iron-session); with one it opens once', async () => {
    const seal = await sealData({ userId: 'u1', cart: ['x'] }, { password: PASSWORD });
    const cookies = new Map([[COOKIE, seal]]);
    const request = { cookie: undefined, encrypted: false };
    const plain = fromIronSession({ password: PASSWORD, cookieName: COOKIE });
    assert.equal((await plain.read(request, cookies))?.retire, undefined, 'nothing to retire');
    const store = new MemoryStore();
    const remembering = fromIronSession({ password: PASSWORD, cookieName: COOKIE, store });
    const found = await remembering.read(request, cookies);
    assert.deepEqual(found && [found.userId, found.data], ['u1', { userId: 'u1', cart: ['x'] }]);
    await found!.retire!();
    await found!.retire!();
    assert.equal(await remembering.read(request, cookies), null);
    assert.equal(await store.get(`migrate:retired:${seal}`), null, 'the seal itself is never a key');
    const digest = createHash('sha256').update(seal).digest('base64url');
    assert.notEqual(await store.get(`migrate:retired:${digest}`), null, 'its hash is');
    await remembering.close!();
    assert.equal(await store.get('anything'), null, 'a Store given is left open for its owner');
  });

  it('refuses options iron-session would refuse', () => {
    const cases: unknown[] = [
      { cookieName: COOKIE },
      { password: 'short', cookieName: COOKIE },
      { password: { a: PASSWORD }, cookieName: COOKIE },
      { password: {}, cookieName: COOKIE },
      { password: PASSWORD },
      { password: PASSWORD, cookieName: COOKIE, ttl: -1 },
      { password: PASSWORD, cookieName: COOKIE, cookieOptions: {} },
      { password: PASSWORD, cookieName: COOKIE, store: 42 },
    ];
    for (const o of cases)
      assert.throws(
        () => fromIronSession(o as IronSessionOptions),
        (err: { code?: string }) => err.code === 'SL_ERR_INVALID_OPTION',
        JSON.stringify(o),
      );
  });
});
