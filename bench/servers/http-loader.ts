/**
 * A lean closed-loop HTTP/1.1 load generator on raw `node:net` sockets, for the sessions bench.
 *
 * N keep-alive connections, one request in flight on each (no pipelining). Every connection has a
 * prebuilt request Buffer, rebuilt only when its cookie header changes, and its own hooks that see
 * each answer's status, body and Set-Cookie lines. The parser handles Content-Length, chunked and
 * read-until-close bodies split across any number of TCP chunks. Costs per request: one
 * `socket.write`, one body string, one string per Set-Cookie line, a histogram record.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';

/** What one connection sends and sees. */
export interface ConnectionHooks {
  /**
   * The `Cookie` header value for the next request (`''` for none). Called before every request;
   * the request Buffer is rebuilt only when the returned string differs from the previous one.
   */
  cookieHeader(): string;
  /** Every complete answer, also the ones that arrive after the window closed (not counted). */
  onResponse(status: number, body: string, setCookies: readonly string[]): void;
}

export interface HttpLoadOptions {
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Request target, e.g. `/hit`. */
  path: string;
  /** Seconds of load. */
  duration: number;
  /** One hook object per connection: their count is the connection count. */
  connections: readonly ConnectionHooks[];
  /** Latency histogram in µs; one is built (1 µs … 60 s, 3 digits) when absent. */
  histogram?: hdr.Histogram;
  /** An answer that takes longer counts as a timeout and the connection is replaced. Default 10 s. */
  timeoutSeconds?: number;
  /** How long the end of the run waits for answers in flight before closing. Default 2 s. */
  graceSeconds?: number;
  /** Delay before reconnecting after a socket error or timeout. Default 100 ms. */
  reconnectDelayMs?: number;
}

export interface HttpLoadResult {
  /** Seconds from the start to the close of the window (when counting stopped). */
  duration: number;
  '2xx': number;
  non2xx: number;
  /** Socket errors, malformed answers, requests lost to a close before their answer. */
  errors: number;
  timeouts: number;
  /** Connections the server closed (`Connection: close` or a plain close), also after the window; each was reopened. */
  closes: number;
  /** Answers that arrived after the window closed (passed to the hooks, not counted). */
  late: number;
  /** Latency in µs of every counted answer. */
  histogram: hdr.Histogram;
  /** The first socket error, malformed answer or timeout of the window, if any. */
  firstError: string | undefined;
}

const CR = 13;
const LF = 10;
const NO_COOKIES: readonly string[] = Object.freeze([]);
const lower = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const SET_COOKIE = lower('set-cookie');
const CONNECTION = lower('connection');
const CONTENT_LENGTH = lower('content-length');
const TRANSFER_ENCODING = lower('transfer-encoding');
const CLOSE = lower('close');
const KEEP_ALIVE = lower('keep-alive');
const CHUNKED = lower('chunked');

/** True when buf[s, e) equals the lowercase ASCII `name`, ignoring case (header names are tokens). */
function equalsLower(buf: Buffer, s: number, e: number, name: Uint8Array): boolean {
  if (e - s !== name.length) return false;
  for (let i = 0; i < name.length; i++) if ((buf[s + i]! | 0x20) !== name[i]) return false;
  return true;
}

/** True when the comma-separated list in buf[s, e) holds the token `name` (any case). */
function hasToken(buf: Buffer, s: number, e: number, name: Uint8Array): boolean {
  let i = s;
  while (i < e) {
    while (i < e && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x2c)) i++;
    let j = i;
    while (j < e && buf[j] !== 0x2c) j++;
    let k = j;
    while (k > i && (buf[k - 1] === 0x20 || buf[k - 1] === 0x09)) k--;
    if (equalsLower(buf, i, k, name)) return true;
    i = j + 1;
  }
  return false;
}

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkExt,
  ChunkSizeLf,
  ChunkData,
  ChunkDataCr,
  ChunkDataLf,
  TrailerStart,
  Trailer,
  TrailerEndLf,
  UntilClose,
}

/**
 * Incremental HTTP/1.1 response parser: feed it the socket's chunks, it calls `onMessage` once
 * per complete answer. Body pieces are kept by reference until their answer is complete, so
 * chunks must not be reused by the caller (socket chunks are not).
 */
