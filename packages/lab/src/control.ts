import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InstanceCounts } from '@stateline/gateway';
import { isStatelineError } from 'stateline/errors';
import { problem, problemFor, SL_ERR_NOT_FOUND, type ProblemResponse } from 'stateline/http';
import type { ClusterHistory } from './cluster-history.js';
import type { ClusterStatus, InstanceState } from './cluster-status.js';
import { SL_ERR_FORBIDDEN, SL_ERR_UNAUTHORIZED } from './errors.js';
import { dashboardPage } from './dashboard-page.js';
import type { Supervisor } from './supervisor.js';

export type { ClusterStatus };

/** What the gateway knows about one instance (a subset of `gw.instances()`). */
export interface GatewayInstanceView {
  id: string;
  state: InstanceState;
  inflight: number;
  served: number;
  /** Failed attempts on it (connection errors, timeouts, 502/503 answers). */
  errors?: number;
  /** Requests that failed on it and were retried on another instance. */
  retries?: number;
  /** WebSocket connections routed to it now. */
  websockets?: number;
}

export interface ControlOptions {
  supervisor: Supervisor;
  /** The gateway's view of its instances. */
  gatewayInstances: () => readonly GatewayInstanceView[];
  /**
   * Served, errors and retries per id over every process of it, also one that was removed
   * (the gateway's `counts`); default: the current process's, zero when it has none.
   */
  counts?: (id: string) => InstanceCounts | undefined;
  balance: string;
  strategy: string;
  /** As shown (credentials redacted). */
  store: string;
  /** When set, every control request needs `Authorization: Bearer <token>`; otherwise only loopback clients. */
  adminToken?: string | undefined;
  /** Samples and events kept for a dashboard opened late (`GET /_stateline/history`). */
  history?: Pick<ClusterHistory, 'snapshot' | 'recentEvents'> | undefined;
}

/** The path prefix the control API owns on the gateway. */
export const CONTROL_PREFIX = '/_stateline/';

const ACTIONS = ['kill', 'stop', 'start'] as const;
/** Longest wait after a start for the gateway's first health check of the new process. */
const START_ROUTED_WAIT = 5000;
type Action = (typeof ACTIONS)[number];

function send(res: ServerResponse, p: ProblemResponse): void {
  res.writeHead(p.status, { ...p.headers, 'content-length': String(Buffer.byteLength(p.body)) });
  res.end(p.body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** True for 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Constant-time comparison of the bearer token (hashed first, so lengths leak nothing either). */
function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(m[1]!), h(token));
}

/**
 * The status document: the supervisor's instances (ids, pids, process state) joined with the
 * gateway's routing view (inflight, served, and a health-check verdict while the process lives).
 *
 * @example
 * ```ts
 * const s = clusterStatus(options); // { balance, strategy, store, instances: [{ id: 'i1', state: 'up', … }] }
 * ```
 */
export function clusterStatus(o: ControlOptions): ClusterStatus {
  const routed = new Map(o.gatewayInstances().map((g) => [g.id, g]));
  return {
    time: Date.now(),
    balance: o.balance,
    strategy: o.strategy,
    store: o.store,
    instances: o.supervisor.instances().map((s) => {
      const g = routed.get(s.id);
      // A live process is as the gateway sees it (it may have failed health checks); otherwise the supervisor knows best.
      const state = s.state === 'up' && g ? g.state : s.state;
      const counts = o.counts?.(s.id) ?? {
        served: g?.served ?? 0,
        errors: g?.errors ?? 0,
        retries: g?.retries ?? 0,
      };
      return {
        id: s.id,
        state,
        pid: s.pid,
        inflight: g?.inflight ?? 0,
        served: counts.served,
        errors: counts.errors,
        retries: counts.retries,
        websockets: g?.websockets ?? 0,
        url: s.url,
        restarts: s.restarts,
      };
    }),
    events: o.history?.recentEvents() ?? [],
  };
}

/**
 * The control API's access rule, shared by every gateway route it guards (`/_stateline/…`,
 * `/metrics`): with `adminToken`, `Authorization: Bearer <token>` (else 401 `SL_ERR_UNAUTHORIZED`);
 * without one, loopback clients only (else 403 `SL_ERR_FORBIDDEN`). Answers the refusal itself and
 * returns false; returns true when the request may go on.
 *
 * @example
 * ```ts
 * if (!authorize(req, res, options.adminToken)) return; // already answered 401 or 403
 * ```
 */
