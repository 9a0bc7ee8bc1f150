import type { IdempotentAnswer, WorkloadAnswer, WorkloadHttp, WorkloadRequestInit } from 'stateline/instance';
import { fetch, type Dispatcher } from 'undici';
import { CookieJar } from './cookie-jar.js';
import type { Random } from './prng.js';
import type { Recorder } from './recorder.js';
import { cookieHeads, setCookieHeads, type RequestTrace } from './request-trace.js';

/** What one {@link HttpClient} needs. */
export interface HttpClientOptions {
  /** Where requests go, e.g. the gateway `http://127.0.0.1:40123`. */
  base: string;
  dispatcher: Dispatcher;
  /** Idempotency-Keys and backoff jitter come from it. */
  random: Random;
  /** Counts requests, latencies, errors and retries; absent: nothing is counted (the audit). */
  rec?: Recorder;
  /** The cookies to use and keep (default: a new, empty jar). */
  jar?: CookieJar;
  /** True once the load should end: an idempotent request stops waiting out "in flight". */
  stopped?: () => boolean;
  /** Longest wait for one answer (default 10 s). */
  requestTimeout?: number;
  /** Keeps each request for a diagnostic (`STATELINE_LAB_TRACE`). */
  trace?: RequestTrace | null;
}

/** Retries of one idempotent request after a network error or 5xx, with backoff 100 ms × 2^n. */
const IDEMPOTENT_RETRIES = 5;
/** Longest one idempotent request keeps trying (covers an idempotency lock of a killed instance, 5–10 s). */
const IDEMPOTENT_DEADLINE = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The `code` of a problem+json body, or ''.
 *
 * @example
 * ```ts
 * problemCode({ type: 'about:blank', status: 409, code: 'SL_ERR_IDEMPOTENCY_IN_FLIGHT' }); // 'SL_ERR_IDEMPOTENCY_IN_FLIGHT'
 * ```
 */
export function problemCode(body: unknown): string {
  if (typeof body !== 'object' || body === null || !('code' in body)) return '';
  return typeof body.code === 'string' ? body.code : '';
}

