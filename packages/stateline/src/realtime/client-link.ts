import { StatelineError } from '../errors.js';
import { backoff } from './backoff.js';
import type { ClientStats, WebSocketConstructor, WebSocketLike } from './client-types.js';
import { CLOSE_CODES, type BatchFrame, type ServerFrame } from './protocol.js';

const OPEN = 1;

/** What the link reports to the client. */
export interface LinkHandlers {
  /** A connection opened to `url` (the base URL, as given to `connect`). */
  opened(url: string): void;
  /** A frame arrived. */
  frame(f: ServerFrame): void;
  /** The connection was lost with `code`: whatever was in flight on it is not. */
  lost(code: number): void;
  /** After a loss: reconnecting in `reconnectIn` ms, or `null` (never: the hub wants a session). */
  closed(code: number, reason: string, reconnectIn: number | null): void;
  /** The link cannot go on: the client stops with this error. */
  failed(err: StatelineError): void;
}

/** The reconnect timing and keep-alive of {@link ClientLink}. */
export interface LinkOptions {
  minDelay: number;
  maxDelay: number;
  pingInterval: number;
  pingTimeout: number;
  headers?: Record<string, string>;
}

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (global && !isNode) return global;
  const name = 'ws'; // not a literal: browser bundles must not pull `ws` in
  try {
    const mod = (await import(name)) as { WebSocket?: WebSocketConstructor; default?: WebSocketConstructor };
    const ctor = mod.WebSocket ?? mod.default;
    if (ctor) return ctor;
  } catch {
    /* fall through */
  }
  if (global) return global;
  throw new StatelineError(
    'SL_ERR_PEER_DEPENDENCY_MISSING',
    'The realtime client needs a WebSocket: run `npm install ws` (Node) or pass { WebSocket }',
  );
}

/**
 * The client's connection state machine: opens a WebSocket to one of the URLs (the next one after
 * each loss), reconnects with backoff and jitter (reset once a connection stayed up 5 s, raised
 * after a rate-limit close), and sends `ping` frames, closing a link that stays silent past the
 * ping timeout. Frames in and out are the client's business.
 *
 * @example
 * ```ts
 * const link = new ClientLink(['ws://127.0.0.1:3000/realtime'], anonId, options, stats, handlers);
 * link.start(undefined); // the default WebSocket
 * link.write({ type: 'join', room: 'lobby' });
 * ```
 */
export class ClientLink {
  private urlIndex = 0;
  private ws: WebSocketLike | undefined;
  private ctor: WebSocketConstructor | undefined;
  private attempt = 0;
  private opens = 0;
  private openedAt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly urls: readonly string[],
    private readonly anonymousId: string,
    private readonly o: LinkOptions,
    private readonly stats: ClientStats,
    private readonly on: LinkHandlers,
  ) {}

  /** True while a connection is open. */
  get connected(): boolean {
    return this.ws?.readyState === OPEN;
  }

  /** Connects with `WebSocket`, or the default one once it is loaded. */
  start(WebSocket: WebSocketConstructor | undefined): void {
    const ready = WebSocket ? Promise.resolve(WebSocket) : defaultWebSocket();
    ready.then(
      (ctor) => {
        this.ctor = ctor;
        if (!this.closed) this.open();
      },
      (err: StatelineError) => this.on.failed(err),
    );
  }

  /** Writes a frame; false when no connection is open. */
  write(frame: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  /** Closes for good, without events. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.stopPing();
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = null;
      ws.onerror = () => {}; // closing while connecting reports an error (ws throws without a listener)
      try {
        ws.close(1000, 'client closed');
      } catch {
        /* already closing */
      }
    }
  }

  private open(): void {
    if (this.closed || !this.ctor) return;
    const base = this.urls[this.urlIndex % this.urls.length]!;
    // batch=1: this client unpacks batch frames (a JSON array of `message` frames).
    const url = `${base}${base.includes('?') ? '&' : '?'}anon=${this.anonymousId}&batch=1`;
    let ws: WebSocketLike;
    try {
      ws = this.o.headers ? new this.ctor(url, [], { headers: this.o.headers }) : new this.ctor(url);
    } catch (err) {
      return this.on.failed(
        new StatelineError(
          'SL_ERR_INVALID_ARGUMENT',
          `cannot open ${base}: ${err instanceof Error ? err.message : String(err)}`,
        ),
      );
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.opens++ > 0) this.stats.reconnects++;
      this.openedAt = Date.now();
      this.startPing();
      this.on.opened(base);
    };
    ws.onmessage = (ev) => {
      this.alive();
      if (typeof ev.data !== 'string') return;
      let f: ServerFrame | BatchFrame;
      try {
        f = JSON.parse(ev.data) as ServerFrame | BatchFrame;
      } catch {
        return;
      }
      if (Array.isArray(f)) for (const one of f) this.on.frame(one);
      else this.on.frame(f);
    };
    ws.onerror = () => {}; // a close event follows
    ws.onclose = (ev) => this.onClose(ws, ev.code, ev.reason);
  }

  private onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.ws = undefined;
    this.stopPing();
    this.on.lost(code);
    if (this.closed) return;
    if (code === CLOSE_CODES.UNAUTHENTICATED) {
      this.on.closed(code, reason, null);
      return this.on.failed(
        new StatelineError('SL_ERR_REALTIME_UNAUTHENTICATED', 'the hub requires a logged-in session'),
      );
    }
    if (this.openedAt && Date.now() - this.openedAt > 5000) this.attempt = 0; // it had been healthy
    this.openedAt = 0;
    // Rate limited: start the backoff higher, the hub asked us to slow down.
    if (code === CLOSE_CODES.RATE_LIMITED) this.attempt = Math.max(this.attempt, 4);
    const delay = backoff(this.attempt++, this.o.minDelay, this.o.maxDelay);
    this.urlIndex++; // the next instance, if there are several
    this.on.closed(code, reason, delay);
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  private startPing(): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      this.write({ type: 'ping' });
      if (!this.pongTimer) {
        this.pongTimer = setTimeout(() => {
          this.pongTimer = undefined;
          this.ws?.close(CLOSE_CODES.CLIENT_TIMEOUT, 'no pong');
          // A dead link may never deliver the close event: act now.
          if (this.ws) this.onClose(this.ws, CLOSE_CODES.CLIENT_TIMEOUT, 'no pong');
        }, this.o.pingTimeout);
      }
    }, this.o.pingInterval);
  }

  private stopPing(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = undefined;
  }

  /** Any frame proves the link alive. */
  private alive(): void {
    if (this.pongTimer) {
      clearTimeout(this.pongTimer);
      this.pongTimer = undefined;
    }
  }
}