export function authorize(
  req: IncomingMessage,
  res: ServerResponse,
  adminToken: string | undefined,
): boolean {
  if (adminToken !== undefined) {
    if (tokenMatches(req.headers.authorization, adminToken)) return true;
    send(res, problem(SL_ERR_UNAUTHORIZED, undefined, { 'www-authenticate': 'Bearer realm="stateline"' }));
    return false;
  }
  if (isLoopback(req.socket.remoteAddress)) return true;
  send(res, problem(SL_ERR_FORBIDDEN, 'start stateline up with --admin-token to allow other hosts'));
  return false;
}

/**
 * The control API of `stateline up`, a front handler for its gateway (see `Gateway.use`): answers
 * requests under `/_stateline/` and returns false for every other request, so the gateway proxies it.
 *
 * - `GET /_stateline/` → the dashboard (an HTML page that polls the status and posts the actions)
 * - `GET /_stateline/status` → {@link ClusterStatus}
 * - `GET /_stateline/history` → the last 60 s of counts and process events (`ClusterHistoryDoc`)
 * - `POST /_stateline/instances/<id>/kill` (SIGKILL), `/stop` (graceful drain), `/start`
 *   → `{ instance }` once done.
 *
 * Every route follows {@link authorize}. One exception: with `adminToken` the dashboard page itself
 * (static HTML, no data in it) is served without the token, since a browser cannot send a bearer
 * header when it opens a page; the page asks for the token and sends it with each of its requests.
 * Unknown routes and instances are 404 `SL_ERR_NOT_FOUND`.
 *
 * @example
 * ```ts
 * const gw = createGateway({ balance: 'round-robin' });
 * gw.use(createControl({ supervisor, gatewayInstances: () => gw.instances(), balance: 'round-robin', strategy: 'server', store: 'sqlite:state.db' }));
 * ```
 */
export function createControl(o: ControlOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0]!;
    if (!path.startsWith(CONTROL_PREFIX)) return false;
    const method = req.method ?? 'GET';
    const rest = path.slice(CONTROL_PREFIX.length);
    const read = method === 'GET' || method === 'HEAD';
    if (rest === '' && read && o.adminToken !== undefined) {
      sendPage(res, method === 'HEAD', true);
      return true;
    }
    if (!authorize(req, res, o.adminToken)) return true;
    if (rest === '' && read) {
      sendPage(res, method === 'HEAD', false);
      return true;
    }
    if (rest === 'status' && read) {
      sendJson(res, 200, clusterStatus(o));
      return true;
    }
    if (rest === 'history' && read) {
      sendJson(res, 200, o.history?.snapshot() ?? { samples: [], events: [] });
      return true;
    }
    const m = /^instances\/([^/]+)\/([^/]+)$/.exec(rest);
    if (m && method === 'POST' && (ACTIONS as readonly string[]).includes(m[2]!)) {
      let id: string;
      try {
        id = decodeURIComponent(m[1]!);
      } catch {
        send(res, problem(SL_ERR_NOT_FOUND, `no instance "${m[1]}"`));
        return true;
      }
      void act(o, id, m[2] as Action).then(
        (instance) => sendJson(res, 200, { instance }),
        (err: unknown) => {
          if (!isStatelineError(err)) console.error('stateline control:', err);
          send(res, problemFor(err));
        },
      );
      return true;
    }
    send(res, problem(SL_ERR_NOT_FOUND, `no control route ${method} ${path}`));
    return true;
  };
}

function sendPage(res: ServerResponse, head: boolean, needsToken: boolean): void {
  const page = dashboardPage(needsToken);
  res.writeHead(200, { ...page.headers, 'content-length': String(Buffer.byteLength(page.body)) });
  res.end(head ? undefined : page.body);
}

async function act(o: ControlOptions, id: string, action: Action) {
  if (!o.supervisor.instance(id)) throw new SL_ERR_NOT_FOUND(`no instance "${id}"`);
  if (action === 'kill') await o.supervisor.kill(id);
  else if (action === 'stop') await o.supervisor.stop(id);
  else {
    await o.supervisor.startInstance(id);
    // Answer once the gateway routes to it (its first health check passed), or say where it is.
    const until = Date.now() + START_ROUTED_WAIT;
    const routed = () => o.gatewayInstances().find((g) => g.id === id)?.state !== 'starting';
    while (!routed() && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  }
  return clusterStatus(o).instances.find((i) => i.id === id);
}