function parse(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A `409`/`429` that asks to be sent again later: the idempotency protocol working, not an error. */
function askedToWait(a: WorkloadAnswer): boolean {
  return (a.status === 409 || a.status === 429) && a.headers.get('retry-after') !== null;
}

/**
 * A virtual user's HTTP, as the workload contract's {@link WorkloadHttp}: undici `fetch` over the
 * lab's keep-alive agent with one cookie jar, JSON bodies, ETag revalidation on request,
 * Idempotency-Key retries, and one resend of a request that is safe to repeat when its connection
 * closed before any answer (as browsers do). With a {@link Recorder} every request, latency, network error and 5xx
 * is counted there.
 *
 * @example
 * ```ts
 * const http = new HttpClient({ base: cluster.url, dispatcher, random: mulberry32(1), rec });
 * const a = await http.request('GET', '/api/products', { revalidate: true });
 * const { answer } = await http.idempotent('POST', '/api/orders', { json: {} });
 * ```
 */
export class HttpClient implements WorkloadHttp {
  readonly jar: CookieJar;
  private readonly etags = new Map<string, { etag: string; body: unknown }>();

  constructor(private readonly o: HttpClientOptions) {
    this.jar = o.jar ?? new CookieJar();
  }

  async request(
    method: string,
    path: string,
    init: WorkloadRequestInit = {},
  ): Promise<WorkloadAnswer | null> {
    const { rec } = this.o;
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    // A cookie the workload sends itself (an old session it re-presents) goes instead of the jar's.
    const cookie = this.jar.header();
    if (cookie && headers.cookie === undefined) headers.cookie = cookie;
    const cached = init.revalidate ? this.etags.get(path) : undefined;
    if (cached) {
      headers['if-none-match'] = cached.etag;
      if (rec) rec.conditionalRequests++;
    }
    let body: string | undefined;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers['content-type'] = 'application/json';
    }
    rec?.sent();
    const retryable = SAFE_METHODS.has(method.toUpperCase()) || headers['idempotency-key'] !== undefined;
    const started = performance.now();
    const trace = this.o.trace;
    const at = rec ? rec.now() : 0;
    // Arguments are built only when tracing (`?.` skips the call and them).
    const note = (status: number | string, code: string, set: readonly string[]) =>
      trace?.add({
        t: Math.round(at),
        ms: Math.round(performance.now() - started),
        method,
        path,
        status,
        code,
        sent: cookieHeads(headers.cookie),
        set: setCookieHeads(set),
      });
    const signal = AbortSignal.timeout(this.o.requestTimeout ?? 10_000);
    const send = () =>
      fetch(this.o.base + path, {
        method,
        headers,
        body,
        dispatcher: this.o.dispatcher,
        signal,
        redirect: 'manual',
      });
    try {
      let res;
      try {
        res = await send();
      } catch (err) {
        // Closed before any byte of an answer: a keep-alive connection the proxy closed (HAProxy
        // closes one whose request failed on every instance it tried, rather than answering 502,
        // so that the client repeats it). HTTP/1.1 clients (browsers) send such a request again
        // once when it is safe to (RFC 9112 §9.3.1); so does the lab, on another connection.
        if (!retryable || !CLOSED_UNANSWERED.has(networkReason(err))) throw err;
        rec?.count(RESENT);
        res = await send();
      }
      const text = await res.text();
      rec?.response(performance.now() - started);
      const setCookies = res.headers.getSetCookie();
      this.jar.store(setCookies);
      let parsed = parse(text);
      const code = problemCode(parsed);
      note(res.status, code, setCookies);
      // A 503 must say when to come back; one that does not is its own error type in the report.
      const noRetryAfter =
        res.status === 503 && res.headers.get('retry-after') === null ? ' (no Retry-After)' : '';
      if (res.status >= 500) {
        rec?.error(`${res.status} ${code}${noRetryAfter}`.trim());
        if (retryable) rec?.count(SAFE_ERRORS);
      }
      if (res.status === 304 && cached) {
        if (rec) rec.notModified++;
        parsed = cached.body;
      } else if (init.revalidate && res.status === 200) {
        const etag = res.headers.get('etag');
        if (etag) this.etags.set(path, { etag, body: parsed });
      }
      return { status: res.status, headers: res.headers, body: parsed, code };
    } catch (err) {
      note(`network ${networkReason(err)}`, '', []);
      rec?.error(`network ${networkReason(err)}`);
      if (retryable) rec?.count(SAFE_ERRORS);
      return null;
    }
  }

  url(path: string): string {
    return this.o.base + path;
  }

  cookie(): string | undefined {
    return this.jar.header();
  }

  async idempotent(method: string, path: string, init: WorkloadRequestInit = {}): Promise<IdempotentAnswer> {
    const { random, rec } = this.o;
    const key = random.hex128();
    const sent = { ...init, headers: { ...init.headers, 'idempotency-key': key } };
    const deadline = performance.now() + IDEMPOTENT_DEADLINE;
    let failures = 0;
    let uncertain = false;
    for (;;) {
      const a = await this.request(method, path, sent);
      if (a && a.status < 500 && !askedToWait(a)) return { key, answer: a, uncertain };
      uncertain = true;
      if (a && a.status < 500) {
        // "Being processed elsewhere, ask again": an earlier attempt of this key is running or ran.
        if (rec) rec.retries++;
        const wait = Math.min(Math.max(Number(a.headers.get('retry-after')) || 1, 0.1), 5) * 1000;
        if (performance.now() + wait > deadline || this.o.stopped?.()) break;
        await sleep(wait);
        continue;
      }
      if (++failures > IDEMPOTENT_RETRIES || performance.now() > deadline) break;
      await sleep(100 * 2 ** (failures - 1) + random.int(0, 50));
    }
    return { key, answer: null, uncertain };
  }
}

/**
 * The counter of failures (5xx or no answer) of requests a proxy may retry on another instance:
 * idempotent methods and requests with an Idempotency-Key. A proxy that retries as it should
 * leaves it at 0 through an instance kill.
 */
export const SAFE_ERRORS = 'errors.retryable';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * The counter of safe or keyed requests sent a second time because their connection closed
 * before any byte of an answer (see {@link HttpClient.request}); a failure counts only if the
 * second attempt fails too.
 */
export const RESENT = 'http.resent';
/** Network errors of a connection that closed (or was reset) with no answer: nothing came back. */
const CLOSED_UNANSWERED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** `timeout`, or the system error code (`ECONNRESET`), or the error's name. */
function networkReason(err: unknown): string {
  if (!(err instanceof Error)) return 'error';
  if (err.name === 'TimeoutError') return 'timeout';
  const codeOf = (e: unknown) =>
    typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
  return codeOf(err.cause) ?? codeOf(err) ?? err.name;
}