export class ResponseParser {
  private state = State.Head;
  /** A head that spans chunks, so far. */
  private head: Buffer | null = null;
  private status = 0;
  private setCookies: string[] | null = null;
  private close = false;
  private remaining = 0;
  private parts: Buffer[] = [];
  private sawSize = false;
  /** Bumped by reset(): an execute() in progress stops (its socket was replaced by a callback). */
  private epoch = 0;

  constructor(
    private readonly onMessage: (
      status: number,
      body: string,
      setCookies: readonly string[],
      close: boolean,
    ) => void,
  ) {}

  /** Drops any partial answer (when the socket is replaced). */
  reset(): void {
    this.epoch++;
    this.state = State.Head;
    this.head = null;
    this.setCookies = null;
    this.parts = [];
  }

  /** True while part of an answer has been read. */
  get midMessage(): boolean {
    return this.state !== State.Head || this.head !== null;
  }

  /** Parses one chunk. Throws on a malformed answer (the connection should then be dropped). */
  execute(chunk: Buffer): void {
    const epoch = this.epoch;
    let buf = chunk;
    let pos = 0;
    let end = buf.length;
    while (pos < end && this.epoch === epoch) {
      switch (this.state) {
        case State.Head: {
          let from = pos;
          if (this.head !== null) {
            // Resume 3 bytes back: the CRLFCRLF may straddle the two pieces.
            from = Math.max(0, this.head.length - 3);
            buf = Buffer.concat([this.head, buf.subarray(pos, end)]);
            pos = 0;
            end = buf.length;
            this.head = null;
          }
          const stop = buf.indexOf('\r\n\r\n', from, 'latin1');
          if (stop === -1) {
            if (end - pos > 65_536) throw new Error('response head larger than 64 KiB');
            this.head = Buffer.from(buf.subarray(pos, end));
            return;
          }
          this.parseHead(buf, pos, stop);
          pos = stop + 4;
          break;
        }
        case State.Length: {
          const n = Math.min(this.remaining, end - pos);
          if (n === this.remaining && this.parts.length === 0) {
            // The whole body is in this chunk: no copy.
            const body = buf.toString('utf8', pos, pos + n);
            pos += n;
            this.complete(body);
          } else {
            this.parts.push(buf.subarray(pos, pos + n));
            pos += n;
            this.remaining -= n;
            if (this.remaining === 0) this.complete(Buffer.concat(this.parts).toString('utf8'));
          }
          break;
        }
        case State.ChunkSize: {
          const b = buf[pos++]!;
          const h = b | 0x20;
          const d = b >= 0x30 && b <= 0x39 ? b - 0x30 : h >= 0x61 && h <= 0x66 ? h - 0x57 : -1;
          if (d >= 0) {
            this.remaining = this.remaining * 16 + d;
            this.sawSize = true;
            if (this.remaining > 0x7fffffff) throw new Error('chunk size too large');
          } else if (!this.sawSize) throw new Error('bad chunk size');
          else if (b === CR) this.state = State.ChunkSizeLf;
          else if (b === 0x3b || b === 0x20 || b === 0x09) this.state = State.ChunkExt;
          else throw new Error('bad chunk size');
          break;
        }
        case State.ChunkExt: {
          const cr = buf.indexOf(CR, pos);
          if (cr === -1 || cr >= end) pos = end;
          else {
            pos = cr + 1;
            this.state = State.ChunkSizeLf;
          }
          break;
        }
        case State.ChunkSizeLf:
          if (buf[pos++] !== LF) throw new Error('bad chunk size line');
          this.state = this.remaining === 0 ? State.TrailerStart : State.ChunkData;
          break;
        case State.ChunkData: {
          const n = Math.min(this.remaining, end - pos);
          this.parts.push(buf.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = State.ChunkDataCr;
          break;
        }
        case State.ChunkDataCr:
          if (buf[pos++] !== CR) throw new Error('chunk data not followed by CRLF');
          this.state = State.ChunkDataLf;
          break;
        case State.ChunkDataLf:
          if (buf[pos++] !== LF) throw new Error('chunk data not followed by CRLF');
          this.startChunk();
          break;
        case State.TrailerStart:
          // An empty line ends the trailers (and the answer); anything else is a trailer field.
          if (buf[pos] === CR) {
            pos++;
            this.state = State.TrailerEndLf;
          } else this.state = State.Trailer;
          break;
        case State.Trailer: {
          const lf = buf.indexOf(LF, pos);
          if (lf === -1 || lf >= end) pos = end;
          else {
            pos = lf + 1;
            this.state = State.TrailerStart;
          }
          break;
        }
        case State.TrailerEndLf:
          if (buf[pos++] !== LF) throw new Error('bad end of chunked body');
          this.complete(Buffer.concat(this.parts).toString('utf8'));
          break;
        case State.UntilClose:
          this.parts.push(buf.subarray(pos, end));
          pos = end;
          break;
      }
    }
  }

  /** The connection ended: completes a read-until-close body; throws when an answer was cut short. */
  finish(): void {
    if (this.state === State.UntilClose) this.complete(Buffer.concat(this.parts).toString('utf8'));
    else if (this.midMessage) {
      this.reset();
      throw new Error('connection closed in the middle of an answer');
    }
  }

  private startChunk(): void {
    this.state = State.ChunkSize;
    this.remaining = 0;
    this.sawSize = false;
  }

  /** Parses the head in buf[s, stop) and sets up the body; a 1xx head is skipped. */
  private parseHead(buf: Buffer, s: number, stop: number): void {
    // "HTTP/1.x NNN …"
    if (stop - s < 12 || buf[s] !== 0x48 || buf[s + 4] !== 0x2f || buf[s + 8] !== 0x20)
      throw new Error('bad status line');
    const d0 = buf[s + 9]! - 0x30;
    const d1 = buf[s + 10]! - 0x30;
    const d2 = buf[s + 11]! - 0x30;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) throw new Error('bad status code');
    const status = d0 * 100 + d1 * 10 + d2;
    let close = false;
    let keepAlive = false;
    let length = -1;
    let chunked = false;
    let cookies: string[] | null = null;
    let line = buf.indexOf(LF, s) + 1;
    while (line < stop) {
      let eol = buf.indexOf(LF, line);
      if (eol === -1 || eol > stop) eol = stop;
      const lineEnd = buf[eol - 1] === CR ? eol - 1 : eol;
      // Dispatch on the name's length first: only 4 names matter.
      let colon = line;
      while (colon < lineEnd && buf[colon] !== 0x3a) colon++;
      const n = colon - line;
      if (colon < lineEnd && (n === 10 || n === 14 || n === 17)) {
        let v = colon + 1;
        while (v < lineEnd && (buf[v] === 0x20 || buf[v] === 0x09)) v++;
        let ve = lineEnd;
        while (ve > v && (buf[ve - 1] === 0x20 || buf[ve - 1] === 0x09)) ve--;
        if (n === 10) {
          if (equalsLower(buf, line, colon, SET_COOKIE)) (cookies ??= []).push(buf.toString('latin1', v, ve));
          else if (equalsLower(buf, line, colon, CONNECTION)) {
            if (hasToken(buf, v, ve, CLOSE)) close = true;
            else if (hasToken(buf, v, ve, KEEP_ALIVE)) keepAlive = true;
          }
        } else if (n === 14 && equalsLower(buf, line, colon, CONTENT_LENGTH)) {
          let len = 0;
          for (let i = v; i < ve; i++) {
            const d = buf[i]! - 0x30;
            if (d < 0 || d > 9) throw new Error('bad content-length');
            len = len * 10 + d;
          }
          if (v === ve || (length !== -1 && length !== len)) throw new Error('bad content-length');
          length = len;
        } else if (n === 17 && equalsLower(buf, line, colon, TRANSFER_ENCODING)) {
          // Chunked only when it is the last coding.
          let last = ve;
          while (last > v && buf[last - 1] !== 0x2c) last--;
          chunked = hasToken(buf, last, ve, CHUNKED);
        }
      }
      line = eol + 1;
    }
    // 1xx: an interim answer, the real one follows.
    if (status < 200) return;
    this.status = status;
    this.setCookies = cookies;
    // HTTP/1.0 closes unless it says keep-alive.
    this.close = close || (buf[s + 7] === 0x30 && !keepAlive);
    if (status === 204 || status === 304) this.complete('');
    else if (chunked) this.startChunk();
    else if (length >= 0) {
      this.remaining = length;
      if (length === 0) this.complete('');
      else this.state = State.Length;
    } else {
      this.state = State.UntilClose;
      this.close = true;
    }
  }

