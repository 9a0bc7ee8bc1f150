import { isStatelineError } from '../errors.js';
import { fillAppendMessage } from '../log/append-message.js';
import type { AppendMessage, AppendPublisher, AppendResult, LogEntry } from '../log/types.js';
import {
  decodeBus,
  dedupKey,
  encodeBus,
  logKey,
  messageJson,
  messageTemplate,
  storedData,
  type BusMessage,
} from './codec.js';
import type { Connection } from './connection.js';
import { DedupWindow, type Stored } from './dedup-window.js';
import { FanOut } from './fan-out.js';
import { Membership, type Member } from './membership.js';
import type { RoomPresence } from './presence.js';
import type { PresenceFrame } from './protocol.js';
import type { RoomContext } from './room-context.js';
import { RoomHistory } from './room-history.js';
import { Sequencer, type SequencerHost } from './sequencer.js';
import { textFrame } from './ws-frame.js';

/**
 * One room on one instance: its Bus subscription and the write path of its sends, over four parts
 * that each do one job: {@link Membership} (local sockets and presence), {@link Sequencer}
 * (the Bus stream in gap-free offset order, gaps filled from the Log), {@link DedupWindow}
 * (a resent `send` is stored once) and {@link FanOut} (batched writes to local sockets).
 * {@link RoomHistory} reads the Log for the sequencer and for resumes (`catchUp`).
 *
 * @example
 * ```ts
 * const room = new Room('lobby', ctx);
 * await room.activate();
 * await room.append('alice', 'm1', 'hello');
 * ```
 */
export class Room implements SequencerHost {
  readonly members: ReadonlyMap<Connection, Member>;
  readonly presence: RoomPresence;
  readonly history: RoomHistory;
  readonly channel: string;
  closed = false;
  private ready = false;
  private early: BusMessage[] = [];
  private readonly membership: Membership;
  private readonly seq: Sequencer;
  private readonly dedup: DedupWindow;
  private readonly fanOut: FanOut;
  private unsubscribe: (() => Promise<void>) | undefined;
  /** Appends and publishes in one round trip, when the Log can publish on this Bus itself. */
  private readonly publisher: AppendPublisher | undefined;

  constructor(
    readonly name: string,
    private readonly ctx: RoomContext,
  ) {
    this.channel = ctx.prefix + name;
    this.history = new RoomHistory(name, ctx.prefix + name, ctx.log);
    this.membership = new Membership(name, ctx, this, (m) => this.publish(m));
    this.members = this.membership.members;
    this.presence = this.membership.presence;
    this.dedup = new DedupWindow(ctx.dedupWindow);
    this.seq = new Sequencer(name, ctx, this, this.history, this.dedup);
    this.fanOut = new FanOut(this.members, ctx.flushInterval, ctx.queueLimit);
    this.publisher = ctx.log.publisherFor?.(ctx.bus);
  }

  get live(): boolean {
    return this.ready && !this.closed;
  }

  /** The Log epoch the sequencer follows; `null` until activated. */
  get epoch(): string | null {
    return this.seq.epoch;
  }

  /** Subscribes, then learns the Log head: from then on no message can slip by. */
  async activate(): Promise<void> {
    this.unsubscribe = await this.ctx.bus.subscribe(this.channel, this.onBus);
    try {
      const r = await this.history.readHead();
      if (this.closed) return;
      this.seq.start(r.epoch, r.head);
      this.ready = true;
      const early = this.early;
      this.early = [];
      for (const m of early) this.onMessage(m);
      this.publish({ kind: 'q', instance: this.ctx.instanceId });
    } catch (err) {
      await this.unsubscribe().catch(() => {});
      throw err;
    }
  }

  /** Leaves the Bus and tells the other instances this one holds nobody here any more. */
  async deactivate(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.seq.stop();
    this.membership.stop();
    const leaving = encodeBus({
      kind: 'p',
      instance: this.ctx.instanceId,
      heartbeat: this.ctx.heartbeat,
      members: [],
    });
    await Promise.all([
      this.ctx.bus.publish(this.channel, leaving).catch(() => {}),
      this.unsubscribe?.().catch(() => {}),
    ]);
  }

  add(m: Member): void {
    this.membership.add(m);
  }

  /** False when the socket was not a member. */
  remove(conn: Connection): boolean {
    return this.membership.remove(conn);
  }

  /** The presence frame for one socket (sent after `joined`). */
  presenceFrame(): PresenceFrame {
    return this.membership.frame();
  }

  /** Heartbeat: republish our members, expire silent instances, catch a quiet room up with the Log. */
  tick(now: number): void {
    if (!this.live) return;
    this.membership.publishPresence();
    this.seq.beat(this.membership.expire(now));
  }

  /** Frequent expiry check (a quarter heartbeat) so a dead instance's members go on time. */
  expire(now: number): void {
    if (!this.live) return;
    if (this.membership.expire(now)) void this.seq.fill();
  }

