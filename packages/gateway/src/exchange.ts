import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { cookieValue, stickyCookieHeader } from './cookie.js';
import { SL_ERR_NO_INSTANCE, SL_ERR_UPSTREAM_FAILED, SL_ERR_UPSTREAM_TIMEOUT } from './errors.js';
import { requestHead, responseHeaders, type RequestHead } from './forward-headers.js';
import { hashKey } from './hash-ring.js';
import type { Instance } from './instance.js';
import type { InstanceSet } from './instance-set.js';
import type { ResolvedOptions } from './options.js';
import { SL_ERR_BAD_REQUEST, SL_ERR_PAYLOAD_TOO_LARGE, trackRequest } from 'stateline/http';
import { ClientBodyError, prepareBody } from './request-body.js';
import { sendProblem } from './respond.js';

/** What every exchange needs from its gateway. */
export interface ExchangeContext {
  readonly set: InstanceSet;
  readonly options: ResolvedOptions;
}

/** RFC 9110 §9.2.2 idempotent methods: safe to send twice after a reset or a 502/503. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

/** Errors raised before the request reached the instance: any request may go elsewhere. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/** Errors that mean the request itself was at fault, not the instance. */
const BAD_REQUEST = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_NOT_SUPPORTED',
]);

const CLIENT_GONE = new Error('the client went away');

/** The upload to an instance broke off: it stopped reading (an early answer) or went away. */
const UPLOAD_CUT = new Set(['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET']);

/** Links a response to its exchange, so one shared listener serves every request (no closures). */
const EXCHANGE = Symbol('stateline.exchange');
type LinkedResponse = ServerResponse & { [EXCHANGE]?: Exchange };

function onResponseClose(this: LinkedResponse): void {
  this[EXCHANGE]?.clientClosed();
}

function onResponseDrain(this: LinkedResponse): void {
  this[EXCHANGE]?.resumeUpstream();
}

/** The id of the instance whose answer this response relays, if any. */
export function relayedFrom(res: ServerResponse): string | undefined {
  return (res as LinkedResponse)[EXCHANGE]?.relayed;
}

function errorCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

/**
 * One client request on its way through the gateway: picks an instance, streams the response back
 * and, while no response byte has reached the client, retries on another instance when that is
 * safe. It is undici's dispatch handler for each attempt (the raw-header callbacks avoid parsing
 * headers into objects on the hot path).
 */
