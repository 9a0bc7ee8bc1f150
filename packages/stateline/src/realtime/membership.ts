import type { BusMessage } from './codec.js';
import type { Connection, Outgoing } from './connection.js';
import { RoomPresence } from './presence.js';
import type { PresenceFrame } from './protocol.js';
import type { RoomContext, RoomLifecycle } from './room-context.js';
import { textFrame } from './ws-frame.js';

/** Presence changes are published and pushed at most this often per room. */
const PRESENCE_DEBOUNCE_MS = 20;

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
 * Who is in one room: the local sockets, and the presence across instances. Local changes are
 * published on the Bus (`p` messages) and pushed to the local members, each at most once per
 * 20 ms; the heartbeat republishes and expires silent instances.
 *
 * @example
 * ```ts
 * const membership = new Membership('lobby', ctx, room, (m) => publish(m));
 * membership.add({ conn, last: 0, catching: [], overflow: false, restart: false, joined: false });
 * ```
 */
export class Membership {
  readonly members = new Map<Connection, Member>();
  readonly presence: RoomPresence;
  private publishTimer: NodeJS.Timeout | undefined;
  private pushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: string,
    private readonly ctx: RoomContext,
    private readonly room: RoomLifecycle,
    private readonly publish: (m: BusMessage) => void,
  ) {
    this.presence = new RoomPresence(() => this.schedulePush());
  }

  add(m: Member): void {
    this.members.set(m.conn, m);
    if (this.presence.add(m.conn.who.name)) this.schedulePublish();
  }

  /** False when the socket was not a member. */
  remove(conn: Connection): boolean {
    const m = this.members.get(conn);
    if (!m) return false;
    this.members.delete(conn);
    if (this.presence.remove(conn.who.name)) this.schedulePublish();
    return true;
  }

  /** The presence frame for one socket (sent after `joined`). */
  frame(): PresenceFrame {
    return { type: 'presence', room: this.name, members: this.presence.members() };
  }

  /** Tells the other instances which members this one holds. */
  publishPresence(): void {
    this.publish({
      kind: 'p',
      instance: this.ctx.instanceId,
      heartbeat: this.ctx.heartbeat,
      members: this.presence.localMembers(),
    });
  }

  /** Drops silent instances' members; true when an instance was dropped. */
  expire(now: number): boolean {
    const before = this.presence.instances().length;
    this.presence.expire(now);
    return this.presence.instances().length < before;
  }

  /** Publishes this instance's members soon (a local change, or a newcomer asked). */
  schedulePublish(): void {
    if (this.publishTimer || this.room.closed) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      if (this.room.live) this.publishPresence();
    }, PRESENCE_DEBOUNCE_MS);
    this.publishTimer.unref();
  }

  /**
   * The room's history was replaced (new epoch): a live member starts over from offset 0 with a
   * new `joined`; one still catching up restarts its catch-up.
   */
  restart(epoch: string, head: number): void {
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

  /** Cancels the debounced publish and push (the room is closing). */
  stop(): void {
    clearTimeout(this.publishTimer);
    clearTimeout(this.pushTimer);
  }

  private schedulePush(): void {
    if (this.pushTimer || this.room.closed) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined;
      if (this.room.closed) return;
      const frame = textFrame(JSON.stringify(this.frame()));
      for (const m of this.members.values()) if (m.joined) m.conn.write(frame, false);
    }, PRESENCE_DEBOUNCE_MS);
    this.pushTimer.unref();
  }
}
