import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { Bus } from '../bus/types.js';
import { ERROR_CATALOGUE, StatelineError, isStatelineError, type ErrorCode } from '../errors.js';
import type { Log } from '../log/types.js';
import type { SessionManager } from '../session/types.js';
import { Connection } from './connection.js';
import type { Member } from './membership.js';
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
import type { Room } from './room.js';
import type { RoomContext } from './room-context.js';
import { RoomRegistry } from './room-registry.js';
import type { Hub, HubOptions, HubStats, Identity, RoomPolicy } from './types.js';
import { UpgradeGate } from './upgrade.js';
import { warnSparingly } from './warnings.js';
import type { WsModule } from './ws-peer.js';

const noop = () => {};

/** A socket's standing in a room it asked to join. */
interface Joined {
  gen: number;
  canSend: boolean;
}

/** The room and message id a frame named, for the `error` frame that refuses it. */
function refOf(p: Parsed): { room?: string; id?: string } {
  const src: { room?: string; id?: string } = p.ok ? (p.frame as { room?: string; id?: string }) : p;
  return { ...(src.room !== undefined && { room: src.room }), ...(src.id !== undefined && { id: src.id }) };
}

const codeOf = (err: unknown, fallback: ErrorCode): string => (isStatelineError(err) ? err.code : fallback);

/**
 * The hub behind {@link createHub}: the sockets {@link UpgradeGate} accepts, their frames (inbound
 * limits, room policy, join with resume, leave, send) and the server-side `publish`, over the
 * rooms of a {@link RoomRegistry}.
 */
export class RealtimeHub implements Hub {
  private readonly counters = {
    deliveries: 0,
    appended: 0,
    dropped: 0,
    slowConsumers: 0,
    gapReads: 0,
    duplicates: 0,
  };
  private readonly gate: UpgradeGate;
  private readonly registry: RoomRegistry;
  private readonly conns = new Map<Connection, Map<string, Joined>>();
  private readonly pingTimer: NodeJS.Timeout | undefined;
  private readonly warn: (message: string, err?: unknown) => void;
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
    this.warn = warnSparingly(o.logger);
    const ctx: RoomContext = {
      log,
      bus,
      instanceId: o.instanceId,
      prefix: o.prefix,
      heartbeat: o.heartbeat,
      reorderWait: o.reorderWait,
      dedupWindow: o.dedupWindow,
      queueLimit: o.queueLimit,
      flushInterval: o.flushInterval,
      stats: this.counters as HubStats,
      warn: this.warn,
    };
    this.gate = new UpgradeGate(
      o,
      ws,
      sessions,
      (w, raw, who, batches) => this.adopt(w, raw, who, batches),
      this.warn,
    );
    this.registry = new RoomRegistry(ctx);
    if (o.pingInterval !== false) {
      this.pingTimer = setInterval(() => this.pingAll(), o.pingInterval);
      this.pingTimer.unref();
    }
  }

  get instanceId(): string {
    return this.o.instanceId;
  }

  get stats(): Readonly<HubStats> {
    return { ...this.counters, connections: this.conns.size, rooms: this.registry.size };
  }

  members(room: string): string[] {
    return [...(this.registry.slot(room)?.room.presence.members() ?? [])];
  }

  attach(server: HttpServer | HttpsServer): () => void {
    return this.gate.attach(server);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.gate.handleUpgrade(req, socket, head);
  }

  private adopt(ws: WebSocket, raw: Duplex, who: Identity, batches: boolean): void {
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
      batches,
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
      room = await this.registry.acquire(f.room);
    } catch (err) {
      if (current()) {
        joins.delete(f.room);
        this.failed(conn, err, f.room);
      }
      return;
    }
    if (!current()) return this.registry.release(f.room, room);
    const m: Member = { conn, last: 0, catching: [], overflow: false, restart: false, joined: false };
    room.add(m);
    try {
      await catchUp(room, m, f.since, f.epoch);
    } catch (err) {
      if (room.members.get(conn) !== m) return;
      room.remove(conn);
      this.registry.release(f.room, room);
      if (current()) {
        joins.delete(f.room);
        this.failed(conn, err, f.room);
      }
    }
  }

  private leave(conn: Connection, name: string): void {
    const joins = this.conns.get(conn);
    joins?.delete(name);
    const slot = this.registry.slot(name);
    if (slot && slot.room.remove(conn)) this.registry.release(name, slot.room);
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
    const slot = this.registry.slot(f.room);
    // Joined but the room is still being set up here: a transient room stores it all the same.
    const room = slot ? (await slot.ready, slot.room) : this.registry.transient(f.room);
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
    const slot = this.registry.slot(room);
    if (slot) await slot.ready.catch(noop);
    const r = slot && !slot.room.closed ? slot.room : this.registry.transient(room);
    return r.append(options.from ?? 'system', options.id ?? randomUUID(), text);
  }

  private onClose(conn: Connection): void {
    const joins = this.conns.get(conn);
    this.conns.delete(conn);
    conn.dispose();
    if (!joins) return;
    for (const name of [...joins.keys()]) {
      const slot = this.registry.slot(name);
      if (slot && slot.room.remove(conn)) this.registry.release(name, slot.room);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    this.gate.stop();
    for (const conn of [...this.conns.keys()]) conn.close(CLOSE_CODES.GOING_AWAY, 'SL_ERR_CLOSED');
    await this.registry.close();
    await this.gate.close();
    for (const o of this.owned.reverse()) await o.close().catch(noop);
  }
}