class Exchange implements Dispatcher.DispatchHandler {
  private body: Buffer | Readable | null = null;
  private replayable = true;
  private instance: Instance | undefined;
  private attemptOpen = false;
  private tried: Instance[] | undefined;
  /** Reading a 502/503 that will be retried on `next` once its body is consumed. */
  private discarding = false;
  private next: Instance | undefined;
  /** Response headers went to the client: from here on nothing is retried. */
  private started = false;
  private clientGone = false;
  /** The current attempt's request, body included, was written to the instance. */
  private sent = false;
  private abortAttempt: ((err?: Error) => void) | null = null;
  private resume: (() => void) | null = null;
  private drainHooked = false;

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly res: ServerResponse,
    private readonly method: string,
    private readonly path: string,
    private readonly head: RequestHead,
    private readonly stickyId: string | undefined,
    private readonly hash: number | undefined,
  ) {
    (res as LinkedResponse)[EXCHANGE] = this;
    res.on('close', onResponseClose);
  }

  /** Sends the request with `body` to the instance the policy picks. */
  start(body: Buffer | Readable | null, replayable: boolean): void {
    this.body = body;
    this.replayable = replayable;
    if (this.clientGone) return;
    const instance = this.ctx.set.balancer.pick(this.stickyId, this.hash, undefined);
    if (instance === undefined) {
      sendProblem(this.res, SL_ERR_NO_INSTANCE, 'no instance is up; retry shortly', { 'retry-after': '1' });
      return;
    }
    this.dispatch(instance);
  }

  private dispatch(instance: Instance): void {
    this.instance = instance;
    this.attemptOpen = true;
    this.sent = false;
    this.abortAttempt = null;
    instance.inflight++;
    instance.pool.dispatch(
      { path: this.path, method: this.method, headers: this.head.headers, body: this.body },
      this,
    );
  }

  private endAttempt(): void {
    if (this.attemptOpen) {
      this.attemptOpen = false;
      this.instance!.release();
    }
  }

  /** The client's response closed: when that was before the end, stop the upstream attempt. */
  clientClosed(): void {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    if (this.attemptOpen) this.abortAttempt?.(CLIENT_GONE);
  }

  resumeUpstream(): void {
    this.resume?.();
  }

  /** The instance whose answer went to the client; undefined while (or when) the gateway answered itself. */
  get relayed(): string | undefined {
    return this.started ? this.instance?.id : undefined;
  }

  /** The other instance this request may go to now, if retries allow one. */
  private retryTarget(failed: Instance): Instance | undefined {
    const tried = (this.tried ??= []);
    if (!tried.includes(failed)) tried.push(failed);
    if (tried.length > this.ctx.options.attempts) return undefined;
    return this.ctx.set.balancer.pick(this.stickyId, this.hash, tried);
  }

  private retry(failed: Instance, next: Instance): void {
    if (this.ctx.options.metrics) failed.counts.retries++;
    this.dispatch(next);
  }

  // undici dispatch handler

  onConnect(abort: (err?: Error) => void): void {
    this.abortAttempt = abort;
    if (this.clientGone) abort(CLIENT_GONE);
  }

  onRequestSent(): void {
    this.sent = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, _statusText: string): boolean {
    // 1xx informational answers are not relayed (Node answered `100 Continue` itself).
    if (statusCode < 200) return true;
    const instance = this.instance!;
    // Any answer, whatever its status, shows the instance is live (passive health counts failures to answer).
    this.ctx.set.passiveSuccess(instance);
    if (statusCode === 502 || statusCode === 503) {
      if (this.ctx.options.metrics) instance.counts.errors++;
      if (this.replayable && this.safeAfterSend() && !this.clientGone) {
        const next = this.retryTarget(instance);
        if (next !== undefined) {
          this.discarding = true;
          this.next = next;
          return true;
        }
      }
    }
    if (this.clientGone) return true;
    const headers = responseHeaders(rawHeaders);
    if (this.ctx.options.balance === 'sticky' && this.stickyId !== instance.id) {
      headers.push('set-cookie', stickyCookieHeader(this.ctx.options.stickyCookie, instance.id));
    }
    this.resume = resume;
    this.started = true;
    try {
      this.res.writeHead(statusCode, headers);
    } catch {
      // The instance sent a header Node refuses to write: nothing reached the client yet.
      this.started = false;
      this.abortAttempt?.(new Error('invalid response header'));
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding || this.clientGone) return true;
    if (this.res.write(chunk)) return true;
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', onResponseDrain);
    }
    return false;
  }

  onComplete(_trailers: string[] | null): void {
    const instance = this.instance!;
    this.endAttempt();
    if (this.discarding) {
      this.discarding = false;
      this.retry(instance, this.next!);
      return;
    }
    if (this.ctx.options.metrics) instance.counts.served++;
    if (!this.clientGone) this.res.end();
  }

  onError(err: Error): void {
    const instance = this.instance!;
    this.endAttempt();
    if (this.clientGone || this.res.destroyed) return;
    if (this.discarding) {
      // The 502/503 being skipped broke off: the retry goes ahead all the same.
      this.discarding = false;
      this.retry(instance, this.next!);
      return;
    }
    if (err instanceof ClientBodyError) {
      // The client's own body failed (over the limit, or it left): the instance is not at fault.
      if (err.tooLarge && !this.started) refuseTooLarge(this.res, this.ctx.options.bodyLimit);
      else this.res.destroy();
      return;
    }
    const code = errorCode(err);
    // The instance cut the upload after it answered, or while still reading it: it refused the
    // rest of the body (an early 413, say), which says nothing about its health.
    const refusedUpload = !this.sent && UPLOAD_CUT.has(code);
    if (this.started) {
      // Response bytes already reached the client: never retried, the connection is cut.
      if (!refusedUpload) this.ctx.set.passiveFailure(instance);
      this.res.destroy();
      return;
    }
    if (BAD_REQUEST.has(code)) {
      sendProblem(this.res, SL_ERR_BAD_REQUEST, err.message, { connection: 'close' });
      return;
    }
    if (!refusedUpload) this.ctx.set.passiveFailure(instance);
    else if (this.ctx.options.metrics) instance.counts.errors++;
    const notSent = NOT_SENT.has(code);
    if (this.replayable && (notSent || this.safeAfterSend())) {
      const next = this.retryTarget(instance);
      if (next !== undefined) {
        this.retry(instance, next);
        return;
      }
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT') {
      sendProblem(this.res, SL_ERR_UPSTREAM_TIMEOUT, `instance ${instance.id} did not answer in time`);
    } else if (refusedUpload) {
      sendProblem(
        this.res,
        SL_ERR_UPSTREAM_FAILED,
        `instance ${instance.id} closed the connection before it read the whole request body (${code})`,
      );
    } else {
      sendProblem(
        this.res,
        SL_ERR_UPSTREAM_FAILED,
        `instance ${instance.id} failed (${code || err.message})${notSent || this.safeAfterSend() ? '' : '; not retried: the request is neither idempotent nor carries an Idempotency-Key'}`,
      );
    }
  }

  /** May the request run twice? Idempotent methods and requests with an Idempotency-Key. */
  private safeAfterSend(): boolean {
    return IDEMPOTENT.has(this.method) || this.head.idempotencyKey;
  }
}

