import { STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { requestContext } from '../session/request-context.js';
import type { Bus } from '../bus/types.js';
import { ERROR_CATALOGUE, StatelineError, isStatelineError, type ErrorCode } from '../errors.js';
import type { Log } from '../log/types.js';
import type { SessionManager } from '../session/types.js';
import { Connection } from './connection.js';
import type { ResolvedHubOptions } from './options.js';
import {
  CLOSE_CODES,
  ROOM_NAME,
  parseClientFrame,
  type JoinFrame,
  type Parsed,
  type SendFrame,
} from './protocol.js';
import { TokenBucket } from './rate-limit.js';
import { catchUp } from './resume.js';
import { Room, type Member, type RoomContext } from './room.js';
import type { Hub, HubOptions, HubStats, Identity, RoomPolicy } from './types.js';
import type { WsModule } from './ws-peer.js';

/** Anonymous ids a client may bring (`?anon=`) so it keeps one name across reconnects. */
const ANON_ID = /^[\w-]{8,64}$/;
/** An unused room stays subscribed this long, so a quick rejoin (a reconnect) finds it warm. */
const LINGER_MS = 1000;
const noop = () => {};

interface Slot {
  room: Room;
  ready: Promise<void>;
  refs: number;
  linger: NodeJS.Timeout | undefined;
}

/** A socket's standing in a room it asked to join. */
interface Joined {
  gen: number;
  canSend: boolean;
}

/** Writes a plain HTTP answer on an upgrade socket and closes it. */
function refuse(socket: Duplex, status: number, detail: string): void {
  if (socket.destroyed) return;
  const body = `${detail}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** The room and message id a frame named, for the `error` frame that refuses it. */
function refOf(p: Parsed): { room?: string; id?: string } {
  const src: { room?: string; id?: string } = p.ok ? (p.frame as { room?: string; id?: string }) : p;
  return { ...(src.room !== undefined && { room: src.room }), ...(src.id !== undefined && { id: src.id }) };
}

const codeOf = (err: unknown, fallback: ErrorCode): string => (isStatelineError(err) ? err.code : fallback);

/** The hub behind {@link createHub}. */
export class RealtimeHub implements Hub {
  private readonly counters = {
    deliveries: 0,
    appended: 0,
    dropped: 0,
    slowConsumers: 0,
    gapReads: 0,
    duplicates: 0,
  };
  private readonly wss: WebSocketServer;
  private readonly conns = new Map<Connection, Map<string, Joined>>();
  private readonly slots = new Map<string, Slot>();
  private readonly ctx: RoomContext;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly detachers = new Set<() => void>();
  private readonly warned = new Map<string, number>();
  private readonly offBus: () => void;
  private gen = 0;
  private closed = false;

  constructor(
    private readonly o: ResolvedHubOptions,
    ws: WsModule,
    log: Log,
    bus: Bus,
    private readonly sessions: SessionManager | undefined,
    private readonly rooms: HubOptions['rooms'],
    private readonly owned: Array<Log | Bus>,
  ) {
    this.wss = new ws.WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: o.maxPayload,
      clientTracking: false,
    });
    this.wss.on('error', noop);
    const stats = this.counters as HubStats;
    this.ctx = {
      log,
      bus,
      instanceId: o.instanceId,
      prefix: o.prefix,
      heartbeat: o.heartbeat,
      reorderWait: o.reorderWait,
      dedupWindow: o.dedupWindow,
      queueLimit: o.queueLimit,
      flushInterval: o.flushInterval,
      stats,
      warn: (m, e) => this.warn(m, e),
    };
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(o.heartbeat, () => {
      const now = Date.now();
      for (const s of this.slots.values()) s.room.tick(now);
    });
    every(Math.max(5, Math.floor(o.heartbeat / 4)), () => {
      const now = Date.now();
      for (const s of this.slots.values()) s.room.expire(now);
    });
    if (o.pingInterval !== false) every(o.pingInterval, () => this.pingAll());
    // Back from a Bus outage: whatever was published meanwhile is in the Log.
    this.offBus = bus.onConnectionChange((up) => {
      if (up) for (const s of this.slots.values()) void s.room.fill();
    });
  }

  get instanceId(): string {
    return this.o.instanceId;
  }

  get stats(): Readonly<HubStats> {
    return { ...this.counters, connections: this.conns.size, rooms: this.slots.size };
  }

  members(room: string): string[] {
    return [...(this.slots.get(room)?.room.presence.members() ?? [])];
  }

  attach(server: HttpServer | HttpsServer): () => void {
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === this.o.path) return this.handleUpgrade(req, socket, head);
      // Nobody else answers upgrades here: do not leave the client hanging.
      if (server.listenerCount('upgrade') === 1) refuse(socket, 404, `no WebSocket endpoint at ${path}`);
    };
    server.on('upgrade', onUpgrade);
    const detach = () => {
      server.off('upgrade', onUpgrade);
      this.detachers.delete(detach);
    };
    this.detachers.add(detach);
    return detach;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', noop); // a reset during the handshake must not crash the process
    this.upgrade(req, socket, head).catch((err: unknown) => {
      this.warn('realtime: upgrade failed', err);
      refuse(socket, 500, 'SL_ERR_INTERNAL');
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.closed) return refuse(socket, 503, 'the realtime hub is shutting down');
    if (!this.originAllowed(req))
      return refuse(socket, 403, 'this Origin may not open a realtime connection');
    let userId: string | null = null;
    let handle: string | null = null;
    if (this.sessions) {
      try {
        const s = await this.sessions.load(requestContext(req));
        userId = s.userId;
        handle = s.handle;
      } catch (err) {
        return refuse(socket, isStatelineError(err) ? err.status : 500, codeOf(err, 'SL_ERR_INTERNAL'));
      }
    }
    if (socket.destroyed || this.closed) return;
    const anon = new URL(req.url ?? '/', 'http://h').searchParams.get('anon');
    const who: Identity = {
      userId,
      handle,
      name: userId ?? `anon:${anon && ANON_ID.test(anon) ? anon : randomUUID()}`,
    };
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket, who));
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || this.o.origins === '*') return true; // non-browser clients send none
    if (Array.isArray(this.o.origins)) return this.o.origins.includes(origin);
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }

  private onConnection(ws: WebSocket, raw: Duplex, who: Identity): void {
    ws.on('error', noop); // ws closes the socket itself; nothing to add
    if (this.closed) return void ws.close(CLOSE_CODES.GOING_AWAY, 'SL_ERR_CLOSED');
    if (who.userId === null && !this.o.anonymous)
      return void ws.close(CLOSE_CODES.UNAUTHENTICATED, 'SL_ERR_REALTIME_UNAUTHENTICATED');
    const r = this.o.rateLimit;
    const conn = new Connection(
      ws,
      raw,
      who,
      r ? new TokenBucket(r.messages, r.per, r.burst) : null,
      this.o.queueLimit,
      this.o.slowConsumer,
      {
        dropped: (n) => (this.counters.dropped += n),
        slow: () => this.counters.slowConsumers++,
        delivered: (n) => (this.counters.deliveries += n),
      },
    );
    this.conns.set(conn, new Map());
    ws.on('message', (data, isBinary) => this.onFrame(conn, data, isBinary));
    ws.on('pong', () => (conn.alive = true));
    ws.once('close', () => this.onClose(conn));
  }

  private pingAll(): void {
    for (const conn of this.conns.keys()) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      try {
        conn.ws.ping();
      } catch {
        conn.ws.terminate();
      }
    }
  }

  private error(
    conn: Connection,
    code: string,
    message: string,
    extra: { room?: string; id?: string; retryAfter?: number } = {},
  ): void {
    conn.send({ type: 'error', code, message, ...extra });
  }

  private onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (buf.length > this.o.maxMessageBytes)
      return conn.close(CLOSE_CODES.MESSAGE_TOO_LARGE, 'SL_ERR_REALTIME_MESSAGE_TOO_LARGE');
    const bucket = conn.bucket;
    if (bucket && !bucket.take()) {
      if (bucket.flooding) return conn.close(CLOSE_CODES.RATE_LIMITED, 'SL_ERR_REALTIME_RATE_LIMITED');
      const ref = isBinary ? {} : refOf(parseClientFrame(buf.toString('utf8')));
      return this.error(conn, 'SL_ERR_REALTIME_RATE_LIMITED', 'too many frames: wait retryAfter ms', {
        ...ref,
        retryAfter: bucket.retryAfter(),
      });
    }
    if (isBinary)
      return this.error(conn, 'SL_ERR_REALTIME_BAD_FRAME', 'binary frames are not part of the protocol');
    const p = parseClientFrame(buf.toString('utf8'));
    if (!p.ok) return this.error(conn, 'SL_ERR_REALTIME_BAD_FRAME', p.why, refOf(p));
    const f = p.frame;
    switch (f.type) {
      case 'ping':
        return conn.send({ type: 'pong' });
      case 'join':
        return void this.join(conn, f).catch((err: unknown) => this.failed(conn, err, f.room));
      case 'leave':
        return this.leave(conn, f.room);
      case 'send':
        return void this.send(conn, f).catch((err: unknown) => this.failed(conn, err, f.room, f.id));
    }
  }

  private failed(conn: Connection, err: unknown, room: string, id?: string): void {
    const code = codeOf(err, 'SL_ERR_INTERNAL');
    if (code === 'SL_ERR_INTERNAL') this.warn('realtime: a frame failed', err);
    const message =
      code === 'SL_ERR_INTERNAL'
        ? ERROR_CATALOGUE.SL_ERR_INTERNAL.message
        : err instanceof Error
          ? err.message
          : String(err);
    this.error(conn, code, message, { room, ...(id !== undefined && { id }) });
  }

  private async policy(room: string): Promise<RoomPolicy | null> {
    if (!this.rooms) return {};
    return (await this.rooms(room)) ?? null;
  }

  private async join(conn: Connection, f: JoinFrame): Promise<void> {
    const joins = this.conns.get(conn);
    if (!joins) return;
    const again = joins.has(f.room);
    if (!again && joins.size >= this.o.maxRoomsPerSocket)
      return this.error(
        conn,
        'SL_ERR_REALTIME_TOO_MANY_ROOMS',
        `a socket may be in at most ${this.o.maxRoomsPerSocket} rooms`,
        { room: f.room },
      );
    // A second join of the same room is a resync from `since`: the old membership ends first.
    if (again) this.leave(conn, f.room);
    const gen = ++this.gen;
    const entry: Joined = { gen, canSend: false };
    joins.set(f.room, entry);
    const current = () => this.conns.get(conn)?.get(f.room) === entry && conn.open;
    const who = conn.who;
    const deny = (code: ErrorCode, message: string) => {
      joins.delete(f.room);
      this.error(conn, code, message, { room: f.room });
    };
    try {
      const policy = await this.policy(f.room);
      if (!current()) return;
      if (!policy) return deny('SL_ERR_REALTIME_FORBIDDEN', 'no such room');
      if (who.userId === null && !(policy.anonymous ?? !this.sessions))
        return deny('SL_ERR_REALTIME_UNAUTHENTICATED', 'this room needs a logged-in session');
      if (policy.canJoin && !(await policy.canJoin(who)))
        return current() ? deny('SL_ERR_REALTIME_FORBIDDEN', 'you may not join this room') : undefined;
      entry.canSend = policy.canSend ? policy.canSend(who) : true;
    } catch (err) {
      // The application's policy threw: the join does not happen.
      if (current()) {
        joins.delete(f.room);
        this.failed(conn, err, f.room);
      }
      return;
    }
    if (!current()) return;
    let room: Room;
    try {
      room = await this.acquire(f.room);
    } catch (err) {
      if (current()) {
        joins.delete(f.room);
        this.failed(conn, err, f.room);
      }
      return;
    }
    if (!current()) return this.release(f.room, room);
    const m: Member = { conn, last: 0, catching: [], overflow: false, restart: false, joined: false };
    room.add(m);
    try {
      await catchUp(room, m, f.since, f.epoch);
    } catch (err) {
      if (room.members.get(conn) !== m) return;
      room.remove(conn);
      this.release(f.room, room);
      if (current()) {
        joins.delete(f.room);
        this.failed(conn, err, f.room);
      }
    }
  }

  private leave(conn: Connection, name: string): void {
    const joins = this.conns.get(conn);
    joins?.delete(name);
    const slot = this.slots.get(name);
    if (slot && slot.room.remove(conn)) this.release(name, slot.room);
  }

  private async send(conn: Connection, f: SendFrame): Promise<void> {
    const entry = this.conns.get(conn)?.get(f.room);
    if (!entry)
      return this.error(conn, 'SL_ERR_REALTIME_NOT_JOINED', 'join the room before sending to it', {
        room: f.room,
        id: f.id,
      });
    if (!entry.canSend)
      return this.error(conn, 'SL_ERR_REALTIME_FORBIDDEN', 'you may not send to this room', {
        room: f.room,
        id: f.id,
      });
    const slot = this.slots.get(f.room);
    // Joined but the room is still being set up here: a transient room stores it all the same.
    const room = slot ? (await slot.ready, slot.room) : new Room(f.room, this.ctx);
    if (room.isDuplicate(conn.who.name, f.id)) {
      this.counters.duplicates++;
      return;
    }
    await room.append(conn.who.name, f.id, f.text);
  }

  async publish(
    room: string,
    text: string,
    options: { from?: string; id?: string } = {},
  ): Promise<{ offset: number; epoch: string }> {
    if (this.closed) throw new StatelineError('SL_ERR_CLOSED', 'the realtime hub was closed');
    if (typeof room !== 'string' || !ROOM_NAME.test(room))
      throw new StatelineError('SL_ERR_INVALID_ARGUMENT', `invalid room name ${JSON.stringify(room)}`);
    if (typeof text !== 'string')
      throw new StatelineError('SL_ERR_INVALID_ARGUMENT', 'text must be a string');
    const slot = this.slots.get(room);
    if (slot) await slot.ready.catch(noop);
    const r = slot && !slot.room.closed ? slot.room : new Room(room, this.ctx);
    return r.append(options.from ?? 'system', options.id ?? randomUUID(), text);
  }

  // ---- room slots ---------------------------------------------------------------------

  private async acquire(name: string): Promise<Room> {
    let slot = this.slots.get(name);
    if (slot) {
      clearTimeout(slot.linger);
      slot.linger = undefined;
      slot.refs++;
    } else {
      const room = new Room(name, this.ctx);
      const created: Slot = { room, ready: room.activate(), refs: 1, linger: undefined };
      slot = created;
      this.slots.set(name, created);
      created.ready.catch(() => {
        if (this.slots.get(name) === created) this.slots.delete(name);
      });
    }
    try {
      await slot.ready;
    } catch (err) {
      slot.refs--;
      throw err;
    }
    return slot.room;
  }

  private release(name: string, room: Room): void {
    const slot = this.slots.get(name);
    if (!slot || slot.room !== room) return;
    if (--slot.refs > 0) return;
    clearTimeout(slot.linger);
    slot.linger = setTimeout(() => {
      if (this.slots.get(name) !== slot || slot.refs > 0) return;
      this.slots.delete(name);
      void slot.room.deactivate();
    }, LINGER_MS);
    slot.linger.unref();
  }

  private onClose(conn: Connection): void {
    const joins = this.conns.get(conn);
    this.conns.delete(conn);
    conn.dispose();
    if (!joins) return;
    for (const name of [...joins.keys()]) {
      const slot = this.slots.get(name);
      if (slot && slot.room.remove(conn)) this.release(name, slot.room);
    }
  }

  private warn(message: string, err?: unknown): void {
    const now = Date.now();
    if ((this.warned.get(message) ?? 0) > now) return; // one of each per 10 s: outages repeat
    if (this.warned.size > 1000) this.warned.clear();
    this.warned.set(message, now + 10_000);
    const why = err === undefined ? '' : `: ${err instanceof Error ? err.message : String(err)}`;
    process.emitWarning(`${message}${why}`, 'StatelineRealtimeWarning');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.offBus();
    for (const d of [...this.detachers]) d();
    for (const conn of [...this.conns.keys()]) conn.close(CLOSE_CODES.GOING_AWAY, 'SL_ERR_CLOSED');
    const rooms = [...this.slots.values()];
    this.slots.clear();
    for (const s of rooms) clearTimeout(s.linger);
    await Promise.all(rooms.map((s) => s.ready.then(() => s.room.deactivate(), noop)));
    await new Promise<void>((r) => this.wss.close(() => r()));
    for (const o of this.owned.reverse()) await o.close().catch(noop);
  }
}
