import type { DedupWindow } from './dedup-window.js';
import type { RoomContext, RoomLifecycle } from './room-context.js';
import { PAGE, type RoomHistory } from './room-history.js';

/** Out-of-order messages held per room while a gap is open. */
const MAX_PENDING = 10 * PAGE;

/** Where the sequencer hands its gap-free stream. */
export interface SequencerHost extends RoomLifecycle {
  /** The next message of the current epoch, in offset order. */
  deliver(offset: number, json: string): void;
  /** The Log's history was replaced (new epoch): everyone starts over from offset 0. */
  restart(epoch: string, head: number): void;
}

/**
 * Turns one room's Bus stream into gap-free offset order. A message of the current epoch is
 * delivered when it is next, or held until the gap before it fills; a gap that stays open for
 * `reorderWait`, a hint of a message too large for the Bus, a publisher that died before
 * publishing, or a new epoch send it to the Log, which it reads from its cursor.
 *
 * @example
 * ```ts
 * const seq = new Sequencer('lobby', ctx, room, history, dedup);
 * seq.start(r.epoch, r.head);
 * seq.accept(r.head + 1, json); // delivered: it is next
 * ```
 */
export class Sequencer {
  /** The Log epoch followed; `null` until started. */
  epoch: string | null = null;
  /** Highest offset delivered. */
  cursor = 0;
  private readonly pending = new Map<number, string>();
  private gapTimer: NodeJS.Timeout | undefined;
  private filling = false;
  private fillAgain = false;
  /** A message (or a hint of one) came over the Bus since the last heartbeat. */
  private heard = false;

  constructor(
    private readonly name: string,
    private readonly ctx: RoomContext,
    private readonly host: SequencerHost,
    private readonly history: RoomHistory,
    private readonly dedup: DedupWindow,
  ) {}

  /** Follows `epoch` from `head` on. */
  start(epoch: string, head: number): void {
    this.epoch = epoch;
    this.cursor = head;
  }

  /** Cancels the gap timer (the room is closing). */
  stop(): void {
    clearTimeout(this.gapTimer);
  }

  /** The Bus brought a message or a hint of one (the room is not quiet). */
  saw(): void {
    this.heard = true;
  }

  /**
   * Heartbeat: a quiet room, or one that lost an instance, reads the Log. An instance that died
   * may have stored a message it never published; nothing else would reveal it.
   */
  beat(instanceLost: boolean): void {
    if (instanceLost || !this.heard) void this.fill();
    this.heard = false;
  }

  /** A message of the current epoch: delivered now if it is next, else held until the gap fills. */
  accept(offset: number, json: string): void {
    if (offset <= this.cursor) return;
    if (offset !== this.cursor + 1) {
      // Beyond MAX_PENDING held messages, later ones are left for the Log read that fills the gap.
      if (this.pending.size < MAX_PENDING) this.pending.set(offset, json);
      this.armGapTimer();
      return;
    }
    this.emit(offset, json);
    for (
      let next = this.pending.get(this.cursor + 1);
      next !== undefined;
      next = this.pending.get(this.cursor + 1)
    ) {
      this.pending.delete(this.cursor + 1);
      this.emit(this.cursor + 1, next);
    }
    if (this.pending.size > 0) this.armGapTimer();
    else {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    }
  }

  /**
   * Reads the Log from the cursor and delivers what the Bus did not bring: a gap, a message whose
   * publisher died, or a whole new epoch (the history was lost: everyone starts over).
   */
  async fill(): Promise<void> {
    if (!this.host.live) return;
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    this.filling = true;
    clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
    try {
      do {
        this.fillAgain = false;
        const r = await this.history.read(this.cursor, this.epoch ?? undefined);
        if (this.host.closed) return;
        this.ctx.stats.gapReads++;
        if (r.epoch !== this.epoch) this.reset(r.epoch, r.head);
        else if (!r.complete) {
          // Retention removed what we never delivered: skip ahead (clients see the gap and resync).
          const first = r.entries[0]?.offset ?? r.head + 1;
          if (first > this.cursor + 1) {
            this.cursor = first - 1;
            for (const o of [...this.pending.keys()]) if (o <= this.cursor) this.pending.delete(o);
          }
        }
        this.dedup.learn(r.entries);
        for (const e of r.entries)
          if (e.offset > this.cursor) this.accept(e.offset, this.history.entryJson(e));
        if (r.entries.length === PAGE) this.fillAgain = true;
      } while (this.fillAgain && !this.host.closed);
    } catch (err) {
      this.ctx.warn(`realtime: reading the history of ${this.name} failed (will retry)`, err);
      this.armGapTimer();
    } finally {
      this.filling = false;
    }
    if (this.pending.size > 0) this.armGapTimer();
  }

  private emit(offset: number, json: string): void {
    this.cursor = offset;
    this.host.deliver(offset, json);
  }

  private armGapTimer(): void {
    if (this.gapTimer || this.host.closed) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      void this.fill();
    }, this.ctx.reorderWait);
    this.gapTimer.unref();
  }

  private reset(epoch: string, head: number): void {
    this.epoch = epoch;
    this.cursor = 0;
    this.pending.clear();
    this.host.restart(epoch, head);
  }
}
