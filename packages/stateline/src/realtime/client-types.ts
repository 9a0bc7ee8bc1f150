/**
 * The public types of `stateline/realtime/client` (re-exported there). No Node imports: the
 * client runs in browsers.
 */
import type { StatelineError } from '../errors.js';
import type { ErrorFrame, JoinedFrame, MessageFrame, PresenceFrame } from './protocol.js';

/**
 * An event handler slot the client fills. Declared through a method so its parameter is compared
 * both ways: the browser's `WebSocket` (`(ev: Event) => …`) and `ws` (`(event: WebSocket.Event) => …`)
 * then fit `WebSocketLike` with no cast.
 */
type EventHandler<E> = { handle(ev: E): void }['handle'];

/** The part of the WebSocket API the client uses (browsers' WebSocket and `ws` both have it). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: EventHandler<unknown> | null;
  onmessage: EventHandler<{ data: unknown }> | null;
  onclose: EventHandler<{ code: number; reason: string }> | null;
  onerror: EventHandler<unknown> | null;
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
