/**
 * `stateline/realtime/client`: the realtime client for browsers and Node, one implementation on
 * an injected WebSocket constructor (the browser's own, or `ws` in Node). It reconnects with
 * backoff and jitter, rejoins every room from the last offset it delivered, drops duplicates and
 * detects gaps by offset, and keeps unconfirmed sends until it sees them stored (never twice).
 * Nothing here imports Node modules.
 *
 * @example
 * ```ts
 * import { connect } from 'stateline/realtime/client';
 * const client = connect('wss://chat.example.com/realtime');
 * client.on('message', (m) => render(m.from, m.text));
 * await client.join('lobby', { since: 0 });
 * await client.send('lobby', 'hello');
 * ```
 * @module
 */
import { ERROR_CATALOGUE, StatelineError, type ErrorCode } from '../errors.js';
import { backoff } from './backoff.js';
import {
  CLOSE_CODES,
  type ErrorFrame,
  type JoinedFrame,
  type MessageFrame,
  type PresenceFrame,
  type ServerFrame,
} from './protocol.js';

export type * from './protocol.js';
export { CLOSE_CODES } from './protocol.js';
export { backoff } from './backoff.js';

/** The part of the WebSocket API the client uses (browsers' WebSocket and `ws` both have it). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** A WebSocket class: `WebSocket` in browsers, `ws`'s in Node (the third argument carries `headers`). */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

export interface ClientOptions {
  /** Default: the browser's `WebSocket`; in Node the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Headers for the upgrade request, e.g. `{ cookie }` (only with `ws`; browsers send their cookies). */
  headers?: Record<string, string>;
  /** First reconnect delay in ms (default 100); doubles per failed attempt, with jitter. */
  minDelay?: number;
  /** Longest reconnect delay in ms (default 10,000). */
  maxDelay?: number;
  /** Send `ping` this often (default 20,000 ms); no frame within `pingTimeout` after it closes the link (4000) and reconnects. */
  pingInterval?: number;
  /** Default 10,000 ms. */
  pingTimeout?: number;
  /** Rejoin from the last offset when an offset is skipped (default true). */
  resyncOnGap?: boolean;
  /** Refuse larger `send` frames locally, as the hub would (default 16 KiB). */
  maxMessageBytes?: number;
  /** Name used in `from` when anonymous (`anon:<id>`): 8–64 of `A–Z a–z 0–9 _ -` (default random). */
  anonymousId?: string;
}

/** What the client emits. */
export interface ClientEvents {
  message: MessageFrame;
  presence: PresenceFrame;
  joined: JoinedFrame;
  open: { url: string };
  close: { code: number; reason: string; reconnectIn: number | null };
  error: ErrorFrame | StatelineError;
}

export interface ClientStats {
  /** Connections opened after the first. */
  reconnects: number;
  /** `message` frames dropped because their offset was already delivered. */
  duplicates: number;
  /** Times an offset was skipped (without `recovered: false` announcing it). */
  gaps: number;
  /** Sends written again after a reconnect or a transient refusal. */
  resent: number;
}

interface RoomState {
  name: string;
  epoch: string | undefined;
  /** Last offset delivered; `undefined` before the first join without `since`. */
  last: number | undefined;
  joined: boolean;
  /** From `joined.offset`: sends wait until this is delivered (the history may hold them). */
  catchUpTo: number | null;
  expectGap: boolean;
  resyncing: boolean;
  /** One timer per room for transient send failures, so resends keep the order of the sends. */
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  members: string[];
  waiters: Array<{ resolve: (f: JoinedFrame) => void; reject: (e: Error) => void }>;
}

interface Pending {
  room: string;
  id: string;
  text: string;
  resolve: (m: MessageFrame) => void;
  reject: (e: Error) => void;
  inFlight: boolean;
  attempts: number;
  /** Waiting for its room's retry timer after a transient failure. */
  held: boolean;
}

