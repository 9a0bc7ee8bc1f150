import { ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import type { Session } from '../../session/types.js';
import { sendProblem } from './request-context.js';

type Fn = (this: ServerResponse, ...args: unknown[]) => unknown;

/** One response's hold on its first bytes until its session has committed. */
interface Gate {
  state: 'holding' | 'open' | 'failed';
  /** Usually one; more when session middleware of several managers is stacked on one request. */
  sessions: Session[];
  /** Calls held while committing, in order, replayed on Node's own methods. */
  queue: [Fn, unknown[]][] | null;
  opening: Promise<void> | undefined;
}

const gates = new WeakMap<ServerResponse, Gate>();

/**
 * Makes the session commit before the first byte of the response leaves. `writeHead` is turned
 * into status + headers on the response (so code that looks at `statusCode` sees the real one),
 * and `write`/`end` are held until the commit has finished and its `Set-Cookie` is on the
 * response. When the commit fails (the session was ended meanwhile, the token is too large, the
 * Store is down) the handler's response is replaced by the problem, so a lost write is never
 * reported as success.
 *
 * How: `ServerResponse.prototype`'s `writeHead`, `write` and `end` are wrapped once per process,
 * when this module loads (so code that picks up `res.writeHead` per request, before or after the
 * session middleware, gets the wrapper), and a response is held while it has an entry in a WeakMap. Wrapping each response's own
 * methods instead cost about a tenth of Express's throughput (adding properties to a
 * `ServerResponse` makes every later access to it slower); the prototype wrappers cost a WeakMap
 * lookup on responses that have no session. Middleware that wraps `res` before or after this one
 * (compression, idempotency capture) calls through to the wrappers as before, and a response
 * whose prototype a framework swaps (Express sub-apps) still inherits them.
 */
export function commitBeforeResponse(res: ServerResponse, session: Session): void {
  const g = gates.get(res);
  if (g?.state === 'holding' && g.opening === undefined) g.sessions.push(session);
  else gates.set(res, { state: 'holding', sessions: [session], queue: null, opening: undefined });
}

const node = install();

function install(): { writeHead: Fn; write: Fn; end: Fn } {
  const proto = ServerResponse.prototype as unknown as Record<'writeHead' | 'write' | 'end', Fn>;
  const original = { writeHead: proto.writeHead, write: proto.write, end: proto.end };
  proto.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g?.state !== 'holding') return original.writeHead.apply(this, args);
    holdHead(this, args);
    return this;
  };
  proto.write = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g === undefined || g.state === 'open') return original.write.apply(this, args);
    if (g.state === 'failed') return false;
    hold(this, g, original.write, args);
    return true;
  };
  proto.end = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g === undefined || g.state === 'open') return original.end.apply(this, args);
    if (g.state === 'failed') return this;
    hold(this, g, original.end, args);
    return this;
  };
  return original;
}

async function commitAll(sessions: Session[]): Promise<string[]> {
  if (sessions.length === 1) return (await sessions[0]!.commit()).setCookie;
  return (await Promise.all(sessions.map((s) => s.commit()))).flatMap((r) => r.setCookie);
}

/** `writeHead` while holding: status and headers go on the response, nothing is sent. */
function holdHead(res: ServerResponse, args: unknown[]): void {
  const [status, second, third] = args as [number, unknown, unknown];
  res.statusCode = status;
  if (typeof second === 'string') res.statusMessage = second;
  const headers = typeof second === 'string' ? third : second;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2)
      res.setHeader(String(headers[i]), headers[i + 1] as string);
  } else if (headers && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers as OutgoingHttpHeaders))
      if (v !== undefined) res.setHeader(k, v);
  }
}

function hold(res: ServerResponse, g: Gate, fn: Fn, args: unknown[]): void {
  (g.queue ??= []).push([fn, args]);
  g.opening ??= commitAll(g.sessions).then(
    (setCookie) => {
      g.state = 'open';
      if (setCookie.length > 0 && !res.headersSent) {
        const prior = res.getHeader('set-cookie');
        const list = prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)];
        res.setHeader('set-cookie', [...list, ...setCookie]);
      }
      const queue = g.queue ?? [];
      g.queue = null;
      for (const [f, a] of queue) f.apply(res, a);
    },
    (err: unknown) => {
      g.state = 'failed';
      g.queue = null;
      sendProblem(res, err, (body) => node.end.call(res, body));
    },
  );
}
