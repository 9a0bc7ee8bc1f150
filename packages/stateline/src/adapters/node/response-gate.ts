/**
 * The one place a node:http response is held until state behind it is saved. Sessions hold the
 * head until their commit is done (so `Set-Cookie` goes out with it, and a lost write is answered
 * as a failure, never as success); idempotency holds the end until the outcome is saved (so a
 * client that has the whole response knows a retry is replayed). Any middleware that works on a
 * `ServerResponse` joins here: Express, Fastify's `reply.raw`, @hono/node-server, plain node:http.
 *
 * How: `ServerResponse.prototype`'s `writeHead`, `write`, `end` and `flushHeaders` are wrapped once
 * per process, when this module loads (so code that picks up `res.writeHead` per request, before or
 * after a middleware, gets the wrapper), and a response is held while it has a {@link Gate} in a
 * WeakMap. Wrapping each response's own methods instead cost about a tenth of Express's throughput
 * (adding properties to a `ServerResponse` makes every later access to it slower); the prototype
 * wrappers cost a WeakMap lookup on responses nothing holds. Middleware that wraps `res` itself
 * (compression, loggers) calls through to the wrappers, and a response whose prototype a
 * framework swaps (Express sub-apps) still inherits them.
 *
 * A held response behaves like a plain one for every call order: once its head is "sent"
 * `headersSent` is true and `setHeader`/`writeHead` throw `ERR_HTTP_HEADERS_SENT` synchronously;
 * once it is "ended", `writableEnded` is true and a further `write`/`end` gets Node's own answer
 * (an `error` event, a callback) at once rather than after the hold.
 */
import { ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import { BodyCapture } from '../../idempotency/body-capture.js';
import type { CapturedResponse } from '../../idempotency/types.js';
import { sendProblem } from './request-context.js';

/** Work the head waits for, started at the first write: a session's commit is one. */
export interface HeadHold {
  /** Resolves with `Set-Cookie` values for the head; a rejection replaces the response by its problem. */
  commit(): Promise<{ readonly setCookie: readonly string[] }>;
}

/** Work the end waits for: saving the response as written (an idempotency ticket is one). */
export interface EndHold {
  /** Largest body kept; past it `complete` gets `body: null`. */
  readonly maxBodyBytes: number;
  /** Called once, when the response ends; the end leaves when it settles. */
  complete(response: CapturedResponse): Promise<void>;
}

type Fn = (this: ServerResponse, ...args: unknown[]) => unknown;
type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders';

/** Node's own state fields that decide what a call on a response may do. */
interface NodeState {
  _header: string | null;
  finished: boolean;
}

/** One response's holds and the calls they keep back. */
interface Gate {
  /** True while nothing is held or recorded: every call goes straight to Node. */
  open: boolean;
  /** True once a head hold failed: its problem is (or will be) the answer; the handler's calls are dropped. */
  failed: boolean;
  /** Head holds not started yet; usually one, more when session middleware is stacked. */
  heads: HeadHold[] | null;
  /** The end hold until the response ends, and the body it is shown. */
  end: EndHold | null;
  body: BodyCapture | null;
  /** Holds started and not settled; calls are queued while it is above 0. */
  pending: number;
  /** Calls held, in order, replayed on Node's own methods. */
  queue: [Fn, unknown[]][] | null;
  cookies: readonly string[] | null;
  error: unknown;
  /** Status line as it was when the (held) head was "sent"; later changes have no effect, as in Node. */
  status: [number, string] | undefined;
}

/**
 * Stands in for the head while it is held: with it, Node's own checks (`headersSent`, `setHeader`
 * and `writeHead` after the head, `write`/`end` after `end`) answer exactly as for a sent head.
 * Never reaches the wire: every path that would send it is held or replayed after it is cleared.
 */
const HELD_HEAD = 'HTTP/1.1 000 held by stateline\r\n\r\n';

const gates = new WeakMap<ServerResponse, Gate>();

function gateOf(res: ServerResponse): Gate {
  let g = gates.get(res);
  if (g === undefined) {
    g = {
      open: false,
      failed: false,
      heads: null,
      end: null,
      body: null,
      pending: 0,
      queue: null,
      cookies: null,
      error: undefined,
      status: undefined,
    };
    gates.set(res, g);
  }
  return g;
}

/**
 * Holds the response's head (and everything after it) from its first write until `hold.commit()`
 * has settled, then sends it with the commit's `Set-Cookie` values; when the commit fails, the
 * response is replaced by the error's problem. Holds registered before the first write share one
 * wait.
 *
 * @example
 * ```ts
 * const session = await sessions.load(requestContext(req));
 * commitBeforeHead(res, session);
 * res.end('ok'); // leaves once session.commit() resolved, with its cookie
 * ```
 */
export function commitBeforeHead(res: ServerResponse, hold: HeadHold): void {
  const g = gateOf(res);
  if (g.failed) return;
  g.open = false;
  if (g.heads === null) g.heads = [hold];
  else g.heads.push(hold);
}

/**
 * Shows `hold` every body byte the response is given and holds its end until
 * `hold.complete(response)` has settled; the head and the body before the end are not held.
 *
 * @example
 * ```ts
 * const r = await idem.begin(request);
 * if (r.kind === 'ticket') saveBeforeEnd(res, r.ticket);
 * ```
 */
export function saveBeforeEnd(res: ServerResponse, hold: EndHold): void {
  const g = gateOf(res);
  g.open = false;
  g.end = hold;
  g.body = new BodyCapture(hold.maxBodyBytes);
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
    if (g === undefined || g.open || g.failed || heldOrSent(this))
      return original.writeHead.apply(this, args);
    const code = (args[0] as number) | 0;
    // Node's own refusal, thrown before it touches anything.
    if (code < 100 || code > 999) return original.writeHead.apply(this, args);
    // On the response rather than in the call: held heads need them, and so does the recording.
    putHead(this, code, args);
    const line = typeof args[1] === 'string' ? [code, args[1]] : [code];
    if (g.heads === null && g.pending === 0) return original.writeHead.apply(this, line);
    hold(this, g, original.writeHead, line);
    return this;
  };
  proto.write = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g === undefined || g.open) return original.write.apply(this, args);
    // After end or with a bad chunk: Node answers at once (throw, error event).
    if (ended(this) || !isChunk(args[0])) return g.failed ? false : original.write.apply(this, args);
    record(g, args[0], args[1]);
    if (g.failed) return false;
    if (this.destroyed) return original.write.apply(this, args);
    if (g.heads !== null) startHeads(this, g);
    if (g.pending === 0) return original.write.apply(this, args);
    hold(this, g, original.write, args);
    return true;
  };
  proto.end = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g === undefined || g.open) return original.end.apply(this, args);
    // Node's end treats any falsy first argument (and a callback) as "no chunk".
    const chunk = typeof args[0] === 'function' || !args[0] ? '' : args[0];
    if (ended(this) || !isChunk(chunk)) return g.failed ? this : original.end.apply(this, args);
    record(g, chunk, args[1]);
    // Saved even when it cannot be sent: a head hold failed (its problem answers), the client left.
    if (g.failed || this.destroyed) {
      if (g.end !== null) startEnd(this, g, false);
      return g.failed ? this : original.end.apply(this, args);
    }
    if (g.heads !== null) startHeads(this, g);
    if (g.end !== null) startEnd(this, g, true);
    if (g.pending === 0) return original.end.apply(this, args);
    hold(this, g, original.end, args);
    (this as unknown as NodeState).finished = true;
    return this;
  };
  proto.flushHeaders = function (this: ServerResponse, ...args: unknown[]) {
    const g = gates.get(this);
    if (g === undefined || g.open) return original.flushHeaders.apply(this, args);
    if (g.failed) return undefined;
    if (g.heads !== null) startHeads(this, g);
    if (g.pending === 0) return original.flushHeaders.apply(this, args);
    hold(this, g, original.flushHeaders, args);
    return undefined;
  };
  return original;
}

function heldOrSent(res: ServerResponse): boolean {
  return (res as unknown as NodeState)._header !== null;
}

function isChunk(chunk: unknown): chunk is string | Uint8Array {
  return typeof chunk === 'string' || chunk instanceof Uint8Array;
}