  private complete(body: string): void {
    const cookies = this.setCookies ?? NO_COOKIES;
    this.state = State.Head;
    this.setCookies = null;
    if (this.parts.length > 0) this.parts = [];
    this.onMessage(this.status, body, cookies, this.close);
  }
}

interface Totals {
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  closes: number;
  late: number;
}

/** One keep-alive connection: at most one socket and one request in flight at a time. */
class Connection {
  socket: Socket | null = null;
  inFlight = false;
  /** performance.now() when the request in flight was written. */
  sentAt = 0;
  done = false;
  private request: Buffer;
  private cookie = '';
  private readonly head: string;
  private readonly parser: ResponseParser;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly run: Run,
    private readonly hooks: ConnectionHooks,
    path: string,
    hostHeader: string,
  ) {
    this.head = `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\n`;
    this.request = Buffer.from(`${this.head}\r\n`, 'latin1');
    this.parser = new ResponseParser((status, body, cookies, close) =>
      this.answer(status, body, cookies, close),
    );
  }

  open(): void {
    this.retry = null;
    if (this.run.stopping) return this.finish();
    this.parser.reset();
    const socket = connect({ host: this.run.host, port: this.run.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      if (socket === this.socket) this.send();
    });
    socket.on('data', (chunk: Buffer) => {
      if (socket !== this.socket) return;
      try {
        this.parser.execute(chunk);
      } catch (err) {
        if (socket === this.socket) this.fail(err);
      }
    });
    socket.on('error', (err) => {
      if (socket === this.socket) this.fail(err);
    });
    socket.on('close', () => {
      if (socket === this.socket) this.closed();
    });
  }

  /** Sends the next request, or ends the connection once the window closed. */
  private send(): void {
    const socket = this.socket;
    if (this.run.stopping || socket === null) return this.drop(true);
    const cookie = this.hooks.cookieHeader();
    if (cookie !== this.cookie) {
      this.cookie = cookie;
      this.request = Buffer.from(
        cookie === '' ? `${this.head}\r\n` : `${this.head}Cookie: ${cookie}\r\n\r\n`,
        'latin1',
      );
    }
    this.inFlight = true;
    this.sentAt = performance.now();
    socket.write(this.request);
  }

  private answer(status: number, body: string, cookies: readonly string[], close: boolean): void {
    const run = this.run;
    if (!this.inFlight) throw new Error(`unsolicited answer (status ${status})`);
    this.inFlight = false;
    if (run.counting) {
      const us = Math.round((performance.now() - this.sentAt) * 1000);
      run.histogram.recordValue(us < 1 ? 1 : us);
      if (status >= 200 && status < 300) run.totals.ok++;
      else run.totals.non2xx++;
    } else run.totals.late++;
    try {
      this.hooks.onResponse(status, body, cookies);
    } catch (err) {
      return run.abort(err);
    }
    if (close) {
      run.totals.closes++;
      this.drop(false);
      this.open();
    } else this.send();
  }

  /** The socket failed (error, malformed answer, timeout): count, drop it, reopen after a delay. */
  fail(err: unknown, timeout = false): void {
    const run = this.run;
    if (run.counting) {
      if (timeout) run.totals.timeouts++;
      else run.totals.errors++;
      run.firstError ??= err;
    }
    this.inFlight = false;
    this.drop(false);
    if (run.stopping) return this.finish();
    this.retry = setTimeout(() => this.open(), run.reconnectDelayMs);
  }

  /** The server closed the socket (other than after a `Connection: close` answer, which answer() handled). */
  private closed(): void {
    const run = this.run;
    const socket = this.socket;
    let lost = false;
    try {
      // Completes a read-until-close answer: answer() then counts it and reopens.
      this.parser.finish();
    } catch (err) {
      lost = true;
      if (run.counting) run.firstError ??= err;
    }
    if (this.socket !== socket || this.done) return;
    this.socket = null;
    if (this.inFlight && !lost) {
      lost = true;
      if (run.counting) run.firstError ??= new Error('connection closed before the answer');
    }
    this.inFlight = false;
    run.totals.closes++;
    if (lost && run.counting) run.totals.errors++;
    if (run.stopping) return this.finish();
    // A close that cost a request may be a server in trouble: do not spin.
    if (lost) this.retry = setTimeout(() => this.open(), run.reconnectDelayMs);
    else this.open();
  }

  /** Destroys the socket from this side; `final` also marks the connection done. */
  drop(final: boolean): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    if (final) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.run.connectionDone();
  }
}

