import { Room } from './room.js';
import type { RoomContext } from './room-context.js';

/** An unused room stays subscribed this long, so a quick rejoin (a reconnect) finds it warm. */
const LINGER_MS = 1000;
const noop = () => {};

/** A room open on this instance. */
export interface OpenRoom {
  readonly room: Room;
  /** Settles once the room is subscribed and knows the Log head. */
  readonly ready: Promise<void>;
}

interface Slot extends OpenRoom {
  refs: number;
  linger: NodeJS.Timeout | undefined;
}

/**
 * The rooms open on one hub instance, counted by the sockets in them: the first join opens a
 * room (Bus subscription, Log head), the last leave closes it after a linger. It runs the rooms'
 * heartbeat (presence republish and expiry, quiet-room Log check) and, when the Bus comes back
 * from an outage, has every room read what it missed from the Log.
 *
 * @example
 * ```ts
 * const rooms = new RoomRegistry(ctx);
 * const room = await rooms.acquire('lobby');
 * rooms.release('lobby', room);
 * ```
 */
export class RoomRegistry {
  private readonly slots = new Map<string, Slot>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly offBus: () => void;

  constructor(private readonly ctx: RoomContext) {
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(ctx.heartbeat, () => {
      const now = Date.now();
      for (const s of this.slots.values()) s.room.tick(now);
    });
    every(Math.max(5, Math.floor(ctx.heartbeat / 4)), () => {
      const now = Date.now();
      for (const s of this.slots.values()) s.room.expire(now);
    });
    // Back from a Bus outage: whatever was published meanwhile is in the Log.
    this.offBus = ctx.bus.onConnectionChange((up) => {
      if (up) for (const s of this.slots.values()) void s.room.fill();
    });
  }

  /** Rooms open here. */
  get size(): number {
    return this.slots.size;
  }

  /** The room open here under `name` (perhaps still being set up). */
  slot(name: string): OpenRoom | undefined {
    return this.slots.get(name);
  }

  /** A room that is not kept open: it stores a message and is dropped. */
  transient(name: string): Room {
    return new Room(name, this.ctx);
  }

  /** The room, opened if needed, with one more reference; rejects when it cannot be set up. */
  async acquire(name: string): Promise<Room> {
    let slot = this.slots.get(name);
    if (slot) {
      clearTimeout(slot.linger);
      slot.linger = undefined;
      slot.refs++;
    } else {
      const room = new Room(name, this.ctx);
      const created: Slot = { room, ready: room.activate(), refs: 1, linger: undefined };
      slot = created;
      this.slots.set(name, created);
      created.ready.catch(() => {
        if (this.slots.get(name) === created) this.slots.delete(name);
      });
    }
    try {
      await slot.ready;
    } catch (err) {
      slot.refs--;
      throw err;
    }
    return slot.room;
  }

  /** Drops a reference; the room closes `LINGER_MS` after its last one, unless acquired again. */
  release(name: string, room: Room): void {
    const slot = this.slots.get(name);
    if (!slot || slot.room !== room) return;
    if (--slot.refs > 0) return;
    clearTimeout(slot.linger);
    slot.linger = setTimeout(() => {
      if (this.slots.get(name) !== slot || slot.refs > 0) return;
      this.slots.delete(name);
      void slot.room.deactivate();
    }, LINGER_MS);
    slot.linger.unref();
  }

  /** Stops the heartbeat and closes every room. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.offBus();
    const rooms = [...this.slots.values()];
    this.slots.clear();
    for (const s of rooms) clearTimeout(s.linger);
    await Promise.all(rooms.map((s) => s.ready.then(() => s.room.deactivate(), noop)));
  }
}
