import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { createBus, type Bus } from 'stateline/bus';
import { createCsrf, csrfError } from 'stateline/csrf';
import { StatelineError } from 'stateline/errors';
import { csrfRequest, withSession } from 'stateline/node';
import type { Hub } from 'stateline/realtime';
import { fromStateline } from 'stateline/migrate';
import { createSessions, type SessionManager, type SessionOptions } from 'stateline/session';
import { createStore, NearCacheStore, type Store } from 'stateline/store';
import { bearerProblem, createTokens, jwksHandler } from 'stateline/tokens';
import { authRoutes } from './auth-routes.js';
import { checkDeclaredLength } from './body.js';
import { cartRoutes } from './cart-routes.js';
import { clientReader } from './client-address.js';
import { getProduct, listProducts } from './catalog.js';
import { createChat, upgradeChat } from './chat.js';
import { dropRoutes } from './drop.js';
import { listRoutes } from './shared-list.js';
import { ENTITY_PREFIX, openShopEntities } from './shop-entities.js';
import { readConfig, type ShopConfig } from './config.js';
import type { SessionRequest, ShopContext } from './context.js';
import { sendError, ShopError } from './http-error.js';
import { SL_ERR_METHOD_NOT_ALLOWED, SL_ERR_NOT_FOUND } from 'stateline/http';
import { createLogger } from './logger.js';
import { bearerToken } from './bearer.js';
import { FamilySession } from './family-session.js';
import { LoginLimit } from './login-limit.js';
import { ShopMetrics } from './metrics.js';
import { failoverNotice, hasSessionCookie, rememberReroute, reroutedFrom, tell } from './failover.js';
import { orderRoutes } from './orders.js';
import { viewedRoutes } from './recently-viewed.js';
import { Router, type Params } from './router.js';
import { sessionRoutes } from './session-routes.js';
import { serveStatic } from './static-files.js';
import { TokenReplay } from './token-replay.js';
import { tokenKeyFromSeed } from './token-keys.js';
import { tokenRoutes, type ShopScope } from './token-routes.js';
import { seedUsers } from './users.js';

