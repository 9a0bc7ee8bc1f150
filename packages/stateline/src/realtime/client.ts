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
import { ClientEmitter } from './client-emitter.js';
import { ClientLink } from './client-link.js';
import { Outbox, TRANSIENT, type Pending } from './client-outbox.js';
import { ClientRoom } from './client-room.js';
import type { ClientEvents, ClientOptions, ClientStats } from './client-types.js';
import type { ErrorFrame, JoinedFrame, MessageFrame, ServerFrame } from './protocol.js';

export type * from './protocol.js';
export type {
  ClientEvents,
  ClientOptions,
  ClientStats,
  WebSocketConstructor,
  WebSocketLike,
} from './client-types.js';
export { CLOSE_CODES } from './protocol.js';
export { backoff } from './backoff.js';

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return c?.randomUUID
    ? c.randomUUID().replace(/-/g, '').slice(0, 16)
    : Math.random().toString(36).slice(2, 18).padEnd(16, '0');
}

/** A code this version knows, else `SL_ERR_INTERNAL` (a newer hub may send codes we do not). */
const knownCode = (code: string): ErrorCode =>
  code in ERROR_CATALOGUE ? (code as ErrorCode) : 'SL_ERR_INTERNAL';

/**
 * A realtime connection that survives instance failures. Created by {@link connect}. Its parts:
 * the connection state machine (`ClientLink`), each room's resume bookkeeping (`ClientRoom`) and
 * the unconfirmed sends (`Outbox`); this class is the API and routes frames between them.
 *
 * @example
 * ```ts
 * const client = connect(['ws://127.0.0.1:3001/realtime', 'ws://127.0.0.1:3002/realtime']);
 * const off = client.on('presence', (p) => console.log(p.room, p.members));
 * ```
 */
export class RealtimeClient {
  readonly stats: ClientStats = { reconnects: 0, duplicates: 0, gaps: 0, resent: 0 };
  private readonly rooms = new Map<string, ClientRoom>();
  private readonly outbox: Outbox;
  private readonly events = new ClientEmitter();
  private readonly link: ClientLink;
  private readonly clientId = randomId();
  private readonly maxDelay: number;
  private readonly resyncOnGap: boolean;
  private seq = 0;
  private stopped: StatelineError | undefined;

  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    const urls = typeof url === 'string' ? [url] : [...url];
    if (urls.length === 0)
      throw new StatelineError('SL_ERR_INVALID_ARGUMENT', 'connect needs at least one URL');
    const anon = options.anonymousId ?? randomId();
    if (!/^[\w-]{8,64}$/.test(anon))
      throw new StatelineError('SL_ERR_INVALID_OPTION', 'anonymousId must be 8-64 of A-Z a-z 0-9 _ -');
    this.maxDelay = options.maxDelay ?? 10_000;
    this.resyncOnGap = options.resyncOnGap ?? true;
    this.outbox = new Outbox(options.maxMessageBytes ?? 16 * 1024);
    const timing = {
      minDelay: options.minDelay ?? 100,
      maxDelay: this.maxDelay,
      pingInterval: options.pingInterval ?? 20_000,
      pingTimeout: options.pingTimeout ?? 10_000,
      ...(options.headers && { headers: options.headers }),
    };
    this.link = new ClientLink(urls, anon, timing, this.stats, {
      opened: (base) => {
        this.events.emit('open', { url: base });
        for (const r of this.rooms.values()) this.sendJoin(r);
      },
      frame: (f) => this.onFrame(f),
      lost: (code) => {
        for (const r of this.rooms.values()) r.disconnected();
        this.outbox.lost(code);
      },
      closed: (code, reason, reconnectIn) => this.events.emit('close', { code, reason, reconnectIn }),
      failed: (err) => this.stop(err),
    });
    this.link.start(options.WebSocket);
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.link.connected;
  }

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(type: K, listener: (e: ClientEvents[K]) => void): () => void {
    return this.events.on(type, listener);
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
      r = new ClientRoom(room, options.since, options.epoch);
      this.rooms.set(room, r);
      this.sendJoin(r);
    }
    return r.wait();
  }

  /** Leaves a room; its unconfirmed sends are rejected. */
  leave(room: string): void {
    const r = this.rooms.get(room);
    if (!r) return;
    this.rooms.delete(room);
    const gone = new StatelineError('SL_ERR_REALTIME_NOT_JOINED', `left ${room}`);
    r.fail(gone);
    this.outbox.rejectRoom(room, gone);
    this.link.write({ type: 'leave', room });
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
    const tooLarge = this.outbox.oversize(room, id, text);
    if (tooLarge) return Promise.reject(tooLarge);
    return new Promise((resolve, reject) => {
      const p: Pending = { room, id, text, resolve, reject, inFlight: false, attempts: 0, held: false };
      this.outbox.add(p);
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
    if (this.stopped) return;
    this.stopped = err;
    for (const r of this.rooms.values()) r.fail(err);
    this.outbox.rejectAll(err);
    this.link.close();
    if (err.code !== 'SL_ERR_CLOSED') this.events.emit('error', err);
  }

  private sendJoin(r: ClientRoom): void {
    this.link.write(r.joinFrame());
  }

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
        return this.events.emit('presence', f);
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
    r.onJoined(f);
    this.events.emit('joined', f);
    this.caughtUp(r);
  }

  private onMessage(f: MessageFrame): void {
    const r = this.rooms.get(f.room);
    if (!r) return;
    switch (r.arrival(f.offset)) {
      case 'ignored':
        return;
      case 'duplicate':
        this.stats.duplicates++;
        return;
      case 'gap':
        this.stats.gaps++;
        if (this.resyncOnGap) return void this.link.write(r.resyncFrame());
        break;
      case 'next':
        break;
    }
    r.delivered(f.offset);
    const p = this.outbox.get(f.id);
    if (p && p.room === f.room) this.outbox.settle(p, null, f);
    this.events.emit('message', f);
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
          () => this.resend(r),
          f.retryAfter ?? backoff(p.attempts, 250, this.maxDelay),
        );
      } else this.outbox.settle(p, new StatelineError(knownCode(f.code), f.message));
    } else if (f.room !== undefined && f.id === undefined) {
      const r = this.rooms.get(f.room);
      if (r && !r.joined) {
        if (TRANSIENT.has(f.code)) {
          setTimeout(
            () => this.rooms.get(r.name) === r && !r.joined && this.sendJoin(r),
            backoff(1, 250, this.maxDelay),
          );
        } else {
          // Refused for good (forbidden, unauthenticated, too many rooms): forget the room.
          this.rooms.delete(f.room);
          r.refuse(new StatelineError(knownCode(f.code), f.message));
        }
      }
    }
    this.events.emit('error', f);
  }

  /** The room's retry timer fired: its held sends go again, in the order the application sent them. */
  private resend(r: ClientRoom): void {
    r.retryTimer = undefined;
    for (const q of this.outbox.values()) {
      if (q.room !== r.name || !q.held) continue;
      q.held = false;
      this.trySend(q);
    }
  }

  private caughtUp(r: ClientRoom): void {
    if (!r.caughtUp()) return;
    for (const p of this.outbox.values()) if (p.room === r.name) this.trySend(p);
  }

  /** Writes a send if its room is joined and caught up (so history has shown whether it was stored). */
  private trySend(p: Pending): void {
    const r = this.rooms.get(p.room);
    if (p.inFlight || p.held || !r || !r.writable) return;
    if (!this.link.write({ type: 'send', room: p.room, id: p.id, text: p.text })) return;
    if (p.attempts++ > 0) this.stats.resent++;
    p.inFlight = true;
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
