import type { Bus } from '../bus/types.js';
import { isStatelineError } from '../errors.js';
import type { Log, LogEntry, ReadResult } from '../log/types.js';
import {
  decodeBus,
  dedupKey,
  logKey,
  encodeBus,
  messageJson,
  parseStored,
  storedData,
  type BusMessage,
} from './codec.js';
import type { Connection, Outgoing } from './connection.js';
import { flushDelay } from './flush-pacer.js';
import { RoomPresence } from './presence.js';
import type { HubStats } from './types.js';
import { textFrame } from './ws-frame.js';

/** Entries per Log read. */
export const PAGE = 1000;
/** Frames of recent messages kept per room so resumes reuse them instead of rebuilding. */
const RECENT = 2048;
/** Out-of-order messages held per room while a gap is open. */
const MAX_PENDING = 10 * PAGE;
/** Presence changes are published and pushed at most this often per room. */
const PRESENCE_DEBOUNCE_MS = 20;

/** What every room of one hub instance shares. */
export interface RoomContext {
  readonly log: Log;
  readonly bus: Bus;
  readonly instanceId: string;
  readonly prefix: string;
  readonly heartbeat: number;
  readonly reorderWait: number;
  readonly dedupWindow: number;
  readonly queueLimit: number;
  /** Under load, fan-out batches messages over this many ms (0: always per event-loop turn). */
  readonly flushInterval: number;
  readonly stats: HubStats;
  warn(message: string, err?: unknown): void;
}

/** One socket in one room. */
export interface Member {
  readonly conn: Connection;
  /** Highest offset written (or queued) to this socket for this room. */
  last: number;
  /** Live frames held back while the socket catches up from the Log; `null` once live. */
  catching: Outgoing[] | null;
  /** The held-back frames overflowed and were dropped: the Log must be read up to the live edge. */
  overflow: boolean;
  /** The room's epoch changed during the catch-up: start it over. */
  restart: boolean;
  /** `joined` was sent (presence goes only to such members). */
  joined: boolean;
}

/**
 * One room on one instance: the Bus subscription, the sequencer that turns the Bus stream into
 * gap-free offset order (filling gaps and catching missed messages from the Log), the dedup
 * window for sends, batched fan-out to local sockets, and presence.
 */
export class Room {
  readonly members = new Map<Connection, Member>();
  readonly presence: RoomPresence;
  readonly stream: string;
  readonly channel: string;
  /** The Log epoch the sequencer follows; `null` until activated. */
  epoch: string | null = null;
  /** Highest offset handed to fan-out. */
  cursor = 0;
  closed = false;
  private ready = false;
  private early: BusMessage[] = [];
  private readonly pending = new Map<number, string>();
  private gapTimer: NodeJS.Timeout | undefined;
  private filling = false;
  private fillAgain = false;
  private outbox: Outgoing[] = [];
  private flushing = false;
  /** performance.now() of the last fan-out (-Infinity: never). */
  private lastFlush = -Infinity;
  private readonly dedup = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<{ offset: number; epoch: string }>>();
  private readonly recent = new Map<number, Buffer>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private publishTimer: NodeJS.Timeout | undefined;
  private pushTimer: NodeJS.Timeout | undefined;
  private sawMessage = false;

  constructor(
    readonly name: string,
    private readonly ctx: RoomContext,
  ) {
    this.stream = ctx.prefix + name;
    this.channel = ctx.prefix + name;
    this.presence = new RoomPresence(() => this.schedulePush());
  }