  /** Reads the Log for what the Bus did not bring (see {@link Sequencer.fill}). */
  fill(): Promise<void> {
    return this.seq.fill();
  }

  /** Dedup keys of entries read from the Log (a resent id must be refused on any instance). */
  learn(entries: readonly LogEntry[]): void {
    this.dedup.learn(entries);
  }

  /** True when this sender's id was already stored (or is being stored) here. */
  isDuplicate(from: string, id: string): boolean {
    return this.dedup.has(from, id);
  }

  /**
   * Stores a message, delivers it here and tells the other instances. A `(from, id)` already
   * stored (within the dedup window) or being stored is not stored again: its offset is returned.
   */
  append(from: string, id: string, text: string): Promise<Stored> {
    const key = dedupKey(from, id);
    const known = this.dedup.offsetOf(key);
    const epoch = this.seq.epoch;
    if (known !== undefined && epoch !== null) return Promise.resolve({ offset: known, epoch });
    return this.dedup.pending(key) ?? this.dedup.track(key, this.store(key, from, id, text));
  }

  /** {@link SequencerHost}: the frame is built once, kept for resumes and fanned out. */
  deliver(offset: number, json: string): void {
    const frame = textFrame(json);
    this.history.keep(offset, frame);
    this.fanOut.push(offset, frame);
  }

  /** {@link SequencerHost}: a new epoch; what the old one knew and queued goes. */
  restart(epoch: string, head: number): void {
    this.dedup.clear();
    this.history.forget();
    this.fanOut.discard();
    this.membership.restart(epoch, head);
  }

  private async store(key: string, from: string, id: string, text: string): Promise<Stored> {
    const data = storedData({ id, from, text });
    const message = messageTemplate(this.channel, this.name, from, id, data);
    // Keyed: an instance that stored this message and died before telling anyone cannot make a
    // resend (reaching this instance) store it twice.
    const options = { key: logKey(from, id) };
    // One round trip when the Log publishes for this Bus (the other instances get the message
    // straight from the append); else append, then publish.
    const r = this.publisher
      ? await this.publisher(this.history.stream, data, message, options)
      : await this.ctx.log.append(this.history.stream, data, options);
    this.dedup.remember(key, r.offset);
    if (r.duplicate) {
      this.ctx.stats.duplicates++;
      // Its first writer may never have published it: everyone (this instance too) reads the Log.
      if (this.live && r.epoch === this.seq.epoch && r.offset > this.seq.cursor) void this.seq.fill();
      this.publish({ kind: 'h', epoch: r.epoch, offset: r.offset });
      return { offset: r.offset, epoch: r.epoch };
    }
    this.ctx.stats.appended++;
    const frame = messageJson(this.name, r.offset, r.at, data);
    if (this.live) {
      if (r.epoch === this.seq.epoch) this.seq.accept(r.offset, frame);
      else void this.seq.fill();
    }
    if (!this.publisher) this.announce(message, r);
    return { offset: r.offset, epoch: r.epoch };
  }

  /** Publishes a stored message; one too large for the Bus goes as a hint to read the Log. */
  private announce(message: AppendMessage, r: AppendResult): void {
    this.ctx.bus.publish(this.channel, fillAppendMessage(message, r)).catch((err: unknown) => {
      if (!isStatelineError(err, 'SL_ERR_BUS_PAYLOAD_TOO_LARGE'))
        return this.ctx.warn(
          `realtime: publish to ${this.name} failed (other instances will read the Log)`,
          err,
        );
      this.publish({ kind: 'h', epoch: r.epoch, offset: r.offset });
    });
  }

  private publish(m: BusMessage): void {
    this.ctx.bus
      .publish(this.channel, encodeBus(m))
      .catch((err: unknown) => this.ctx.warn(`realtime: publish to ${this.name} failed`, err));
  }

  private readonly onBus = (payload: string): void => {
    const m = decodeBus(payload);
    if (!m) return;
    if (!this.ready) {
      if (!this.closed && this.early.length < this.ctx.queueLimit) this.early.push(m);
      return;
    }
    this.onMessage(m);
  };

  private onMessage(m: BusMessage): void {
    if (this.closed) return;
    switch (m.kind) {
      case 'm':
        this.seq.saw();
        if (m.epoch !== this.seq.epoch) return void this.seq.fill();
        this.dedup.remember(dedupKey(m.from, m.id), m.offset);
        this.seq.accept(m.offset, m.frame);
        return;
      case 'h':
        this.seq.saw();
        if (m.epoch !== this.seq.epoch || m.offset > this.seq.cursor) void this.seq.fill();
        return;
      case 'p':
        if (m.instance !== this.ctx.instanceId)
          this.presence.fromInstance(m.instance, m.members, m.heartbeat, Date.now());
        return;
      case 'q':
        if (m.instance !== this.ctx.instanceId) this.membership.schedulePublish();
        return;
    }
  }
}
