import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { RedisStore } from 'connect-redis';
import express, { type Request, type RequestHandler } from 'express';
import { getIronSession } from 'iron-session';
import { createClient } from 'redis';
import { problemHandler, session } from 'stateline/express';
import type { Session, SessionStrategy } from 'stateline/session';
import { createStore, type StoredRecord } from 'stateline/store';
import { cartOf } from './cart.js';
import { memcachedServer } from './memcached-admin.js';
import { BENCH_SECRET, REDIS_URL } from './rows.js';
import { portOf, type RunningApp } from './running-app.js';
import { migrateReaders, statelineSessions } from './stateline-manager.js';
import type { Stats } from './stats.js';

/** The part of express-session used here (the package ships no types, and @types/express-session is not installed). */
type ExpressSession = ((options: {
  store: unknown;
  secret: string;
  name: string;
  resave: boolean;
  saveUninitialized: boolean;
  cookie: { secure: boolean; httpOnly: boolean; sameSite: 'lax'; maxAge: number };
}) => RequestHandler) & { Store: unknown };
/** connect-memcached (no types): a factory over express-session returning its Store class. */
type ConnectMemcached = (
  session: ExpressSession,
) => new (options: { hosts: string[]; prefix: string }) => { client: { end(): void } };
const connectMemcached = createRequire(import.meta.url)('connect-memcached') as ConnectMemcached;
const expressSession = createRequire(import.meta.url)('express-session') as ExpressSession;

const sl = (req: Request): Session => (req as unknown as { session: Session }).session;
const es = (req: Request): { hits?: number; cart?: unknown } =>
  (req as unknown as { session: { hits?: number; cart?: unknown } }).session;

/**
 * Builds, starts and returns the Express server of `row` (`express`, `express+…`). With `items`,
 * each session's first hit also stores a cart of that many lines (`stateline-token-zip`: the
 * token strategy with `compress: true`).
 */
