/**
 * The realtime wire protocol: JSON text frames, one object per WebSocket message, shared by the
 * hub and both clients (this file has no Node imports so browsers can use it). docs/realtime.md
 * describes every frame; change both together.
 */

/** `join {room, since?, epoch?}`: enter a room; with `since`, get what came after that offset first. */
export interface JoinFrame {
  type: 'join';
  room: string;
  /** Last offset the client has; omitted: no history, live messages only. 0: all retained history. */
  since?: number;
  /** The epoch `since` belongs to (from `joined`); another current epoch means `since` is void. */
  epoch?: string;
}

/** `send {room, id, text}`: post to a joined room; `id` (unique per sender) makes retries safe. */
export interface SendFrame {
  type: 'send';
  room: string;
  id: string;
  text: string;
}

/** `leave {room}`. */
export interface LeaveFrame {
  type: 'leave';
  room: string;
}

/** `ping`: answered by `pong`; lets browsers (which cannot send WebSocket pings) detect a dead link. */
export interface PingFrame {
  type: 'ping';
}

/** What a client sends. */
export type ClientFrame = JoinFrame | SendFrame | LeaveFrame | PingFrame;

/**
 * `joined {room, offset, epoch, recovered}`: the join took effect. `offset` is the room's head when
 * the history was read: once the client has seen it, it is caught up and live. `recovered: false`
 * means the client cannot have everything after its `since` (the epoch changed or retention
 * trimmed it); it then gets all that is retained. A second `joined` for a joined room means the
 * room's history was reset (new epoch): offsets start over.
 */
export interface JoinedFrame {
  type: 'joined';
  room: string;
  offset: number;
  epoch: string;
  recovered: boolean;
}

/** `message {room, offset, id, from, text, at}`: one stored message, in offset order per room. */
export interface MessageFrame {
  type: 'message';
  room: string;
  offset: number;
  /** The sender's id for it (dedup key together with `from`). */
  id: string;
  /** User id of the sender (`anon:…` for anonymous senders, self-asserted). */
  from: string;
  text: string;
  /** When the Log stored it, epoch ms. */
  at: number;
}

/**
 * A batch frame: a JSON array of `message` frames of one room, in offset order. Only a client that
 * opened its WebSocket with `?batch=1` gets them, and only from a flush that carries several
 * messages (under load); it handles each element as if it had come alone.
 */
export type BatchFrame = MessageFrame[];

/** `presence {room, members}`: everyone in the room on any instance, sorted; sent on every change. */
export interface PresenceFrame {
  type: 'presence';
  room: string;
  members: string[];
}

/** `error {code, message, room?, id?, retryAfter?}`: a frame was refused; the connection stays open. */
export interface ErrorFrame {
  type: 'error';
  /** A Stateline error code, e.g. `SL_ERR_REALTIME_RATE_LIMITED`. */
  code: string;
  message: string;
  /** The room of the refused frame, when it named one. */
  room?: string;
  /** The `id` of the refused `send`. */
  id?: string;
  /** Rate limited: ms until a frame would be accepted again. */
  retryAfter?: number;
}

/** `pong`: the answer to `ping`. */
export interface PongFrame {
  type: 'pong';
}

/** What the hub sends (and, to a client that asked for them, {@link BatchFrame}s). */
export type ServerFrame = JoinedFrame | MessageFrame | PresenceFrame | ErrorFrame | PongFrame;

/**
 * WebSocket close codes the hub (and the client, for `CLIENT_TIMEOUT`) uses; the close reason is
 * the matching error code. Mnemonic: 44xx/45xx follow the HTTP status of the same meaning.
 */
export const CLOSE_CODES = {
  /** The hub requires a session (`anonymous: false`) and the upgrade carried none. Do not reconnect as is. */
  UNAUTHENTICATED: 4401,
  /** A frame was larger than `maxMessageBytes`. */
  MESSAGE_TOO_LARGE: 4413,
  /** The client kept sending while rate limited (more than `burst` refused frames in a row). */
  RATE_LIMITED: 4429,
  /** `slowConsumer: 'disconnect'`: more than `queueLimit` frames waited for this socket. Reconnect and resume. */
  SLOW_CONSUMER: 4507,
  /** Sent by the client: no `pong` (or any frame) within its ping timeout. */
  CLIENT_TIMEOUT: 4000,
  /** The instance is shutting down (standard code): reconnect, to another instance if there is one. */
  GOING_AWAY: 1001,
  /** A frame beyond the hard cap (4 × `maxMessageBytes`, at least 64 KiB), refused by `ws` itself before it is buffered. */
  FRAME_TOO_LARGE: 1009,
} as const;

/** Room names: 1–128 of `A–Z a–z 0–9 _ . : @ / -` (safe as Log stream, Bus channel and Redis hash tag). */
export const ROOM_NAME = /^[\w.:@/-]{1,128}$/;
/** Message ids: 1–128 characters. */
export const MAX_ID_LENGTH = 128;

/** Why a client frame is not valid, or the frame. */
export type Parsed =
  { ok: true; frame: ClientFrame } | { ok: false; why: string; room?: string; id?: string };

const str = (v: unknown): v is string => typeof v === 'string';

/**
 * Parses and checks one client frame. Never throws.
 *
 * @example
 * ```ts
 * const p = parseClientFrame('{"type":"join","room":"lobby","since":41}');
 * if (p.ok && p.frame.type === 'join') console.log(p.frame.since); // 41
 * ```
 */
export function parseClientFrame(text: string): Parsed {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, why: 'the frame is not valid JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { ok: false, why: 'the frame must be a JSON object' };
  const o = v as Record<string, unknown>;
  const room = str(o.room) ? o.room : undefined;
  const id = str(o.id) ? o.id : undefined;
  const bad = (why: string): Parsed => ({
    ok: false,
    why,
    ...(room !== undefined && { room }),
    ...(id !== undefined && { id }),
  });
  switch (o.type) {
    case 'ping':
      return { ok: true, frame: { type: 'ping' } };
    case 'join': {
      if (room === undefined || !ROOM_NAME.test(room))
        return bad('join needs a room name of 1-128 characters A-Z a-z 0-9 _ . : @ / -');
      if (o.since !== undefined && !(Number.isSafeInteger(o.since) && (o.since as number) >= 0))
        return bad('since must be a non-negative integer offset');
      if (o.epoch !== undefined && !(str(o.epoch) && o.epoch.length > 0 && o.epoch.length <= 128))
        return bad('epoch must be the string a joined frame gave');
      const frame: JoinFrame = { type: 'join', room };
      if (o.since !== undefined) frame.since = o.since as number;
      if (o.epoch !== undefined) frame.epoch = o.epoch as string;
      return { ok: true, frame };
    }
    case 'send':
      if (room === undefined || !ROOM_NAME.test(room)) return bad('send needs a room name');
      if (id === undefined || id.length === 0 || id.length > MAX_ID_LENGTH)
        return bad('send needs an id of 1-128 characters');
      if (!str(o.text)) return bad('send needs a text string');
      return { ok: true, frame: { type: 'send', room, id, text: o.text } };
    case 'leave':
      if (room === undefined || !ROOM_NAME.test(room)) return bad('leave needs a room name');
      return { ok: true, frame: { type: 'leave', room } };
    default:
      return bad(`unknown frame type ${JSON.stringify(o.type)?.slice(0, 40) ?? 'undefined'}`);
  }
}