  /** Subscribes, then learns the Log head: from then on no message can slip by. */
  async activate(): Promise<void> {
    this.unsubscribe = await this.ctx.bus.subscribe(this.channel, this.onBus);
    try {
      const r = await this.readHead();
      if (this.closed) return;
      this.epoch = r.epoch;
      this.cursor = r.head;
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
    clearTimeout(this.gapTimer);
    clearTimeout(this.publishTimer);
    clearTimeout(this.pushTimer);
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

  /** The head and epoch, without entries. */
  readHead(): Promise<ReadResult> {
    return this.ctx.log.read(this.stream, Number.MAX_SAFE_INTEGER, { limit: 1 });
  }

  read(since: number, epoch: string | undefined, limit = PAGE): Promise<ReadResult> {
    return this.ctx.log.read(this.stream, since, epoch === undefined ? { limit } : { limit, epoch });
  }

  // ---- members and presence ------------------------------------------------------------

  add(m: Member): void {
    this.members.set(m.conn, m);
    if (this.presence.add(m.conn.who.name)) this.schedulePublish();
  }

  remove(conn: Connection): boolean {
    const m = this.members.get(conn);
    if (!m) return false;
    this.members.delete(conn);
    if (this.presence.remove(conn.who.name)) this.schedulePublish();
    return true;
  }

  /** The presence frame for one socket (sent after `joined`). */
  presenceFrame(): { type: 'presence'; room: string; members: string[] } {
    return { type: 'presence', room: this.name, members: this.presence.members() };
  }

  /** Heartbeat: republish our members, expire silent instances, catch a quiet room up with the Log. */
  tick(now: number): void {
    if (!this.ready || this.closed) return;
    this.publishPresence();
    const before = this.presence.instances().length;
    this.presence.expire(now);
    // An instance that died may have stored a message it never published; nothing else would reveal it.
    if (this.presence.instances().length < before || !this.sawMessage) void this.fill();
    this.sawMessage = false;
  }

  /** Frequent expiry check (a quarter heartbeat) so a dead instance's members go on time. */
  expire(now: number): void {
    if (!this.ready || this.closed) return;
    const before = this.presence.instances().length;
    this.presence.expire(now);
    if (this.presence.instances().length < before) void this.fill();
  }

  private schedulePublish(): void {
    if (this.publishTimer || this.closed) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      if (this.ready && !this.closed) this.publishPresence();
    }, PRESENCE_DEBOUNCE_MS);
    this.publishTimer.unref();
  }

  private publishPresence(): void {
    this.publish({
      kind: 'p',
      instance: this.ctx.instanceId,
      heartbeat: this.ctx.heartbeat,
      members: this.presence.localMembers(),
    });
  }