/** Errors after which a send may succeed later; anything else rejects it. */
const TRANSIENT = new Set([
  'SL_ERR_REALTIME_RATE_LIMITED',
  'SL_ERR_LOG_UNAVAILABLE',
  'SL_ERR_BUS_UNAVAILABLE',
  'SL_ERR_INTERNAL',
  'SL_ERR_REALTIME_NOT_JOINED',
  'SL_ERR_CLOSED',
]);
const OPEN = 1;

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return c?.randomUUID
    ? c.randomUUID().replace(/-/g, '').slice(0, 16)
    : Math.random().toString(36).slice(2, 18).padEnd(16, '0');
}

/** A code this version knows, else `SL_ERR_INTERNAL` (a newer hub may send codes we do not). */
const knownCode = (code: string): ErrorCode =>
  code in ERROR_CATALOGUE ? (code as ErrorCode) : 'SL_ERR_INTERNAL';

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
 * A realtime connection that survives instance failures. Created by {@link connect}.
 *
 * @example
 * ```ts
 * const client = connect(['ws://127.0.0.1:3001/realtime', 'ws://127.0.0.1:3002/realtime']);
 * const off = client.on('presence', (p) => console.log(p.room, p.members));
 * ```
 */
export class RealtimeClient {
  readonly stats: ClientStats = { reconnects: 0, duplicates: 0, gaps: 0, resent: 0 };
  private readonly urls: string[];
  private urlIndex = 0;
  private readonly rooms = new Map<string, RoomState>();
  private readonly outbox = new Map<string, Pending>();
  private readonly listeners = new Map<keyof ClientEvents, Set<(e: never) => void>>();
  private readonly anonymousId: string;
  private readonly clientId = randomId();
  private seq = 0;
  private ws: WebSocketLike | undefined;
  private ctor: WebSocketConstructor | undefined;
  private attempt = 0;
  private opens = 0;
  private openedAt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private stopped: StatelineError | undefined;
  private readonly o: Required<Omit<ClientOptions, 'WebSocket' | 'headers' | 'anonymousId'>> &
    Pick<ClientOptions, 'headers'>;
  private readonly encoder = new TextEncoder();

  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    this.urls = typeof url === 'string' ? [url] : [...url];
    if (this.urls.length === 0)
      throw new StatelineError('SL_ERR_INVALID_ARGUMENT', 'connect needs at least one URL');
    const anon = options.anonymousId ?? randomId();
    if (!/^[\w-]{8,64}$/.test(anon))
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'anonymousId must be 8-64 of A-Z a-z 0-9 _ -');
    this.anonymousId = anon;
    this.o = {
      minDelay: options.minDelay ?? 100,
      maxDelay: options.maxDelay ?? 10_000,
      pingInterval: options.pingInterval ?? 20_000,
      pingTimeout: options.pingTimeout ?? 10_000,
      resyncOnGap: options.resyncOnGap ?? true,
      maxMessageBytes: options.maxMessageBytes ?? 16 * 1024,
      ...(options.headers && { headers: options.headers }),
    };
    const ready = options.WebSocket ? Promise.resolve(options.WebSocket) : defaultWebSocket();
    ready.then(
      (ctor) => {
        this.ctor = ctor;
        if (!this.closed) this.open();
      },
      (err: StatelineError) => this.stop(err),
    );
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.ws?.readyState === OPEN;
  }

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(type: K, listener: (e: ClientEvents[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as (e: never) => void);
    return () => void set.delete(listener as (e: never) => void);
  }

  private emit<K extends keyof ClientEvents>(type: K, e: ClientEvents[K]): void {
    for (const l of [...(this.listeners.get(type) ?? [])]) {
      try {
        (l as (e: ClientEvents[K]) => void)(e);
      } catch (err) {
        setTimeout(() => {
          throw err; // reported like an event listener's error, without breaking delivery
        }, 0);
      }
    }
  }

  /**
   * Joins a room (and rejoins it after every reconnect, from the last offset delivered).
   * `since`: the last offset you have (0: all retained history; omitted: live only), with the
   * `epoch` it belongs to. Resolves on the first `joined`.
   */
  join(room: string, options: { since?: number; epoch?: string } = {}): Promise<JoinedFrame> {
    if (this.stopped) return Promise.reject(this.stopped);
    let r = this.rooms.get(room);
    if (!r) {
      r = {
        name: room,
        epoch: options.epoch,
        last: options.since,
        joined: false,
        catchUpTo: null,
        expectGap: false,
        resyncing: false,
        retryTimer: undefined,
        members: [],
        waiters: [],
      };
      this.rooms.set(room, r);
      this.sendJoin(r);
    }
    const state = r;
    return new Promise((resolve, reject) => state.waiters.push({ resolve, reject }));
  }

  /** Leaves a room; its unconfirmed sends are rejected. */
  leave(room: string): void {
    const r = this.rooms.get(room);
    if (!r) return;
    this.rooms.delete(room);
    clearTimeout(r.retryTimer);
    const gone = new StatelineError('SL_ERR_REALTIME_NOT_JOINED', `left ${room}`);
    for (const w of r.waiters.splice(0)) w.reject(gone);
    for (const p of [...this.outbox.values()]) if (p.room === room) this.settle(p, gone);
    this.write({ type: 'leave', room });
  }

  /**
   * Sends a message; resolves with it once it is stored (seen back with its offset). Survives
   * reconnects: an unconfirmed send is written again only if the history does not show it.
   */
  send(room: string, text: string, options: { id?: string } = {}): Promise<MessageFrame> {
    if (this.stopped) return Promise.reject(this.stopped);
    if (!this.rooms.has(room))
      return Promise.reject(
        new StatelineError('SL_ERR_REALTIME_NOT_JOINED', `join ${room} before sending to it`),
      );
    const id = options.id ?? `${this.clientId}-${++this.seq}`;
    if (this.outbox.has(id))
      return Promise.reject(
        new StatelineError('SL_ERR_INVALID_ARGUMENT', `a send with id ${id} is already pending`),
      );
    const size = this.frameBytes(room, id, text);
    if (size > this.o.maxMessageBytes)
      return Promise.reject(
        new StatelineError('SL_ERR_REALTIME_MESSAGE_TOO_LARGE', `${size} bytes > ${this.o.maxMessageBytes}`),
      );
    return new Promise((resolve, reject) => {
      const p: Pending = { room, id, text, resolve, reject, inFlight: false, attempts: 0, held: false };
      this.outbox.set(id, p);
      this.trySend(p);
    });
  }

  /** Where a room's delivery stands (persist it to resume after a page reload). */
  position(room: string): { epoch: string; offset: number } | undefined {
    const r = this.rooms.get(room);
    return r?.epoch !== undefined && r.last !== undefined ? { epoch: r.epoch, offset: r.last } : undefined;
  }

  /** The room's members from the last `presence` frame. */
  members(room: string): string[] {
    return [...(this.rooms.get(room)?.members ?? [])];
  }

  /** Closes for good: pending sends and joins are rejected with `SL_ERR_CLOSED`. */
  close(): void {
    this.stop(new StatelineError('SL_ERR_CLOSED', 'the realtime client was closed'));
  }

  private stop(err: StatelineError): void {
    if (this.closed) return;
    this.closed = true;
    this.stopped = err;
    clearTimeout(this.reconnectTimer);
    this.stopPing();
    for (const r of this.rooms.values()) {
      clearTimeout(r.retryTimer);
      for (const w of r.waiters.splice(0)) w.reject(err);
    }
    for (const p of [...this.outbox.values()]) this.settle(p, err);
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
    if (err.code !== 'SL_ERR_CLOSED') this.emit('error', err);
  }

  // ---- the connection --------------------------------------------------------------------

  private open(): void {
    if (this.closed || !this.ctor) return;
    const base = this.urls[this.urlIndex % this.urls.length]!;
    const url = `${base}${base.includes('?') ? '&' : '?'}anon=${this.anonymousId}`;
    let ws: WebSocketLike;
    try {
      ws = this.o.headers ? new this.ctor(url, [], { headers: this.o.headers }) : new this.ctor(url);
    } catch (err) {
      return this.stop(
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
      this.emit('open', { url: base });
      for (const r of this.rooms.values()) this.sendJoin(r);
    };
    ws.onmessage = (ev) => {
      this.alive();
      if (typeof ev.data !== 'string') return;
      let f: ServerFrame;
      try {
        f = JSON.parse(ev.data) as ServerFrame;
      } catch {
        return;
      }
      this.onFrame(f);
    };
    ws.onerror = () => {}; // a close event follows
    ws.onclose = (ev) => this.onClose(ws, ev.code, ev.reason);
  }

  private onClose(ws: WebSocketLike, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.ws = undefined;
    this.stopPing();
    for (const r of this.rooms.values()) {
      r.joined = false;
      r.resyncing = false;
    }
    if (code === CLOSE_CODES.MESSAGE_TOO_LARGE) this.refuseLargest();
    for (const p of this.outbox.values()) p.inFlight = false;
    if (this.closed) return;
    if (code === CLOSE_CODES.UNAUTHENTICATED) {
      this.emit('close', { code, reason, reconnectIn: null });
      return this.stop(
        new StatelineError('SL_ERR_REALTIME_UNAUTHENTICATED', 'the hub requires a logged-in session'),
      );
    }
    if (this.openedAt && Date.now() - this.openedAt > 5000) this.attempt = 0; // it had been healthy
    this.openedAt = 0;
    // Rate limited: start the backoff higher, the hub asked us to slow down.
    if (code === CLOSE_CODES.RATE_LIMITED) this.attempt = Math.max(this.attempt, 4);
    const delay = backoff(this.attempt++, this.o.minDelay, this.o.maxDelay);
    this.urlIndex++; // the next instance, if there are several
    this.emit('close', { code, reason, reconnectIn: delay });
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  /**
   * The hub closed the link over a frame above its `maxMessageBytes`: the largest send in flight
   * was it. Reject it (resending would only repeat the close) and refuse its size from now on.
   */
  private refuseLargest(): void {
    let worst: Pending | undefined;
    let size = 0;
    for (const p of this.outbox.values()) {
      if (!p.inFlight) continue;
      const n = this.frameBytes(p.room, p.id, p.text);
      if (n > size) [worst, size] = [p, n];
    }
    if (!worst) return;
    this.o.maxMessageBytes = Math.min(this.o.maxMessageBytes, size - 1);
    this.settle(
      worst,
      new StatelineError('SL_ERR_REALTIME_MESSAGE_TOO_LARGE', `the hub refused a ${size}-byte frame`),
    );
  }

  private frameBytes(room: string, id: string, text: string): number {
    return this.encoder.encode(JSON.stringify({ type: 'send', room, id, text })).length;
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

  private alive(): void {
    if (this.pongTimer) {
      clearTimeout(this.pongTimer);
      this.pongTimer = undefined;
    }
  }

  private write(frame: object): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  private sendJoin(r: RoomState): void {
    r.joined = false;
    const f: { type: 'join'; room: string; since?: number; epoch?: string } = { type: 'join', room: r.name };
    if (r.last !== undefined) f.since = r.last;
    if (r.epoch !== undefined) f.epoch = r.epoch;
    this.write(f);
  }

  // ---- frames --------------------------------------------------------------------------

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'message':
        return this.onMessage(f);
      case 'joined':
        return this.onJoined(f);
      case 'presence': {
        const r = this.rooms.get(f.room);
        if (!r) return;
        r.members = f.members;
        return this.emit('presence', f);
      }
      case 'error':
        return this.onError(f);
      case 'pong':
        return;
    }
  }

  private onJoined(f: JoinedFrame): void {
    const r = this.rooms.get(f.room);
    if (!r) return;
    if (r.last === undefined)
      r.last = f.offset; // live only: start at the head
    else if (r.epoch !== undefined && f.epoch !== r.epoch)
      r.last = 0; // a new history: it starts over
    else if (r.last > f.offset) r.last = 0; // an offset the history never reached: the hub starts over too
    r.epoch = f.epoch;
    r.joined = true;
    r.resyncing = false;
    r.expectGap = !f.recovered;
    r.catchUpTo = f.offset;
    for (const w of r.waiters.splice(0)) w.resolve(f);
    this.emit('joined', f);
    this.caughtUp(r);
  }

  private onMessage(f: MessageFrame): void {
    const r = this.rooms.get(f.room);
    if (!r || !r.joined || r.resyncing) return;
    const last = r.last ?? 0;
    if (f.offset <= last) {
      this.stats.duplicates++;
      return;
    }
    if (f.offset > last + 1 && !r.expectGap) {
      this.stats.gaps++;
      if (this.o.resyncOnGap) {
        r.resyncing = true;
        this.sendJoin(r);
        r.joined = true; // keep the state; `resyncing` holds messages back until the new `joined`
        return;
      }
    }
    r.expectGap = false;
    r.last = f.offset;
    const p = this.outbox.get(f.id);
    if (p && p.room === f.room) this.settle(p, null, f);
    this.emit('message', f);
    this.caughtUp(r);
  }

  private onError(f: ErrorFrame): void {
    const p = f.id !== undefined ? this.outbox.get(f.id) : undefined;
    if (p && p.room === f.room) {
      p.inFlight = false;
      const r = this.rooms.get(p.room);
      if (TRANSIENT.has(f.code) && r) {
        p.held = true;
        r.retryTimer ??= setTimeout(
          () => {
            r.retryTimer = undefined;
            // In the order the application sent them (the outbox keeps insertion order).
            for (const q of this.outbox.values()) {
              if (q.room !== r.name || !q.held) continue;
              q.held = false;
              this.trySend(q);
            }
          },
          f.retryAfter ?? backoff(p.attempts, 250, this.o.maxDelay),
        );
      } else this.settle(p, new StatelineError(knownCode(f.code), f.message));
    } else if (f.room !== undefined && f.id === undefined) {
      const r = this.rooms.get(f.room);
      if (r && !r.joined) {
        if (TRANSIENT.has(f.code)) {
          setTimeout(
            () => this.rooms.get(f.room!) === r && !r.joined && this.sendJoin(r),
            backoff(1, 250, this.o.maxDelay),
          );
        } else {
          // Refused for good (forbidden, unauthenticated, too many rooms): forget the room.
          this.rooms.delete(f.room);
          for (const w of r.waiters.splice(0)) w.reject(new StatelineError(knownCode(f.code), f.message));
        }
      }
    }
    this.emit('error', f);
  }

  private caughtUp(r: RoomState): void {
    if (r.catchUpTo === null || (r.last ?? 0) < r.catchUpTo) return;
    r.catchUpTo = null;
    for (const p of this.outbox.values()) if (p.room === r.name) this.trySend(p);
  }

  /** Writes a send if its room is joined and caught up (so history has shown whether it was stored). */
  private trySend(p: Pending): void {
    const r = this.rooms.get(p.room);
    if (p.inFlight || p.held || !r || !r.joined || r.resyncing || r.catchUpTo !== null) return;
    if (!this.write({ type: 'send', room: p.room, id: p.id, text: p.text })) return;
    if (p.attempts++ > 0) this.stats.resent++;
    p.inFlight = true;
  }

  private settle(p: Pending, err: Error | null, m?: MessageFrame): void {
    this.outbox.delete(p.id);
    if (err) p.reject(err);
    else p.resolve(m!);
  }
}

/**
 * Opens a realtime client. With several URLs (instances), each reconnect tries the next one.
 *
 * @example
 * ```ts
 * // Node, authenticated by the session cookie:
 * import WebSocket from 'ws';
 * const client = connect('ws://127.0.0.1:3000/realtime', { WebSocket, headers: { cookie } });
 * // Browser:
 * const client = connect(`wss://${location.host}/realtime`);
 * ```
 */
export function connect(url: string | readonly string[], options: ClientOptions = {}): RealtimeClient {
  return new RealtimeClient(url, options);
}
