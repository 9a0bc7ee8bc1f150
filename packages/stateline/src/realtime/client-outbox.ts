import { StatelineError } from '../errors.js';
import type { MessageFrame } from './protocol.js';
import { CLOSE_CODES } from './protocol.js';

/** A send not confirmed yet. */
export interface Pending {
  room: string;
  id: string;
  text: string;
  resolve: (m: MessageFrame) => void;
  reject: (e: Error) => void;
  /** Written on the current connection, no answer yet. */
  inFlight: boolean;
  attempts: number;
  /** Waiting for its room's retry timer after a transient failure. */
  held: boolean;
}

/** Errors after which a send (or a join) may succeed later; anything else rejects it. */
export const TRANSIENT: ReadonlySet<string> = new Set([
  'SL_ERR_REALTIME_RATE_LIMITED',
  'SL_ERR_LOG_UNAVAILABLE',
  'SL_ERR_BUS_UNAVAILABLE',
  'SL_ERR_INTERNAL',
  'SL_ERR_REALTIME_NOT_JOINED',
  'SL_ERR_CLOSED',
]);

/**
 * The client's unconfirmed sends by id, in the order the application made them. A send settles
 * when its message comes back with an offset, or when it is refused for good; it is never dropped
 * by a reconnect. It also keeps the size limit: the hub's, and lower once the hub closed the link
 * over a frame (4413).
 *
 * @example
 * ```ts
 * const outbox = new Outbox(16 * 1024);
 * outbox.add({ room, id, text, resolve, reject, inFlight: false, attempts: 0, held: false });
 * outbox.settle(outbox.get(id)!, null, messageFrame);
 * ```
 */
export class Outbox {
  private readonly sends = new Map<string, Pending>();
  private readonly encoder = new TextEncoder();

  constructor(private maxMessageBytes: number) {}

  get(id: string): Pending | undefined {
    return this.sends.get(id);
  }

  has(id: string): boolean {
    return this.sends.has(id);
  }

  add(p: Pending): void {
    this.sends.set(p.id, p);
  }

  /** The sends, oldest first. */
  values(): IterableIterator<Pending> {
    return this.sends.values();
  }

  /** Why a send is too large to write, or `undefined`. */
  oversize(room: string, id: string, text: string): StatelineError | undefined {
    const size = this.frameBytes(room, id, text);
    if (size <= this.maxMessageBytes) return undefined;
    return new StatelineError('SL_ERR_REALTIME_MESSAGE_TOO_LARGE', `${size} bytes > ${this.maxMessageBytes}`);
  }

  /** Resolves a send with its stored message, or rejects it. */
  settle(p: Pending, err: Error | null, m?: MessageFrame): void {
    this.sends.delete(p.id);
    if (err) p.reject(err);
    else p.resolve(m!);
  }

  /** Rejects every send to `room`. */
  rejectRoom(room: string, err: Error): void {
    for (const p of [...this.sends.values()]) if (p.room === room) this.settle(p, err);
  }

  /** Rejects every send. */
  rejectAll(err: Error): void {
    for (const p of [...this.sends.values()]) this.settle(p, err);
  }

  /** The connection closed with `code`: nothing is in flight any more. */
  lost(code: number): void {
    if (code === CLOSE_CODES.MESSAGE_TOO_LARGE) this.refuseLargest();
    for (const p of this.sends.values()) p.inFlight = false;
  }

  /**
   * The hub closed the link over a frame above its `maxMessageBytes`: the largest send in flight
   * was it. Reject it (resending would only repeat the close) and refuse its size from now on.
   */
  private refuseLargest(): void {
    let worst: Pending | undefined;
    let size = 0;
    for (const p of this.sends.values()) {
      if (!p.inFlight) continue;
      const n = this.frameBytes(p.room, p.id, p.text);
      if (n > size) [worst, size] = [p, n];
    }
    if (!worst) return;
    this.maxMessageBytes = Math.min(this.maxMessageBytes, size - 1);
    this.settle(
      worst,
      new StatelineError('SL_ERR_REALTIME_MESSAGE_TOO_LARGE', `the hub refused a ${size}-byte frame`),
    );
  }

  private frameBytes(room: string, id: string, text: string): number {
    return this.encoder.encode(JSON.stringify({ type: 'send', room, id, text })).length;
  }
}
