import type { Logger } from '../logger.js';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Bus, BusSpec } from '../bus/types.js';
import type { Log, LogSpec, Retention } from '../log/types.js';
import type { Duration, SessionManager } from '../session/types.js';

/** Who is on a socket: fixed when the connection is upgraded. */
export interface Identity {
  /** The session's user, or `null` when anonymous. */
  userId: string | null;
  /** The session's opaque handle (`null` when there is no saved session). */
  handle: string | null;
  /** What `message.from` and presence show: the user id, or `anon:<id>` for anonymous sockets. */
  name: string;
}

/** What a room allows; `rooms(name)` returns it (or `null`: the room does not exist). */
export interface RoomPolicy {
  /** Sockets without a logged-in session may join (default: true without `sessions`, false with). */
  anonymous?: boolean;
  /** Extra check per join (e.g. membership of a private room); false refuses with `SL_ERR_REALTIME_FORBIDDEN`. */
  canJoin?: (who: Identity) => boolean | Promise<boolean>;
  /** Extra check per send (e.g. read-only announcement rooms). */
  canSend?: (who: Identity) => boolean;
}

/** Per-socket inbound allowance: a token bucket over every frame the client sends. */
export interface RateLimit {
  /** Frames per `per` (refill rate). */
  messages: number;
  /** Default `'1s'`. */
  per?: Duration;
  /** Bucket size, and how many refused frames in a row close the socket with 4429 (default `2 × messages`). */
  burst?: number;
}

/** Options of {@link createHub}. Unknown keys are refused with `SL_ERR_INVALID_OPTION`. */
export interface HubOptions {
  /** Attach to this server at once (same as `hub.attach(server)`). */
  server?: HttpServer | HttpsServer;
  /** Upgrade path `attach()` answers (default `'/realtime'`); other paths are left to other listeners. */
  path?: string;
  /** Where room history lives. A spec is opened (with `history` as its retention) and closed by the hub. */
  log: Log | LogSpec;
  /** How instances tell each other about new messages and presence. A spec is opened and closed by the hub. */
  bus: Bus | BusSpec;
  /** Authenticates the upgrade request by its session cookie. Without it every socket is anonymous. */
  sessions?: SessionManager;
  /** Room policy per name; default: every valid name exists with the default policy. */
  rooms?: (room: string) => RoomPolicy | null | undefined | Promise<RoomPolicy | null | undefined>;
  /** Accept sockets without a logged-in session at all (default true); false closes them with 4401. */
  anonymous?: boolean;
  /** Allowed `Origin`s for browser upgrades: a list of origins, `'*'`, or (default) `'same-host'`. */
  origins?: readonly string[] | '*' | 'same-host';
  /** Retention of each room's history, when `log` is a spec (default: the Log's, 10,000 messages). */
  history?: Retention;
  /** Presence heartbeat: how often each instance republishes its members (default `'5s'`); a silent instance's members go after 2.5 of its heartbeats. */
  heartbeat?: Duration;
  /** WebSocket ping interval; a socket that did not answer the previous ping is dropped (default `'30s'`, false: never). */
  pingInterval?: Duration | false;
  /** Frames that may wait for one socket beyond its socket buffer before `slowConsumer` applies (default 1024). */
  queueLimit?: number;
  /** `'disconnect'` (default): close with 4507, the client resumes. `'drop-oldest'`: discard the oldest waiting frames (the client sees a gap in offsets). */
  slowConsumer?: 'disconnect' | 'drop-oldest';
  /** Largest inbound frame in bytes (default 16 KiB); a larger one closes the socket with 4413. */
  maxMessageBytes?: number;
  /** Inbound frames per socket (default 20 per second, burst 40); false: unlimited. */
  rateLimit?: RateLimit | false;
  /** Most rooms one socket may be in (default 32). */
  maxRoomsPerSocket?: number;
  /** How long an out-of-order message waits for the ones before it before the Log is read (default `'50ms'`). */
  reorderWait?: Duration;
  /**
   * Fan-out coalescing under load (default `'10ms'`). A quiet room writes a message at the end of
   * the event-loop turn it arrived in; once a room flushes faster than its sockets' write budget
   * allows (about 100 socket writes per ms: every 1 ms for 100 members), it flushes at most once
   * per this window, so one syscall carries several messages. 0: always at the end of the turn.
   */
  flushInterval?: Duration;
  /** Recent `(from, id)` pairs remembered per room to refuse duplicate sends (default 4096). */
  dedupWindow?: number;
  /** This instance's name in presence (default: random). */
  instanceId?: string;
  /** Prefix of Log streams and Bus channels (default `'rt:'`). */
  prefix?: string;
  /**
   * Where the hub reports failures it cannot answer a client with (a room policy that threw, a
   * publish that failed), each distinct message at most once per 10 s. Also given to the Log and
   * Bus the hub opens from specs. Default: `StatelineRealtimeWarning` process warnings.
   */
  logger?: Logger;
}

/** Counters of one hub instance. */
export interface HubStats {
  connections: number;
  rooms: number;
  /** `message` frames written to sockets (history and live). */
  deliveries: number;
  /** Messages this instance stored. */
  appended: number;
  /** Frames discarded by `drop-oldest`. */
  dropped: number;
  /** Sockets closed by `slowConsumer: 'disconnect'`. */
  slowConsumers: number;
  /** Log reads made to fill a gap in the Bus stream. */
  gapReads: number;
  /** `send`s not stored again: known here, or found in the Log (stored by an instance that died before telling the others). */
  duplicates: number;
}

/**
 * A realtime hub instance. Many instances (processes, machines) sharing one Log and Bus form one
 * hub: a client may connect to any of them and see the same rooms.
 *
 * @example
 * ```ts
 * const hub = await createHub({ server, log: 'redis://127.0.0.1:6379', bus: 'redis://127.0.0.1:6379', sessions });
 * await hub.publish('lobby', 'Deploy finished', { from: 'system' });
 * ```
 */
export interface Hub {
  readonly instanceId: string;
  /** Takes over an upgrade request (any path: route before calling). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Answers upgrades on `path`; returns a function that detaches. */
  attach(server: HttpServer | HttpsServer): () => void;
  /** Stores and delivers a message from the server side; resolves with its offset. */
  publish(
    room: string,
    text: string,
    options?: { from?: string; id?: string },
  ): Promise<{ offset: number; epoch: string }>;
  /** The members of a room as this instance knows them (only rooms with local sockets are tracked). */
  members(room: string): string[];
  readonly stats: Readonly<HubStats>;
  /** Closes every socket with 1001, leaves presence, and closes a Log/Bus the hub opened. */
  close(): Promise<void>;
}
