import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StatelineError, isStatelineError } from 'stateline/errors';
import { problem, problemFor, type ProblemResponse } from 'stateline/http';
import type { InstanceState, Supervisor } from './supervisor.js';

/** What the gateway knows about one instance (a subset of `gw.instances()`). */
export interface GatewayInstanceView {
  id: string;
  state: InstanceState;
  inflight: number;
  served: number;
}

/** `GET /_stateline/status`. */
export interface ClusterStatus {
  balance: string;
  strategy: string;
  store: string;
  instances: {
    id: string;
    state: InstanceState;
    pid: number | null;
    inflight: number;
    served: number;
    url: string | null;
    restarts: number;
  }[];
}

export interface ControlOptions {
  supervisor: Supervisor;
  /** The gateway's view of its instances. */
  gatewayInstances: () => readonly GatewayInstanceView[];
  balance: string;
  strategy: string;
  /** As shown (credentials redacted). */
  store: string;
  /** When set, every control request needs `Authorization: Bearer <token>`; otherwise only loopback clients. */
  adminToken?: string | undefined;
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
    balance: o.balance,
    strategy: o.strategy,
    store: o.store,
    instances: o.supervisor.instances().map((s) => {
      const g = routed.get(s.id);
      // A live process is as the gateway sees it (it may have failed health checks); otherwise the supervisor knows best.
      const state = s.state === 'up' && g ? g.state : s.state;
      return {
        id: s.id,
        state,
        pid: s.pid,
        inflight: g?.inflight ?? 0,
        served: g?.served ?? 0,
        url: s.url,
        restarts: s.restarts,
      };
    }),
  };
}

/**
 * The gateway's `control` hook for `stateline up`: answers requests under `/_stateline/` and
 * returns false for every other request so the gateway proxies it.
 *
 * - `GET /_stateline/status` → {@link ClusterStatus}
 * - `POST /_stateline/instances/<id>/kill` (SIGKILL), `/stop` (graceful drain), `/start`
 *   → `{ instance }` once done.
 *
 * With `adminToken` each needs `Authorization: Bearer <token>` (else 401 `SL_ERR_UNAUTHORIZED`);
 * without one, only loopback clients (else 403 `SL_ERR_FORBIDDEN`). Unknown routes and instances
 * are 404 `SL_ERR_NOT_FOUND`.
 *
 * @example
 * ```ts
 * const gw = createGateway({ balance: 'round-robin', control: createControl({ supervisor, gatewayInstances: () => gw.instances(), balance: 'round-robin', strategy: 'server', store: 'sqlite:state.db' }) });
 * ```
 */
export function createControl(o: ControlOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?', 1)[0]!;
    if (!path.startsWith(CONTROL_PREFIX)) return false;
    if (o.adminToken !== undefined) {
      if (!tokenMatches(req.headers.authorization, o.adminToken)) {
        send(
          res,
          problem('SL_ERR_UNAUTHORIZED', undefined, { 'www-authenticate': 'Bearer realm="stateline"' }),
        );
        return true;
      }
    } else if (!isLoopback(req.socket.remoteAddress)) {
      send(res, problem('SL_ERR_FORBIDDEN', 'start stateline up with --admin-token to allow other hosts'));
      return true;
    }
    const method = req.method ?? 'GET';
    const rest = path.slice(CONTROL_PREFIX.length);
    if (rest === 'status' && (method === 'GET' || method === 'HEAD')) {
      sendJson(res, 200, clusterStatus(o));
      return true;
    }
    const m = /^instances\/([^/]+)\/([^/]+)$/.exec(rest);
    if (m && method === 'POST' && (ACTIONS as readonly string[]).includes(m[2]!)) {
      const id = decodeURIComponent(m[1]!);
      void act(o, id, m[2] as Action).then(
        (instance) => sendJson(res, 200, { instance }),
        (err: unknown) => {
          if (!isStatelineError(err)) console.error('stateline control:', err);
          send(res, problemFor(err));
        },
      );
      return true;
    }
    send(res, problem('SL_ERR_NOT_FOUND', `no control route ${method} ${path}`));
    return true;
  };
}

async function act(o: ControlOptions, id: string, action: Action) {
  if (!o.supervisor.instance(id)) throw new StatelineError('SL_ERR_NOT_FOUND', `no instance "${id}"`);
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