/** State shared by the connections of one `httpLoad` call. */
class Run {
  readonly totals: Totals = { ok: 0, non2xx: 0, errors: 0, timeouts: 0, closes: 0, late: 0 };
  /** Answers are counted while true (the window). */
  counting = true;
  /** No new request once true. */
  stopping = false;
  hookError: unknown = undefined;
  firstError: unknown = undefined;
  private pending: number;
  private finished: (() => void) | null = null;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly histogram: hdr.Histogram,
    readonly reconnectDelayMs: number,
    connections: number,
  ) {
    this.pending = connections;
  }

  /** A hook threw: stop at once, `httpLoad` rejects with the error. */
  abort(err: unknown): void {
    this.hookError ??= err;
    this.stopping = true;
    this.counting = false;
    this.finished?.();
  }

  connectionDone(): void {
    if (--this.pending === 0) this.finished?.();
  }

  whenDone(): Promise<void> {
    return new Promise((resolve) => {
      this.finished = resolve;
      if (this.pending === 0 || this.hookError !== undefined) resolve();
    });
  }
}

/**
 * Runs a closed loop of GET requests against `host:port` for `duration` seconds: every connection
 * sends its next request as soon as the previous answer is complete. At the end of the window no
 * new request is sent, answers still in flight are awaited (up to `graceSeconds`) and passed to the
 * hooks but not counted. Never rejects for socket trouble (counted in `errors`/`timeouts`); rejects
 * only when a hook throws.
 *
 * @example
 * ```ts
 * const jar = { cookie: '' };
 * const result = await httpLoad({
 *   port: 3000,
 *   path: '/hit',
 *   duration: 5,
 *   connections: Array.from({ length: 50 }, () => ({
 *     cookieHeader: () => jar.cookie,
 *     onResponse: (status, body, setCookies) => {
 *       if (setCookies[0]) jar.cookie = setCookies[0].split(';')[0]!;
 *     },
 *   })),
 * });
 * console.log(result['2xx'] / result.duration, 'req/s, p99', result.histogram.getValueAtPercentile(99), 'µs');
 * ```
 */
