import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { CLOSE_CODES, type ServerFrame } from './protocol.js';
import type { TokenBucket } from './rate-limit.js';
import type { Identity } from './types.js';
import { textFrame } from './ws-frame.js';

/** A frame ready for the wire, with the offset it carries (0: not a message). */
export interface Outgoing {
  offset: number;
  frame: Buffer;
}

/** What a connection reports to the hub. */
export interface ConnectionEvents {
  /** Frames were discarded (`drop-oldest`). */
  dropped(n: number): void;
  /** Closed for falling behind (`disconnect`). */
  slow(): void;
  /** `message` frames written. */
  delivered(n: number): void;
}

const OPEN = 1;
/** How long a closed socket may take to complete the close handshake before it is destroyed. */
const CLOSE_GRACE_MS = 5000;

/**
 * One client socket's outbound side. Frames are written straight to the upgraded TCP socket
 * (which the hub owns since `handleUpgrade`): a message's frame Buffer is built once per instance
 * and shared by every socket. While the socket buffer is full (`write()` returned false, until
 * 'drain'), frames wait in a bounded queue; beyond `queueLimit` the slow-consumer policy applies.
 * `ws` only handles reads, pings and the close handshake: it never has data of its own queued
 * (no compression, no fragments), so writing beside it keeps frames whole and ordered.
 * A socket opened with `?batch=1` (`batches`) may also get batch frames (several `message`s in
 * one frame, {@link writeShared}); `queueLimit` counts the messages inside them.
 */
export class Connection {
  /** Rooms this socket is in, by name. */
  readonly rooms = new Set<string>();
  /** Answered the last ping. */
  alive = true;
  /** Waiting frames with the `message`s each holds (0: a control frame; > 1: a batch frame). */
  private queue: Array<{ frame: Buffer; count: number }> = [];
  private queueHead = 0;
  /** What waits, against `queueLimit`: messages, plus 1 per control frame. */
  private backlog = 0;
  private congested = false;
  private closed = false;

  constructor(
    readonly ws: WebSocket,
    private readonly raw: Duplex,
    readonly who: Identity,
    readonly bucket: TokenBucket | null,
    private readonly queueLimit: number,
    private readonly policy: 'disconnect' | 'drop-oldest',
    private readonly events: ConnectionEvents,
    /** The client reads batch frames (it opened with `?batch=1`). */
    readonly batches = false,
  ) {
    raw.on('drain', this.pump);
  }

  get open(): boolean {
    return !this.closed && this.ws.readyState === OPEN;
  }

  /** Nothing waits: the socket buffer has room and the queue is empty. */
  get idle(): boolean {
    return !this.congested && this.queued === 0;
  }

  /** Frames waiting beyond the socket buffer. */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Sends a control frame (`joined`, `presence`, `error`, `pong`). */
  send(frame: ServerFrame): void {
    this.write(textFrame(JSON.stringify(frame)), false);
  }

  /** Writes one prepared frame (`message` when `counted`). */
  write(frame: Buffer, counted: boolean): void {
    this.put(frame, counted ? 1 : 0);
  }

  /**
   * Writes a batch frame holding `count` messages up to offset `to`, the same Buffer for every
   * socket of the room that needs all of them. Returns the new `last` (`to`).
   */
  writeShared(frame: Buffer, count: number, to: number): number {
    this.put(frame, count);
    return to;
  }

  private put(frame: Buffer, count: number): void {
    if (!this.open) return;
    if (this.congested || this.queued > 0) return this.enqueue(frame, count);
    if (!this.raw.write(frame)) this.congested = true;
    if (count > 0) this.events.delivered(count);
  }

