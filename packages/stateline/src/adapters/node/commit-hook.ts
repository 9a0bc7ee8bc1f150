import { ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import type { Session } from '../../session/types.js';
import { sendProblem } from './request-context.js';

type Fn = (this: ServerResponse, ...args: unknown[]) => unknown;
type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders';

/** Node's own state fields that decide what a call on a response may do. */
interface NodeState {
  _header: string | null;
  finished: boolean;
}

/** One response's hold on its first bytes until its session has committed. */
interface Gate {
  state: 'holding' | 'open' | 'failed';
  /** Usually one; more when session middleware of several managers is stacked on one request. */
  sessions: Session[];
  /** Calls held while committing, in order, replayed on Node's own methods. */
  queue: [Fn, unknown[]][] | null;
  opening: Promise<void> | undefined;
  /** Status line as it was when the (held) head was "sent"; later changes have no effect, as in Node. */
  status: [number, string | undefined] | undefined;
}

/**
 * Stands in for the head while it is held: with it, Node's own checks (`headersSent`, `setHeader`
 * and `writeHead` after the head, `write`/`end` after `end`) answer exactly as for a sent head.
 * Never reaches the wire: every path that would send it is held or replayed after it is cleared.
 */
const HELD_HEAD = 'HTTP/1.1 000 held by stateline\r\n\r\n';

const gates = new WeakMap<ServerResponse, Gate>();

/**
 * Makes the session commit before the first byte of the response leaves. `writeHead` puts status
 * + headers on the response at once (so code that looks at `statusCode` sees the real one), and
 * it `write`/`end`/`flushHeaders` are held until the commit has finished and its `Set-Cookie` is
 * on the response. When the commit fails (the session was ended meanwhile, the token is too
 * large, the Store is down) the handler's response is replaced by the problem, so a lost write is
 * never reported as success.
 *
 * A held response behaves like a plain one for every call order: once its head is "sent"
 * `headersSent` is true and `setHeader`/`writeHead` throw `ERR_HTTP_HEADERS_SENT` synchronously;
 * once it is "ended", `writableEnded` is true and a further `write`/`end` gets Node's own answer
 * (an `error` event, a callback) at once rather than after the commit.
 *
 * How: `ServerResponse.prototype`'s `writeHead`, `write`, `end` and `flushHeaders` are wrapped once
 * per process, when this module loads (so code that picks up `res.writeHead` per request, before or after the
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
  else
    gates.set(res, {
      state: 'holding',
      sessions: [session],
      queue: null,
      opening: undefined,
      status: undefined,
    });
}

const node = install();

function install(): Record<Method, Fn> {
  const proto = ServerResponse.prototype as unknown as Record<Method, Fn>;
  const original = {
    writeHead: proto.writeHead,
    write: proto.write,
    end: proto.end,
    flushHeaders: proto.flushHeaders,
  };
  proto.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g?.state !== 'holding' || heldOrSent(this)) return original.writeHead.apply(this, args);
    const code = (args[0] as number) | 0;
    // Node's own refusal, thrown before it touches anything.
    if (code < 100 || code > 999) return original.writeHead.apply(this, args);
    holdHead(this, args);
    sendHead(this, g);
    // Replayed as given (status line only, the headers are on the response): framing as Node's.
    (g.queue ??= []).push([original.writeHead, typeof args[1] === 'string' ? [args[0], args[1]] : [args[0]]]);
    return this;
  };
  proto.write = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g === undefined || g.state === 'open') return original.write.apply(this, args);
    if (g.state === 'failed') return false;
    // After end, a bad chunk or a destroyed response: Node answers at once (throw, error event).
    if (passThrough(this, args[0])) return original.write.apply(this, args);
    sendHead(this, g);
    hold(this, g, original.write, args);
    return true;
  };
  proto.end = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g === undefined || g.state === 'open') return original.end.apply(this, args);
    if (g.state === 'failed') return this;
    // Node's end treats any falsy first argument (and a callback) as "no chunk".
    const chunk = typeof args[0] === 'function' || !args[0] ? '' : args[0];
    if (passThrough(this, chunk)) return original.end.apply(this, args);
    sendHead(this, g);
    (this as unknown as NodeState).finished = true;
    hold(this, g, original.end, args);
    return this;
  };
  proto.flushHeaders = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g === undefined || g.state === 'open') return original.flushHeaders.apply(this, args);
    if (g.state === 'failed') return undefined;
    sendHead(this, g);
    hold(this, g, original.flushHeaders, args);
    return undefined;
  };
  return original;
}

function heldOrSent(res: ServerResponse): boolean {
  return (res as unknown as NodeState)._header !== null;
}

/** True when Node decides this call by itself, without sending anything. */
function passThrough(res: ServerResponse, chunk: unknown): boolean {
  if ((res as unknown as NodeState).finished || res.destroyed) return true;
  return chunk === null || (typeof chunk !== 'string' && !(chunk instanceof Uint8Array));
}

/** The head counts as sent from now on; its status line is frozen, as Node's would be. */
function sendHead(res: ServerResponse, g: Gate): void {
  const state = res as unknown as NodeState;
  if (state._header !== null) return;
  state._header = HELD_HEAD;
  g.status = [res.statusCode, res.statusMessage];
}

/** Gives the response back to Node as it was before its head was held. */
function release(res: ServerResponse, g: Gate): void {
  const state = res as unknown as NodeState;
  if (state._header === HELD_HEAD) state._header = null;
  state.finished = false;
  if (g.status === undefined) return;
  res.statusCode = g.status[0];
  res.statusMessage = g.status[1] as string;
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
      release(res, g);
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
      release(res, g);
      sendProblem(res, err, (body) => node.end.call(res, body));
    },
  );
}