function ended(res: ServerResponse): boolean {
  return (res as unknown as NodeState).finished;
}

/** Shows a body chunk to the end hold, if there is one still waiting for the end. */
function record(g: Gate, chunk: unknown, encoding: unknown): void {
  if (g.body === null || g.end === null || !isChunk(chunk)) return;
  g.body.add(
    typeof chunk === 'string'
      ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
      : chunk,
  );
}

/** The head counts as sent from now on; its status line is frozen, as Node's would be. */
function sendHead(res: ServerResponse, g: Gate): void {
  const state = res as unknown as NodeState;
  if (state._header !== null) return;
  state._header = HELD_HEAD;
  g.status = [res.statusCode, res.statusMessage];
}

/** Keeps a call back until the holds settle; the head counts as sent from now on. */
function hold(res: ServerResponse, g: Gate, fn: Fn, args: unknown[]): void {
  sendHead(res, g);
  (g.queue ??= []).push([fn, args]);
}

/** `writeHead`'s status and headers go on the response, as Node's own `setHeader` would put them. */
function putHead(res: ServerResponse, code: number, args: unknown[]): void {
  const [, second, third] = args;
  res.statusCode = code;
  if (typeof second === 'string') res.statusMessage = second;
  const headers = typeof second === 'string' ? third : (third ?? second);
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [name, value] of headers as [string, string][]) res.setHeader(name, value);
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2)
        res.setHeader(String(headers[i]), headers[i + 1] as string);
    }
  } else if (headers && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers as OutgoingHttpHeaders))
      if (v !== undefined) res.setHeader(k, v);
  }
}

async function commitAll(heads: HeadHold[]): Promise<readonly string[]> {
  if (heads.length === 1) return (await heads[0]!.commit()).setCookie;
  return (await Promise.all(heads.map((h) => h.commit()))).flatMap((r) => r.setCookie);
}

function startHeads(res: ServerResponse, g: Gate): void {
  const heads = g.heads!;
  g.heads = null;
  g.pending++;
  commitAll(heads).then(
    (cookies) => {
      g.cookies = g.cookies === null ? cookies : [...g.cookies, ...cookies];
      settle(res, g);
    },
    (err: unknown) => {
      g.failed = true;
      g.error = err;
      settle(res, g);
    },
  );
}

/** Hands the end hold what was written; `held`: the end waits for it (else the save runs alone). */
function startEnd(res: ServerResponse, g: Gate, held: boolean): void {
  const end = g.end!;
  const body = g.body!;
  g.end = null;
  g.body = null;
  const status = g.status === undefined ? res.statusCode : g.status[0];
  const saving = end.complete({ status, headers: res.getHeaders(), body: body.bytes() });
  if (!held) return void saving;
  g.pending++;
  const done = () => settle(res, g);
  saving.then(done, done);
}

/** Gives the response back to Node as it was before its head was held. */
function release(res: ServerResponse, g: Gate): void {
  const state = res as unknown as NodeState;
  if (state._header === HELD_HEAD) state._header = null;
  state.finished = false;
  if (g.status === undefined) return;
  res.statusCode = g.status[0];
  res.statusMessage = g.status[1];
  g.status = undefined;
}

/** One hold settled; when none is left, the calls held go to Node, or the problem replaces them. */
function settle(res: ServerResponse, g: Gate): void {
  if (--g.pending > 0) return;
  const queue = g.queue;
  g.queue = null;
  release(res, g);
  if (g.failed) return sendProblem(res, g.error, (body) => node.end.call(res, body));
  const cookies = g.cookies;
  g.cookies = null;
  if (cookies !== null && cookies.length > 0 && !res.headersSent) {
    const prior = res.getHeader('set-cookie');
    const list = prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)];
    res.setHeader('set-cookie', [...list, ...cookies]);
  }
  if (queue === null) return void (g.open = g.heads === null && g.end === null);
  // Open while replaying: Node's end calls writeHead for an implicit head, which must not be held again.
  g.open = true;
  for (const [f, a] of queue) f.apply(res, a);
  g.open = g.heads === null && g.end === null;
}
