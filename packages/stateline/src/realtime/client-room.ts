import type { JoinFrame, JoinedFrame } from './protocol.js';

/** What a `message` frame means for its room. */
export type Arrival =
  /** The next offset (or the first after a gap `joined` announced): deliver it. */
  | 'next'
  /** Not joined, or resyncing: ignore it. */
  | 'ignored'
  /** An offset already delivered. */
  | 'duplicate'
  /** Offsets were skipped without `recovered: false` announcing it. */
  | 'gap';

/**
 * One room the client is in, and where its delivery stands: the epoch and last offset delivered
 * (what a rejoin resumes from), whether the join took effect, and the offset the history must
 * reach before sends are written (so history shows whether an unconfirmed send was stored).
 *
 * @example
 * ```ts
 * const room = new ClientRoom('lobby', 0, undefined);
 * write(room.joinFrame()); // { type: 'join', room: 'lobby', since: 0 }
 * ```
 */
export class ClientRoom {
  /** Last offset delivered; `undefined` before the first join without `since`. */
  last: number | undefined;
  epoch: string | undefined;
  joined = false;
  /** From `joined.offset`: sends wait until this is delivered (the history may hold them). */
  catchUpTo: number | null = null;
  /** The next message may skip offsets (`recovered: false`). */
  expectGap = false;
  /** Rejoining after a gap: messages are ignored until the new `joined`. */
  resyncing = false;
  /** One timer per room for transient send failures, so resends keep the order of the sends. */
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  members: string[] = [];
  private readonly waiters: Array<{ resolve: (f: JoinedFrame) => void; reject: (e: Error) => void }> = [];

  constructor(
    readonly name: string,
    since: number | undefined,
    epoch: string | undefined,
  ) {
    this.last = since;
    this.epoch = epoch;
  }

  /** Resolves on the next `joined`. */
  wait(): Promise<JoinedFrame> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The `join` that resumes from the last offset delivered; the room is not joined until `joined`. */
  joinFrame(): JoinFrame {
    this.joined = false;
    const f: JoinFrame = { type: 'join', room: this.name };
    if (this.last !== undefined) f.since = this.last;
    if (this.epoch !== undefined) f.epoch = this.epoch;
    return f;
  }

  /** The `join` after a gap: the state is kept, and messages are held back until the new `joined`. */
  resyncFrame(): JoinFrame {
    this.resyncing = true;
    const f = this.joinFrame();
    this.joined = true;
    return f;
  }

  /** The hub confirmed the join: where delivery stands now. */
  onJoined(f: JoinedFrame): void {
    if (this.last === undefined)
      this.last = f.offset; // live only: start at the head
    else if (this.epoch !== undefined && f.epoch !== this.epoch)
      this.last = 0; // a new history: it starts over
    else if (this.last > f.offset) this.last = 0; // an offset the history never reached: the hub starts over too
    this.epoch = f.epoch;
    this.joined = true;
    this.resyncing = false;
    this.expectGap = !f.recovered;
    this.catchUpTo = f.offset;
    for (const w of this.waiters.splice(0)) w.resolve(f);
  }

  /** What a `message` at `offset` means here. */
  arrival(offset: number): Arrival {
    if (!this.joined || this.resyncing) return 'ignored';
    const last = this.last ?? 0;
    if (offset <= last) return 'duplicate';
    if (offset > last + 1 && !this.expectGap) return 'gap';
    return 'next';
  }

  /** `offset` was delivered. */
  delivered(offset: number): void {
    this.expectGap = false;
    this.last = offset;
  }

  /** True once, when the offset `joined` announced has been delivered. */
  caughtUp(): boolean {
    if (this.catchUpTo === null || (this.last ?? 0) < this.catchUpTo) return false;
    this.catchUpTo = null;
    return true;
  }

  /** Joined, not resyncing, and caught up: a send may be written. */
  get writable(): boolean {
    return this.joined && !this.resyncing && this.catchUpTo === null;
  }

  /** The connection was lost: the join must be made again. */
  disconnected(): void {
    this.joined = false;
    this.resyncing = false;
  }

  /** The room is given up: its retry timer stops and its waiting joins reject with `err`. */
  fail(err: Error): void {
    clearTimeout(this.retryTimer);
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  /** Rejects the waiting joins only (the join was refused for good). */
  refuse(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