  private schedulePush(): void {
    if (this.pushTimer || this.closed) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined;
      if (this.closed) return;
      const frame = textFrame(JSON.stringify(this.presenceFrame()));
      for (const m of this.members.values()) if (m.joined) m.conn.write(frame, false);
    }, PRESENCE_DEBOUNCE_MS);
    this.pushTimer.unref();
  }

  private publish(m: BusMessage): void {
    this.ctx.bus
      .publish(this.channel, encodeBus(m))
      .catch((err: unknown) => this.ctx.warn(`realtime: publish to ${this.name} failed`, err));
  }

  // ---- sends -----------------------------------------------------------------------------

  /** True when this sender's id was already stored (or is being stored) here. */
  isDuplicate(from: string, id: string): boolean {
    const key = dedupKey(from, id);
    return this.dedup.has(key) || this.inflight.has(key);
  }

  /**
   * Stores a message, delivers it here and tells the other instances. A `(from, id)` already
   * stored (within the dedup window) or being stored is not stored again: its offset is returned.
   */
  append(from: string, id: string, text: string): Promise<{ offset: number; epoch: string }> {
    const key = dedupKey(from, id);
    const known = this.dedup.get(key);
    if (known !== undefined && this.epoch !== null)
      return Promise.resolve({ offset: known, epoch: this.epoch });
    let work = this.inflight.get(key);
    if (!work) {
      work = this.store(key, from, id, text).finally(() => this.inflight.delete(key));
      this.inflight.set(key, work);
    }
    return work;
  }

  private async store(
    key: string,
    from: string,
    id: string,
    text: string,
  ): Promise<{ offset: number; epoch: string }> {
    const data = storedData({ id, from, text });
    // Keyed: an instance that stored this message and died before telling anyone cannot make a
    // resend (reaching this instance) store it twice.
    const r = await this.ctx.log.append(this.stream, data, { key: logKey(from, id) });
    this.remember(key, r.offset);
    if (r.duplicate) {
      this.ctx.stats.duplicates++;
      // Its first writer may never have published it: everyone (this instance too) reads the Log.
      if (this.ready && !this.closed && r.epoch === this.epoch && r.offset > this.cursor) void this.fill();
      this.publish({ kind: 'h', epoch: r.epoch, offset: r.offset });
      return { offset: r.offset, epoch: r.epoch };
    }
    this.ctx.stats.appended++;
    const frame = messageJson(this.name, r.offset, r.at, data);
    if (this.ready && !this.closed) {
      if (r.epoch === this.epoch) this.accept(r.offset, frame);
      else void this.fill();
    }
    const bus = encodeBus({ kind: 'm', epoch: r.epoch, offset: r.offset, from, id, frame });
    this.ctx.bus.publish(this.channel, bus).catch((err: unknown) => {
      if (!isStatelineError(err, 'SL_ERR_BUS_PAYLOAD_TOO_LARGE'))
        return this.ctx.warn(
          `realtime: publish to ${this.name} failed (other instances will read the Log)`,
          err,
        );
      this.publish({ kind: 'h', epoch: r.epoch, offset: r.offset });
    });
    return { offset: r.offset, epoch: r.epoch };
  }

  private remember(key: string, offset: number): void {
    if (this.dedup.has(key)) return;
    this.dedup.set(key, offset);
    if (this.dedup.size > this.ctx.dedupWindow) this.dedup.delete(this.dedup.keys().next().value as string);
  }

  // ---- the sequencer ---------------------------------------------------------------------

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
        this.sawMessage = true;
        if (m.epoch !== this.epoch) return void this.fill();
        this.remember(dedupKey(m.from, m.id), m.offset);
        this.accept(m.offset, m.frame);
        return;
      case 'h':
        this.sawMessage = true;
        if (m.epoch !== this.epoch || m.offset > this.cursor) void this.fill();
        return;
      case 'p':
        if (m.instance !== this.ctx.instanceId)
          this.presence.fromInstance(m.instance, m.members, m.heartbeat, Date.now());
        return;
      case 'q':
        if (m.instance !== this.ctx.instanceId) this.schedulePublish();
        return;
    }
  }

  /** A message of the current epoch: delivered now if it is next, else held until the gap fills. */
  private accept(offset: number, json: string): void {
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

  private emit(offset: number, json: string): void {
    this.cursor = offset;
    const frame = textFrame(json);
    this.recent.set(offset, frame);
    if (this.recent.size > RECENT) this.recent.delete(this.recent.keys().next().value as number);
    this.outbox.push({ offset, frame });
    if (!this.flushing) {
      this.flushing = true;
      // Quiet room: out at the end of this turn. Busy one: coalesce up to flushInterval (one syscall per socket).
      const delay = flushDelay(performance.now() - this.lastFlush, this.members.size, this.ctx.flushInterval);
      if (delay > 0) setTimeout(this.flush, delay);
      else setImmediate(this.flush);
    }
  }

  /** Fan-out: every local socket gets the batch, one write call (and usually one syscall) each. */
  private readonly flush = (): void => {
    this.flushing = false;
    this.lastFlush = performance.now();
    const batch = this.outbox;
    if (batch.length === 0) return;
    this.outbox = [];
    for (const m of this.members.values()) {
      if (m.catching) {
        if (m.overflow) continue;
        for (const o of batch) m.catching.push(o);
        if (m.catching.length > this.ctx.queueLimit) {
          m.overflow = true;
          m.catching = [];
        }
        continue;
      }
      m.last = m.conn.writeBatch(batch, m.last);
    }
  };

  private armGapTimer(): void {
    if (this.gapTimer || this.closed) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      void this.fill();
    }, this.ctx.reorderWait);
    this.gapTimer.unref();
  }

  /** The frame of a Log entry, reusing the one built when it went live. */
  frameOf(entry: LogEntry): Buffer {
    const cached = this.recent.get(entry.offset);
    if (cached) return cached;
    return textFrame(this.entryJson(entry));
  }

  private entryJson(e: LogEntry): string {
    const m = parseStored(e.data) ?? { id: '', from: '', text: e.data };
    return messageJson(this.name, e.offset, e.at, storedData(m));
  }

  /** Dedup keys of entries read from the Log (a resent id must be refused on any instance). */
  learn(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      const m = parseStored(e.data);
      if (m) this.remember(dedupKey(m.from, m.id), e.offset);
    }
  }

  /**
   * Reads the Log from the cursor and delivers what the Bus did not bring: a gap, a message whose
   * publisher died, or a whole new epoch (the history was lost: everyone starts over).
   */
  async fill(): Promise<void> {
    if (!this.ready || this.closed) return;
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
        const r = await this.read(this.cursor, this.epoch ?? undefined);
        if (this.closed) return;
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
        this.learn(r.entries);
        for (const e of r.entries) if (e.offset > this.cursor) this.accept(e.offset, this.entryJson(e));
        if (r.entries.length === PAGE) this.fillAgain = true;
      } while (this.fillAgain && !this.closed);
    } catch (err) {
      this.ctx.warn(`realtime: reading the history of ${this.name} failed (will retry)`, err);
      this.armGapTimer();
    } finally {
      this.filling = false;
    }
    if (this.pending.size > 0) this.armGapTimer();
  }

  /** The Log's history was replaced (new epoch): every member starts over from offset 0. */
  private reset(epoch: string, head: number): void {
    this.epoch = epoch;
    this.cursor = 0;
    this.pending.clear();
    this.dedup.clear();
    this.recent.clear();
    this.outbox = [];
    for (const m of this.members.values()) {
      if (m.catching) {
        m.restart = true;
        m.catching = [];
        m.overflow = false;
      } else {
        m.last = 0;
        m.conn.send({ type: 'joined', room: this.name, offset: head, epoch, recovered: false });
      }
    }
  }
}