export async function startExpress(
  row: string,
  prefix: string,
  stats: Stats,
  items = 0,
): Promise<RunningApp> {
  const app = express();
  const closers: (() => Promise<void>)[] = [];
  const variant = row.slice('express+'.length);

  if (row === 'express') {
    // No session: the framework's ceiling with the same routes and the same JSON.
    let hits = 0;
    app.get('/hit', (_req, res) => void res.json({ hits: stats.hit(++hits) }));
    app.get('/read', (_req, res) => void res.json({ hits: stats.read(hits) }));
  } else if (variant === 'floor-redis' || variant === 'floor-store') {
    // Issue #20's floors: the two Redis round trips of a session hit with no session layer, one
    // key per connection. `floor-redis`: a GET in the middleware and an INCR in the handler, raw
    // node-redis. `floor-store`: Stateline's Store, a GET and the compare-and-set script.
    const key = (req: Request) => `${prefix}floor:${req.socket.remotePort ?? 0}`;
    type Loaded = StoredRecord | string | null;
    const loaded = (req: Request) => (req as unknown as { floor: Loaded }).floor;
    // Both read the connection's key in a middleware, before the handler runs.
    const loadWith = (get: (k: string) => Promise<Loaded>) =>
      app.use((req, _res, next) => {
        get(key(req)).then((v) => {
          (req as unknown as { floor: Loaded }).floor = v;
          next();
        }, next);
      });
    if (variant === 'floor-redis') {
      const client = createClient({ url: REDIS_URL });
      client.on('error', (err: unknown) => console.error('floor redis client:', err));
      await client.connect();
      closers.push(() => client.close());
      loadWith((k) => client.get(k));
      app.get('/hit', async (req, res) => {
        res.json({ hits: stats.hit(await client.incr(key(req))) });
      });
      app.get('/read', (req, res) => void res.json({ hits: stats.read(Number(loaded(req) ?? 0)) }));
    } else {
      const store = await createStore({ type: 'redis', url: REDIS_URL, prefix });
      closers.push(() => store.close());
      loadWith((k) => store.get(k));
      app.get('/hit', async (req, res) => {
        const k = key(req);
        let cur = loaded(req) as StoredRecord | null;
        for (;;) {
          const n = (cur ? (JSON.parse(cur.value) as { hits: number }).hits : 0) + 1;
          const value = JSON.stringify({ hits: n });
          const r = cur
            ? await store.update(k, value, { ifVersion: cur.version, ttl: 1_800_000 })
            : await store.create(k, value, { ttl: 1_800_000 });
          if (r.ok) return void res.json({ hits: stats.hit(n) });
          cur = await store.get(k);
        }
      });
      app.get('/read', (req, res) => {
        const cur = loaded(req) as StoredRecord | null;
        res.json({ hits: stats.read(cur ? (JSON.parse(cur.value) as { hits: number }).hits : undefined) });
      });
    }
  } else if (variant.startsWith('stateline-')) {
    const [strategy, extra] = variant.slice('stateline-'.length).split('-') as [SessionStrategy, string?];
    const sessions = await statelineSessions(
      strategy,
      prefix,
      extra === 'zip' ? { compress: true } : extra === 'migrate' ? { migrate: migrateReaders(prefix) } : {},
    );
    closers.push(() => sessions.close());
    app.use(session(sessions));
    app.get('/hit', async (req, res) => {
      const s = sl(req);
      if (items > 0 && s.get('cart') === undefined) s.set('cart', cartOf(items));
      res.json({ hits: stats.hit(await s.update<number>('hits', (n = 0) => n + 1)) });
    });
    app.get('/read', (req, res) => void res.json({ hits: stats.read(sl(req).get<number>('hits')) }));
    app.use(problemHandler());
  } else if (variant === 'express-session' || variant === 'connect-memcached') {
    let store: unknown;
    if (variant === 'connect-memcached') {
      // connect-memcached README set-up: hosts and a prefix; the session options as for Redis.
      const MemcachedStore = connectMemcached(expressSession);
      const s = new MemcachedStore({ hosts: [memcachedServer()], prefix });
      closers.push(async () => s.client.end());
      store = s;
    } else {
      const client = createClient({ url: REDIS_URL });
      client.on('error', (err: unknown) => console.error('express-session redis client:', err));
      await client.connect();
      closers.push(() => client.close());
      store = new RedisStore({ client, prefix });
    }
    // connect-redis README set-up: resave false, saveUninitialized false (touch keeps the TTL sliding).
    app.use(
      expressSession({
        store,
        secret: BENCH_SECRET,
        name: 'sid',
        resave: false,
        saveUninitialized: false,
        cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: 30 * 60 * 1000 },
      }),
    );
    app.get('/hit', (req, res) => {
      const s = es(req);
      if (items > 0) s.cart ??= cartOf(items);
      s.hits = (s.hits ?? 0) + 1;
      res.json({ hits: stats.hit(s.hits) });
    });
    app.get('/read', (req, res) => void res.json({ hits: stats.read(es(req).hits) }));
  } else if (variant === 'iron-session') {
    const options = {
      password: BENCH_SECRET,
      cookieName: 'sid',
      cookieOptions: { secure: false, sameSite: 'lax' as const },
    };
    app.get('/hit', async (req, res) => {
      const s = await getIronSession<{ hits?: number; cart?: unknown }>(req, res, options);
      if (items > 0) s.cart ??= cartOf(items);
      s.hits = (s.hits ?? 0) + 1;
      await s.save();
      res.json({ hits: stats.hit(s.hits) });
    });
    app.get('/read', async (req, res) => {
      const s = await getIronSession<{ hits?: number }>(req, res, options);
      res.json({ hits: stats.read(s.hits) });
    });
  } else {
    throw new Error(`no express row named ${row}`);
  }

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  return {
    port: portOf(server),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const close of closers) await close();
    },
  };
}
