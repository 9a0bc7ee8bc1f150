import type { LogEntry } from '../log/types.js';
import type { Outgoing } from './connection.js';
import type { Member } from './membership.js';
import { PAGE } from './room-history.js';
import type { Room } from './room.js';

/** Times the held-back live frames may overflow (forcing another Log read) before the socket counts as too slow. */
const MAX_OVERFLOW_ROUNDS = 8;
/** Times a catch-up starts over because the room's epoch changed under it. */
const MAX_RESTARTS = 3;

/**
 * Brings a member that was just added to `room` (with `catching` set, so live frames are held
 * back for it) from `since` to the live edge without a gap or a duplicate:
 *
 * 1. read the Log after `since` (or just its head when there is no `since`), send `joined`;
 * 2. write the history, page by page, waiting for the socket to drain between pages;
 * 3. switch to live in one synchronous step: write the held-back live frames whose offset is
 *    beyond what the history gave, then let fan-out write to it directly.
 *
 * The history read starts after the member was added, so its head is at least the offset of any
 * live frame not held back: the two overlap, never leave a hole, and the overlap is dropped by
 * offset. If the held-back frames overflow `queueLimit`, they are discarded and the Log is read
 * again up to the live edge. If the room's epoch changes meanwhile, the catch-up starts over
 * from offset 0 of the new epoch with `recovered: false`.
 *
 * @example
 * ```ts
 * room.add(member); // member.catching = []
 * await catchUp(room, member, frame.since, frame.epoch);
 * ```
 */
export async function catchUp(
  room: Room,
  m: Member,
  since: number | undefined,
  epoch: string | undefined,
): Promise<void> {
  const present = () => !room.closed && room.members.get(m.conn) === m && m.conn.open;
  let forceUnrecovered = false;
  for (let attempt = 0; attempt <= MAX_RESTARTS; attempt++) {
    m.restart = false;
    m.overflow = false;
    m.catching = [];
    let r = since === undefined ? await room.history.readHead() : await room.history.read(since, epoch);
    if (!present()) return;
    let last: number;
    let recovered: boolean;
    if (since === undefined) {
      last = r.head;
      recovered = true;
    } else if (epoch !== undefined && epoch !== r.epoch) {
      last = 0; // the Log read from the start of the current epoch
      recovered = false;
    } else if (since > r.head) {
      // An offset this epoch never reached: the client's position belongs to a lost history.
      r = await room.history.read(0, r.epoch);
      if (!present()) return;
      last = 0;
      recovered = false;
    } else {
      last = since;
      recovered = r.complete;
    }
    if (!m.restart) {
      m.conn.send({
        type: 'joined',
        room: room.name,
        offset: r.head,
        epoch: r.epoch,
        recovered: recovered && !forceUnrecovered,
      });
      m.joined = true;
      m.conn.send(room.presenceFrame());
      if (r.epoch !== room.epoch) void room.fill(); // the room learns the new epoch and restarts us
      last = await deliver(room, m, r.entries, last);
      if (!present()) return;
      let full = r.entries.length === PAGE;
      let overflows = 0;
      while (!m.restart) {
        if (!full && !m.overflow) {
          if (m.conn.idle) break; // caught up, and the socket has room for the held frames
          await m.conn.drained();
          if (!present()) return;
          continue;
        }
        if (m.overflow && ++overflows > MAX_OVERFLOW_ROUNDS) return tooSlow(room, m);
        await m.conn.drained();
        if (!present()) return;
        if (m.restart) break;
        if (m.overflow) {
          m.overflow = false;
          m.catching = [];
        }
        const page = await room.history.read(last, r.epoch);
        if (!present()) return;
        if (m.restart) break;
        if (page.epoch !== r.epoch) {
          void room.fill();
          m.restart = true;
          break;
        }
        last = await deliver(room, m, page.entries, last);
        if (!present()) return;
        full = page.entries.length === PAGE;
      }
    }
    if (m.restart) {
      since = 0;
      epoch = room.epoch ?? undefined;
      forceUnrecovered = true;
      continue;
    }
    const held = m.catching ?? [];
    m.catching = null;
    m.last = m.conn.writeBatch(held, last);
    return;
  }
  tooSlow(room, m);
}

/** Writes history entries after `last` as fast as the socket takes them; returns the new `last`. */
async function deliver(room: Room, m: Member, entries: readonly LogEntry[], last: number): Promise<number> {
  if (entries.length === 0) return last;
  room.learn(entries);
  const batch: Outgoing[] = [];
  for (const e of entries)
    if (e.offset > last) batch.push({ offset: e.offset, frame: room.history.frameOf(e) });
  let next = 0;
  while (next < batch.length && m.conn.open) {
    ({ next, last } = m.conn.writeWhileWritable(batch, next, last));
    if (next < batch.length) await m.conn.drained();
  }
  return last;
}

function tooSlow(room: Room, m: Member): void {
  m.catching = null;
  m.conn.tooSlow();
}