/**
 * 413 for a body over the gateway's limit. The connection closes after the answer; the server's
 * lingering close (linger.ts) reads and drops the rest of the upload meanwhile, so
 * the client gets the answer rather than a reset.
 */
function refuseTooLarge(res: ServerResponse, limit: number): void {
  sendProblem(res, SL_ERR_PAYLOAD_TOO_LARGE, `the request body may be at most ${limit} bytes`, {
    connection: 'close',
  });
}

/** Origin-form of an absolute-form target (`http://host/p?q` → `/p?q`); undefined for anything else. */
function originForm(target: string): string | undefined {
  if (!/^https?:\/\//i.test(target)) return undefined;
  try {
    const u = new URL(target);
    return u.pathname + u.search;
  } catch {
    return undefined;
  }
}

/**
 * Proxies one request: reads what routing needs from the headers, buffers a small body so it can be
 * replayed, and hands over to an {@link Exchange}.
 */
export function proxyRequest(ctx: ExchangeContext, req: IncomingMessage, res: ServerResponse): void {
  trackRequest(req);
  const url = req.url ?? '/';
  const path = url.charCodeAt(0) === 47 /* / */ ? url : originForm(url);
  if (path === undefined) {
    sendProblem(res, SL_ERR_BAD_REQUEST, 'the request target must be a path', { connection: 'close' });
    return;
  }
  const options = ctx.options;
  const head = requestHead(req.rawHeaders, req.socket.remoteAddress, options.hashHeader, options.proof);
  if (head.badFraming || Number.isNaN(head.contentLength)) {
    sendProblem(res, SL_ERR_BAD_REQUEST, 'unsupported Transfer-Encoding or invalid Content-Length', {
      connection: 'close',
    });
    return;
  }
  if (head.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
    sendProblem(res, SL_ERR_BAD_REQUEST, 'an HTTP/1.1 request needs a Host header', {
      connection: 'close',
    });
    return;
  }
  if (head.contentLength > options.bodyLimit) {
    refuseTooLarge(res, options.bodyLimit);
    return;
  }
  let stickyId: string | undefined;
  let hash: number | undefined;
  if (options.balance === 'sticky') {
    stickyId = cookieValue(head.cookie, options.stickyCookie);
  } else if (options.balance === 'hash') {
    let key = head.hashValue;
    if (options.hashHeader === undefined) {
      for (let k = 0; key === undefined && k < options.hashCookies.length; k++) {
        key = cookieValue(head.cookie, options.hashCookies[k]!);
      }
    }
    if (key !== undefined && key !== '') hash = hashKey(key);
  }
  const ex = new Exchange(ctx, res, req.method ?? 'GET', path, head, stickyId, hash);
  if (!head.chunked && head.contentLength <= 0) {
    ex.start(null, true);
    return;
  }
  prepareBody(req, head.chunked ? -1 : head.contentLength, options.replayBytes, options.bodyLimit).then(
    (prepared) => ex.start(prepared.body, prepared.kind === 'buffered'),
    (err: unknown) => {
      if (err instanceof ClientBodyError && err.tooLarge) refuseTooLarge(res, options.bodyLimit);
      // The client left before its body was complete: there is no one to answer.
      else if (!res.headersSent) res.destroy();
    },
  );
}