/** One shop instance, ready to hand to `runInstance`. */
export interface Shop {
  handler(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Starts what needs the instance's own URL (forwarded entity calls); call once it listens. */
  listening(url: string): Promise<void>;
  /** True while the Store answers and the Bus is connected. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A route: plain (no session is loaded: stateless, cacheable) or run inside the session
 * middleware. `bearer`: the route also takes `Authorization: Bearer` (then with the token family's
 * state as its session), needing this scope (null: any valid token).
 */
interface Entry {
  session: boolean;
  bearer?: { scope: ShopScope | null };
  run: (req: IncomingMessage, res: ServerResponse, params: Params) => unknown;
}

/** Access and refresh token lifetimes, and the audience the shop's tokens are for. */
const TOKEN_ACCESS_TTL = '10m';
const TOKEN_REFRESH_TTL = '30d';
const TOKEN_REFRESH_TTL_MS = 30 * 24 * 3600_000;
const TOKEN_AUDIENCE = 'shop-api';
const REQUEST_ID = /^[\w.:-]{1,64}$/;
const PROBLEM = 'application/problem+json';

function plain(run: Entry['run']): Entry {
  return { session: false, run };
}
function withS(
  run: (req: SessionRequest, res: ServerResponse, params: Params) => unknown,
  scope?: ShopScope | null,
): Entry {
  const entry: Entry = { session: true, run: run as Entry['run'] };
  if (scope !== undefined) entry.bearer = { scope };
  return entry;
}

/** The problem code of a response body about to be sent, for logs and metrics. */
function problemCode(res: ServerResponse, chunk: unknown): string | undefined {
  if (!String(res.getHeader('content-type') ?? '').startsWith(PROBLEM)) return undefined;
  if (!(typeof chunk === 'string' || chunk instanceof Uint8Array) || chunk.length > 4096) return undefined;
  try {
    const code = (JSON.parse(Buffer.from(chunk).toString('utf8')) as { code?: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

async function open(config: ShopConfig, metrics: ShopMetrics): Promise<{ store: Store; bus: Bus }> {
  const store = metrics.stateline.store(await createStore(config.storeSpec));
  try {
    const bus = metrics.stateline.bus(await createBus(config.busSpec));
    return { store, bus };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * Creates one instance of the reference shop from the environment (`STATELINE_STRATEGY`,
 * `STATELINE_STORE`, `STATELINE_SESSION_STORE`, `STATELINE_BUS`, `STATELINE_REPLICATION`,
 * `STATELINE_SESSION_KEYS`, `STATELINE_MIGRATE_FROM`,
 * `STATELINE_DEMO_PASSWORD`, `STATELINE_SHOP_USERS`, `LOG_LEVEL`): demo users seeded, sessions,
 * idempotent checkout, chat hub, metrics and request logs. See docs/shop.md.
 *
 * @example
 * ```ts
 * const shop = await createShop({ STATELINE_STRATEGY: 'server', STATELINE_STORE: 'sqlite:shop.db' });
 * const instance = await runInstance(shop.handler, { ready: shop.ready, close: shop.close });
 * instance.server.on('upgrade', shop.upgrade);
 * await shop.listening(instance.url);
 * ```
 */
export async function createShop(env: NodeJS.ProcessEnv = process.env): Promise<Shop> {
  const config = readConfig(env);
  const log = createLogger(config.instance, config.logLevel);
  let sessions: SessionManager | undefined;
  let hub: Hub | undefined;
  const metrics = await ShopMetrics.create();

  const { store, bus } = await open(config, metrics);
  let busUp = true;
  bus.onConnectionChange((up) => (busUp = up));
  const closers: (() => Promise<void>)[] = [() => bus.close(), () => store.close()];
  const closeAll = async () => {
    for (const c of closers.splice(0)) await c().catch((err: unknown) => log.warn({ err }, 'close failed'));
  };
  try {
    const offset = Number(/\d+/.exec(config.instance)?.[0] ?? 0) * 7919;
    await seedUsers(store, { password: config.demoPassword, extra: config.extraUsers, offset });

    // Sessions may live apart from users and orders (a cache such as memcached beside a database).
    let sessionStore = store;
    if (config.sessionStoreSpec) {
      const own = metrics.stateline.store(await createStore(config.sessionStoreSpec));
      closers.push(() => own.close());
      sessionStore = own;
    }
    // Hybrid instances near-cache the same records while a switch between server and hybrid runs:
    // a server instance then writes through a cache of nothing, which tells them of every change.
    const previous = config.migrateFrom;
    if (config.strategy === 'server' && previous?.strategy === 'hybrid') {
      const invalidating = await NearCacheStore.open(sessionStore, bus, { size: 0 });
      closers.unshift(() => invalidating.close());
      sessionStore = invalidating;
    }
    const sessionOptions: SessionOptions = {
      strategy: config.strategy,
      store: sessionStore,
      bus,
      keys: config.sessionKeys,
      logger: log,
    };
    // Passed only when asked for, so the option is never sent where it means nothing.
    if (config.replication !== 'off') sessionOptions.replication = config.replication;
    // A token carries the whole session: "recently viewed" (100 views, ~2.8 KB of JSON) fits the
    // 4 KB cookie only deflated. Safe here: the session holds catalogue ids, times, quantities and
    // the user id, no secret next to what a client chooses (docs/sessions.md, compression oracle).
    if (config.strategy === 'token') sessionOptions.compress = true;
    if (config.replication !== 'off') sessionOptions.instanceId = config.instance;
    // During a rolling switch instances come and go under load: wait longer for a peer's copy.
    if (config.replication !== 'off' && previous) sessionOptions.replicationTimeout = '2s';
    // A rolling switch of strategy: cookies of the previous configuration are taken over.
    if (previous) {
      sessionOptions.migrate = [
        fromStateline({
          strategy: previous.strategy,
          keys: config.sessionKeys,
          store,
          bus,
          instanceId: `${config.instance}.migrate`,
          // Generous: a busy instance of the previous configuration may be slow to hand a record over.
          replicationTimeout: '2s',
          ...(previous.replication !== 'off' ? { replication: previous.replication } : {}),
        }),
      ];
    }
    sessions = await createSessions(sessionOptions);
    closers.unshift(() => sessions!.close());
    metrics.stateline.watch({ sessions });
    const entities = await openShopEntities({
      config,
      store,
      bus,
      hub: () => hub,
      onError: (err) => log.warn({ err }, 'entities'),
    });
    closers.unshift(() => entities.close());
    hub = await createChat({
      rooms: (name) => entities.room(name),
      bus,
      sessions,
      storeSpec: config.storeSpec,
      busSpec: config.busSpec,
      instance: config.instance,
      logger: log,
    });
    closers.unshift(() => hub!.close());
    metrics.stateline.watch({ realtime: hub });
    const bearerTokens = await createTokens({
      keys: config.tokenKeySeeds.map(tokenKeyFromSeed),
      sessions,
      accessTtl: TOKEN_ACCESS_TTL,
      refreshTtl: TOKEN_REFRESH_TTL,
      issuer: config.tokenIssuer,
      audience: TOKEN_AUDIENCE,
      logger: { warn: (message, details) => log.warn(details ?? {}, message) },
    });
    closers.unshift(() => bearerTokens.close());
    metrics.stateline.watch({ tokens: bearerTokens });

    const ctx: ShopContext = {
      config,
      store,
      sessions,
      tokens: bearerTokens,
      limit: new LoginLimit(store),
      log,
      client: clientReader(config.trustedProxies, config.gatewaySecret),
    };
    // Unsafe API requests: JSON bodies only, from the shop's own origin (docs/csrf.md).
    const csrf = config.csrf
      ? createCsrf({ trustedProxies: config.trustedProxies, allowedOrigins: config.allowedOrigins })
      : undefined;
    const auth = authRoutes(ctx);
    const cart = cartRoutes(ctx);
    closers.unshift(() => cart.close());
    const mySessions = sessionRoutes(ctx);
    const apiTokens = tokenRoutes(ctx, new TokenReplay(store, config.tokenKeySeeds[0]!));
    const jwks = jwksHandler(bearerTokens);
    const orders = orderRoutes(ctx);
    closers.unshift(() => orders.close());
    metrics.stateline.watch({ idempotency: orders });
    const drops = dropRoutes(ctx, entities.get);
    const lists = listRoutes(entities.get);
    const viewed = viewedRoutes();
    const router = new Router<Entry>()
      .on(
        'GET',
        '/metrics',
        plain(async (_req, res) => {
          const text = await metrics.registry.metrics();
          res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
          res.end(text);
        }),
      )
      .on('GET', '/.well-known/jwks.json', plain(jwks))
      .on('GET', '/api/products', plain(listProducts))
      .on('GET', '/api/products/:id', plain(getProduct))
      .on('GET', '/api/whoami', withS(auth.whoami, null))
      .on('POST', '/api/login', withS(auth.login))
      .on('POST', '/api/logout', withS(auth.logout, null))
      .on('POST', '/api/logout-all', withS(auth.logoutAll, 'sessions'))
      .on('POST', '/api/tokens', plain(apiTokens.issue))
      .on('POST', '/api/tokens/refresh', plain(apiTokens.refresh))
      .on('DELETE', '/api/tokens/:handle', withS(apiTokens.revoke, 'sessions'))
      .on('GET', '/api/sessions', withS(mySessions.list, 'sessions'))
      .on('DELETE', '/api/sessions/:handle', withS(mySessions.revoke, 'sessions'))
      .on('GET', '/api/cart', withS(cart.get, 'cart'))
      .on('POST', '/api/cart/items', withS(cart.add, 'cart'))
      .on('DELETE', '/api/cart/items/:productId', withS(cart.remove, 'cart'))
      .on('GET', '/api/viewed', withS(viewed.list, null))
      .on('POST', '/api/viewed', withS(viewed.add, null))
      .on('DELETE', '/api/viewed', withS(viewed.clear, null))
      .on('GET', '/api/orders', withS(orders.list, 'orders:read'))
      .on('POST', '/api/orders', withS(orders.create, 'orders:write'))
      .on('GET', '/api/drops', plain(drops.list))
      .on('GET', '/api/drop/:sku', plain(drops.get))
      .on('POST', '/api/drop/:sku/buy', withS(drops.buy, null))
      .on('GET', '/api/lists/:id', withS(lists.get, null))
      .on('POST', '/api/lists/:id/items', withS(lists.add, null))
      .on('POST', '/api/lists/:id/items/:itemId/toggle', withS(lists.toggle, null))
      .on('DELETE', '/api/lists/:id/items/:itemId', withS(lists.remove, null));

    /** A bearer request: the token verified (no Store round trip), its family's state as the session. */
    const asBearer = async (
      scope: ShopScope | null,
      token: string,
      run: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
      req: IncomingMessage,
      res: ServerResponse,
    ): Promise<void> => {
      let auth;
      try {
        auth = await bearerTokens.verify(token, scope ? { scopes: [scope] } : {});
      } catch (err) {
        const p = bearerProblem(err, { realm: 'shop', scopes: scope ? [scope] : undefined });
        if (p.status >= 500) log.error({ err }, 'bearer check failed');
        res.writeHead(p.status, { ...p.headers, 'content-length': String(Buffer.byteLength(p.body)) });
        return void res.end(p.body);
      }
      const { userId, sid } = auth;
      const session = await FamilySession.open(store, {
        userId,
        sid,
        handle: sid,
        ttl: TOKEN_REFRESH_TTL_MS,
        revoke: async () => void (await sessions!.revoke(sid, { userId })),
      });
      (req as SessionRequest).session = session;
      await run(req, res);
      // Only set()/delete() wait for this; update() and destroy() wrote at once.
      await session.commit();
    };

    /** Runs a route and turns what it throws into a problem (a 500 is logged, never shown). */
    const guarded =
      (entry: Entry, params: Params, reqId: string) =>
      async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
        try {
          await entry.run(req, res, params);
        } catch (err) {
          if (!(err instanceof StatelineError) || err.status >= 500)
            log.error({ err, reqId }, 'request failed');
          sendError(res, err);
        }
      };

    /** Answers a request; `label` learns the route pattern as soon as it is known (metrics, logs). */
    const dispatch = async (
      req: IncomingMessage,
      res: ServerResponse,
      reqId: string,
      label: (route: string) => void,
    ): Promise<void> => {
      const path = (req.url ?? '/').split('?', 1)[0]!;
      const method = req.method ?? 'GET';
      if (entities.forwarded(req, res)) return label(ENTITY_PREFIX);
      const m = router.match(method, path);
      if (m.kind !== 'none') label(m.pattern);
      if (m.kind === 'route') {
        // A declared body over the limit gets its 413 before the session (and the Store) is touched.
        try {
          checkDeclaredLength(req);
        } catch (err) {
          return sendError(res, err);
        }
        // A bearer token is no ambient credential: no CSRF check, no cookie session.
        const token = m.entry.bearer ? bearerToken(req) : undefined;
        if (m.entry.bearer && token !== undefined)
          return asBearer(m.entry.bearer.scope, token, guarded(m.entry, m.params, reqId), req, res);
        const verdict = csrf?.check(csrfRequest(req));
        if (verdict && !verdict.ok) return sendError(res, csrfError(verdict.reason));
        const run = guarded(m.entry, m.params, reqId);
        if (m.entry.session) {
          const rerouted = reroutedFrom(req.headers, config.instance);
          const hadCookie = rerouted !== undefined && hasSessionCookie(req.headers);
          const fetchedBefore = sessions!.metrics.replicasFetched;
          // The session is committed before the response leaves (its Set-Cookie on it).
          await withSession(sessions!, (r: SessionRequest, s: ServerResponse) => {
            if (rerouted) {
              const notice = failoverNotice({
                from: rerouted.from,
                config,
                session: r.session,
                hadCookie,
                fetchedBefore,
                metrics: sessions!.metrics,
              });
              tell(r, s, notice, rerouted.viaCookie);
            }
            return run(r, s);
          })(req, res);
        } else await run(req, res);
        return;
      }
      if (m.kind === 'method')
        return sendError(
          res,
          new ShopError(SL_ERR_METHOD_NOT_ALLOWED, `${method} ${m.pattern}`, { allow: m.allow.join(', ') }),
        );
      if (path === '/api' || path.startsWith('/api/') || path === '/ws')
        return sendError(res, new ShopError(SL_ERR_NOT_FOUND, `no route ${method} ${path.slice(0, 200)}`));
      if (method !== 'GET' && method !== 'HEAD') {
        label('/*');
        return sendError(
          res,
          new ShopError(SL_ERR_METHOD_NOT_ALLOWED, 'pages are GET only', { allow: 'GET, HEAD' }),
        );
      }
      label(path.startsWith('/assets/') ? '/assets/*' : path === '/' || path === '/index.html' ? '/' : '/*');
      rememberReroute(req, res, config.instance);
      try {
        await serveStatic(req, res, path);
      } catch (err) {
        sendError(res, err);
      }
    };

    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      const started = performance.now();
      const given = req.headers['x-request-id'];
      const reqId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader('x-request-id', reqId);
      let route = 'unmatched';
      let code: string | undefined;
      // Outermost wrapper: sees the final body chunk (problems are small) after every other layer.
      const end = res.end;
      res.end = function (this: ServerResponse, ...args: unknown[]) {
        code ??= problemCode(this, args[0]);
        return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['end'];
      res.once('close', () => {
        const method = req.method ?? 'GET';
        const status = res.statusCode;
        const ms = performance.now() - started;
        metrics.request(method, route, status, ms / 1000);
        const line = { reqId, method, route, status, ms: Math.round(ms * 10) / 10 };
        if (!res.writableFinished) log.info({ ...line, aborted: true }, 'request');
        else log.info(code ? { ...line, code } : line, 'request');
      });
      dispatch(req, res, reqId, (r) => (route = r)).catch((err: unknown) => {
        log.error({ err, reqId }, 'request failed');
        sendError(res, err);
      });
    };

    return {
      handler,
      upgrade: (req, socket, head) => upgradeChat(hub!, req, socket, head),
      listening: (url) => entities.listening(url),
      async ready() {
        if (!busUp) return false;
        await store.get('shop:ready');
        return true;
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