export async function httpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const host = options.host ?? '127.0.0.1';
  const histogram =
    options.histogram ??
    hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
  const timeoutMs = (options.timeoutSeconds ?? 10) * 1000;
  const graceMs = (options.graceSeconds ?? 2) * 1000;
  if (!(options.duration > 0) || options.connections.length === 0)
    throw new Error('httpLoad needs a positive duration and at least one connection');
  const run = new Run(
    host,
    options.port,
    histogram,
    options.reconnectDelayMs ?? 100,
    options.connections.length,
  );
  const hostHeader = `${host}:${options.port}`;
  const connections = options.connections.map(
    (hooks) => new Connection(run, hooks, options.path, hostHeader),
  );

  const started = performance.now();
  let windowEnd = 0;
  for (const c of connections) c.open();
  // One timer for every connection's timeout instead of one per request.
  const watchdog = setInterval(
    () => {
      const now = performance.now();
      for (const c of connections) {
        if (c.inFlight && now - c.sentAt > timeoutMs) c.fail(new Error('timeout'), true);
      }
    },
    Math.min(250, timeoutMs),
  );
  let grace: NodeJS.Timeout | undefined;
  const windowTimer = setTimeout(() => {
    windowEnd = performance.now();
    run.counting = false;
    run.stopping = true;
    // Idle or connecting connections end now; those with an answer in flight end on it.
    for (const c of connections) if (!c.inFlight) c.drop(true);
    grace = setTimeout(() => {
      for (const c of connections) c.drop(true);
    }, graceMs);
  }, options.duration * 1000);

  await run.whenDone();
  if (windowEnd === 0) windowEnd = performance.now();
  clearTimeout(windowTimer);
  clearTimeout(grace);
  clearInterval(watchdog);
  for (const c of connections) c.drop(true);
  if (run.hookError !== undefined) throw run.hookError;
  const t = run.totals;
  return {
    duration: (windowEnd - started) / 1000,
    '2xx': t.ok,
    non2xx: t.non2xx,
    errors: t.errors,
    timeouts: t.timeouts,
    closes: t.closes,
    late: t.late,
    histogram,
    firstError:
      run.firstError === undefined
        ? undefined
        : run.firstError instanceof Error
          ? run.firstError.message
          : String(run.firstError),
  };
}