  /**
   * Writes the messages of `batch` after offset `last`, in one syscall when the socket keeps up.
   * Returns the new `last`.
   */
  writeBatch(batch: readonly Outgoing[], last: number): number {
    if (!this.open) return batch.length > 0 ? Math.max(last, batch[batch.length - 1]!.offset) : last;
    const corked = batch.length > 1;
    if (corked) this.raw.cork();
    let n = 0;
    for (const o of batch) {
      if (o.offset <= last) continue;
      last = o.offset;
      if (this.congested || this.queued > 0) this.enqueue(o.frame, 1);
      else {
        if (!this.raw.write(o.frame)) this.congested = true;
        n++;
      }
    }
    if (corked) this.raw.uncork();
    if (n > 0) this.events.delivered(n);
    return last;
  }

  /**
   * Writes frames from `start` while the socket keeps up, never queueing (history is paced by
   * the reader, not bounded by `queueLimit`). Returns where it stopped and the new `last`.
   */
  writeWhileWritable(
    batch: readonly Outgoing[],
    start: number,
    last: number,
  ): { next: number; last: number } {
    let i = start;
    if (!this.open) return { next: batch.length, last };
    this.raw.cork();
    let n = 0;
    for (; i < batch.length && !this.congested && this.queued === 0; i++) {
      const o = batch[i]!;
      if (o.offset <= last) continue;
      last = o.offset;
      if (!this.raw.write(o.frame)) this.congested = true;
      n++;
    }
    this.raw.uncork();
    if (n > 0) this.events.delivered(n);
    return { next: i, last };
  }

  /** Resolves when the socket buffer has room (for paging history without flooding it). */
  drained(): Promise<void> {
    if (!this.congested && this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!this.open || (!this.congested && this.queued === 0)) {
          this.raw.off('drain', check);
          this.raw.off('close', check);
          resolve();
        }
      };
      this.raw.on('drain', check);
      this.raw.on('close', check);
    });
  }

  private enqueue(frame: Buffer, count: number): void {
    this.queue.push({ frame, count });
    this.backlog += Math.max(1, count);
    if (this.backlog <= this.queueLimit) return;
    if (this.policy === 'disconnect') return this.tooSlow();
    // Drop the oldest message frames (a batch frame goes whole) until the backlog fits again;
    // control frames (`joined`, `presence`, `error`) are kept.
    let i = this.queueHead;
    let dropped = 0;
    while (this.backlog > this.queueLimit && i < this.queue.length) {
      const q = this.queue[i]!;
      if (q.count === 0) {
        i++;
        continue;
      }
      if (i === this.queueHead) i = ++this.queueHead;
      else this.queue.splice(i, 1);
      this.backlog -= q.count;
      dropped += q.count;
    }
    if (dropped > 0) this.events.dropped(dropped);
    this.compact();
  }

  private compact(): void {
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private readonly pump = (): void => {
    this.congested = false;
    if (this.queued === 0 || !this.open) return;
    this.raw.cork();
    let n = 0;
    while (this.queued > 0 && !this.congested) {
      const q = this.queue[this.queueHead++]!;
      this.backlog -= Math.max(1, q.count);
      if (!this.raw.write(q.frame)) this.congested = true;
      n += q.count;
    }
    this.raw.uncork();
    if (this.queued === 0) {
      this.queue = [];
      this.queueHead = 0;
      this.backlog = 0;
    } else this.compact();
    if (n > 0) this.events.delivered(n);
  };

  /** Closes with 4507: the socket fell too far behind. */
  tooSlow(): void {
    if (this.closed) return;
    this.events.slow();
    this.close(CLOSE_CODES.SLOW_CONSUMER, 'SL_ERR_REALTIME_SLOW_CONSUMER');
  }

  /** Closes with a code; queued frames are discarded. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queueHead = 0;
    this.backlog = 0;
    this.raw.off('drain', this.pump);
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    // A client that does not read never answers the close handshake: do not wait ws's 30 s.
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** The socket went away: stop writing. */
  dispose(): void {
    this.closed = true;
    this.queue = [];
    this.queueHead = 0;
    this.backlog = 0;
    this.raw.off('drain', this.pump);
  }
}
