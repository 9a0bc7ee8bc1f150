import type { Connection, Outgoing } from './connection.js';
import { flushDelay } from './flush-pacer.js';
import type { Member } from './membership.js';
import { batchFrame } from './ws-frame.js';

/**
 * Batched fan-out of one room's live messages to its local sockets. A message's frame is built
 * once and the same Buffer goes to every socket; each flush is one write call (and usually one
 * syscall) per socket. When a flush carries several messages, the sockets that read batch frames
 * and need all of them get ONE batch frame (a JSON array of the `message`s), built once per flush
 * and shared; the others get the message frames one by one. A quiet room's flush carries one
 * message, written as is. A socket still catching up from the Log gets the batch held back
 * instead, up to `queueLimit` frames (beyond that it must read the Log up to the live edge).
 *
 * @example
 * ```ts
 * const fanOut = new FanOut(members, 10, 1024);
 * fanOut.push(42, textFrame(json)); // written at the end of this turn, or batched under load
 * ```
 */
export class FanOut {
  private outbox: Outgoing[] = [];
  private flushing = false;
  /** performance.now() of the last flush (-Infinity: never). */
  private lastFlush = -Infinity;

  constructor(
    private readonly members: ReadonlyMap<Connection, Member>,
    private readonly flushInterval: number,
    private readonly queueLimit: number,
  ) {}

  /** Queues the next message (in offset order) and schedules a flush. */
  push(offset: number, frame: Buffer): void {
    this.outbox.push({ offset, frame });
    if (this.flushing) return;
    this.flushing = true;
    // Quiet room: out at the end of this turn. Busy one: coalesce up to flushInterval (one syscall per socket).
    const delay = flushDelay(performance.now() - this.lastFlush, this.members.size, this.flushInterval);
    if (delay > 0) setTimeout(this.flush, delay);
    else setImmediate(this.flush);
  }

  /** Drops what was not written yet (the history it belongs to was replaced). */
  discard(): void {
    this.outbox = [];
  }

  private readonly flush = (): void => {
    this.flushing = false;
    this.lastFlush = performance.now();
    const batch = this.outbox;
    if (batch.length === 0) return;
    this.outbox = [];
    const first = batch[0]!.offset;
    const to = batch[batch.length - 1]!.offset;
    let shared: Buffer | undefined;
    for (const m of this.members.values()) {
      if (m.catching) {
        if (m.overflow) continue;
        for (const o of batch) m.catching.push(o);
        if (m.catching.length > this.queueLimit) {
          m.overflow = true;
          m.catching = [];
        }
        continue;
      }
      if (batch.length > 1 && m.conn.batches && m.last < first) {
        shared ??= batchFrame(batch.map((o) => o.frame));
        m.last = m.conn.writeShared(shared, batch.length, to);
      } else m.last = m.conn.writeBatch(batch, m.last);
    }
  };
}
