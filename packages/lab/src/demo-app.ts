import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBus, type Bus } from 'stateline/bus';
import { failStartup, INSTANCE_ENV, isMainModule, runInstance } from 'stateline/instance';
import {
  requestContext,
  withIdempotency,
  withSession,
  type IdempotentRequest,
  type SessionIncomingMessage,
} from 'stateline/node';
import { createSessions, type SessionOptions, type SessionStrategy } from 'stateline/session';
import { createStore, redactSpec, type Store } from 'stateline/store';

/** The demo app, ready to hand to {@link runInstance}. */
export interface DemoApp {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** True while the Store answers and the Bus is connected. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

const MAX_WORK = 5000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A requested amount of simulated work in ms, 0 to {@link MAX_WORK}. */
function workMs(value: unknown): number {
  const n = Number(value ?? 0);
  return Number.isFinite(n) ? Math.min(Math.max(0, Math.floor(n)), MAX_WORK) : 0;
}

const STRATEGIES: readonly SessionStrategy[] = ['server', 'token', 'memory', 'hybrid'];
const ORDERS = 'lab:orders';
/** Keys whose handler ran again after a crash and found the order already made. */
const RECOVERED = 'lab:orders:recovered';

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 64 * 1024) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function parseBody(body: Buffer | undefined): Record<string, unknown> {
  if (!body || body.length === 0) return {};
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The default app of `stateline up` until the reference shop exists: Stateline sessions (strategy,
 * Store and Bus from `STATELINE_*`) and the Idempotency-Key middleware on node:http.
 *
 * Routes: `GET /api/whoami`, `GET|POST /api/counter` (a session counter), `POST /api/login`
 * (`{"user":"alice"}`), `POST /api/logout`, `POST /api/orders` (needs `Idempotency-Key`),
 * `GET /api/orders/count` (`{ count, distinctKeys, recovered }`: the first two are equal unless an
 * order was made twice; `recovered` counts handlers re-run after a crash that found their order),
 * `GET /api/work?ms=N` (answers after N ms, at most 5 s: something in flight to kill). An order's
 * body may ask for `"work": N` ms of processing after the order is written, for the same reason.
 *
 * An order is written under its (scope, key) with insert-if-absent before anything else, so a
 * handler re-run after its instance died between writing the order and saving the idempotent
 * outcome finds the order it already made instead of making a second one.
 *
 * @example
 * ```ts
 * const app = await createDemoApp({ STATELINE_STRATEGY: 'server', STATELINE_STORE: 'sqlite:state.db', STATELINE_SESSION_KEYS: key });
 * await runInstance(app.handler, { ready: app.ready, close: app.close });
 * ```
 */
export async function createDemoApp(env: NodeJS.ProcessEnv = process.env): Promise<DemoApp> {
  const instance = env[INSTANCE_ENV.id] ?? `pid-${process.pid}`;
  const strategy = (env[INSTANCE_ENV.strategy] || 'server') as SessionStrategy;
  if (!STRATEGIES.includes(strategy))
    throw new Error(`${INSTANCE_ENV.strategy} must be one of ${STRATEGIES.join(', ')} (got ${strategy})`);
  const storeSpec = env[INSTANCE_ENV.store] || 'sqlite:.stateline/state.db';
  const busSpec = env[INSTANCE_ENV.bus] || (process.connected ? 'ipc:' : 'memory:');
  const replication = env[INSTANCE_ENV.replication] || 'off';
  let keys = (env[INSTANCE_ENV.sessionKeys] ?? '').split(',').filter(Boolean);
  if (keys.length === 0) {
    // Alone, a random key is fine; in a cluster the supervisor hands every instance the same one.
    keys = [randomBytes(32).toString('base64url')];
  }

  const store: Store = await createStore(storeSpec);
  let bus: Bus;
  try {
    bus = await createBus(busSpec);
  } catch (err) {
    await store.close();
    throw err;
  }
  let busUp = true;
  bus.onConnectionChange((up) => (busUp = up));

  const sessionOptions: SessionOptions = { strategy, store, bus, keys };
  // Passed only when asked for, so the option is never sent where it means nothing.
  if (replication !== 'off') Object.assign(sessionOptions, { replication });
  const sessions = await createSessions(sessionOptions);

  /** The idempotency scope of each order request, for the handler's own key. */
  const scopes = new WeakMap<IncomingMessage, string>();
  const routes = async (req: SessionIncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const route = `${req.method} ${path}`;
    const s = req.session;
    switch (route) {
      case 'GET /':
        return json(res, 200, {
          app: 'stateline demo',
          instance,
          routes: [
            'GET /api/whoami',
            'GET /api/counter',
            'POST /api/counter',
            'POST /api/login',
            'POST /api/logout',
            'POST /api/orders',
            'GET /api/orders/count',
            'GET /api/work?ms=100',
          ],
        });
      case 'GET /api/whoami':
        return json(res, 200, {
          instance,
          strategy,
          store: redactSpec(storeSpec),
          bus: redactSpec(busSpec),
          replication,
          user: s.userId,
        });
      case 'GET /api/work': {
        const ms = workMs(new URL(req.url ?? '/', 'http://x').searchParams.get('ms'));
        await sleep(ms);
        return json(res, 200, { worked: ms, instance });
      }
      case 'GET /api/counter':
        return json(res, 200, { counter: s.get<number>('counter') ?? 0, instance });
      case 'POST /api/counter': {
        const counter = await s.update<number>('counter', (v = 0) => v + 1);
        return json(res, 200, { counter, instance });
      }
      case 'POST /api/login': {
        const user = parseBody(await readBody(req)).user;
        if (typeof user !== 'string' || user === '' || user.length > 64)
          return json(res, 400, { error: 'send {"user": "<name>"}' });
        await s.login(user);
        return json(res, 200, { user, instance });
      }
      case 'POST /api/logout':
        await s.destroy();
        return json(res, 200, { user: null, instance });
      case 'GET /api/orders/count': {
        const members = await store.indexMembers(ORDERS);
        const owners = new Set(members.map((m) => m.member.slice(m.member.indexOf('|') + 1)));
        const recovered = (await store.indexMembers(RECOVERED)).length;
        return json(res, 200, { count: members.length, distinctKeys: owners.size, recovered, instance });
      }
      default:
        return json(res, 404, { error: `no route ${route}` });
    }
  };

  /** `POST /api/orders`, inside the idempotency middleware (which read the body and found the scope). */
  const order = async (req: IdempotentRequest, res: ServerResponse): Promise<void> => {
    const body = parseBody(req.body);
    const owner = `${scopes.get(req)}|${String(req.headers['idempotency-key'])}`;
    let id: string = randomUUID();
    const made = await store.create(`lab:order-by-key:${owner}`, id);
    if (!made.ok) {
      // This key's handler ran before on an instance that died before saving its outcome.
      const prior = await store.get(`lab:order-by-key:${owner}`);
      if (prior) id = prior.value;
      await store.indexAdd(RECOVERED, owner, null);
    }
    await store.indexAdd(ORDERS, `${id}|${owner}`, null);
    // Simulated processing after the effect and before the answer: the window a crash is worst in.
    await sleep(workMs(body.work));
    json(res, 201, {
      order: {
        id,
        item: typeof body.item === 'string' ? body.item : 'demo',
        qty: typeof body.qty === 'number' ? body.qty : 1,
        instance,
      },
    });
  };

  const orders = withIdempotency(
    {
      store,
      required: true,
      // A dead instance's reservation must free up quickly: demo handlers take milliseconds.
      lockTimeout: '5s',
      // Whose key it is: the user, else the session the client holds, else its address. The
      // session is only read here (orders do not change it), so no commit is involved.
      scope: async (req) => {
        const s = await sessions.load(requestContext(req));
        const scope = s.userId
          ? `u:${s.userId}`
          : s.handle
            ? `s:${s.handle}`
            : `a:${req.socket.remoteAddress}`;
        scopes.set(req, scope);
        return scope;
      },
    },
    (req, res) => order(req, res),
  );
  const withSessions = withSession(sessions, routes);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'POST' && (req.url ?? '').split('?', 1)[0] === '/api/orders') orders(req, res);
    else void withSessions(req, res);
  };

  return {
    handler,
    async ready() {
      if (!busUp) return false;
      await store.get('lab:ready');
      return true;
    },
    async close() {
      await sessions.close();
      await orders.close();
      await bus.close();
      await store.close();
    },
  };
}

if (isMainModule(import.meta.url)) {
  const app = await createDemoApp().catch(failStartup);
  await runInstance(app.handler, { ready: app.ready, close: app.close });
}
