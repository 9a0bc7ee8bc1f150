import type { Bus } from '../bus/types.js';
import { PeerChannel } from '../internal/peer-channel.js';
import type { MemoryStore } from '../store/memory-store.js';
import type { StoredRecord } from '../store/types.js';
import { keys, timedOut } from './record.js';
import { parse, type Stored } from './record-strategy.js';
import type { Revocations } from './revocations.js';
import type { SessionInfo } from './types.js';

/** What one instance asks the others: a user's sessions, whether it holds a session, or its record. */
type Question =
  | { op: 'list'; user: string }
  | { op: 'find'; handle: string; user: string | null }
  | { op: 'get'; handle: string };
type Answer = SessionInfo[] | boolean | StoredRecord | null;

const SESSION_KEY = /^sess:([A-Za-z0-9_-]{22})$/;

export interface MemoryFleetOptions {
  instanceId: string;
  idle: number;
  absolute: number;
  now: () => number;
  /** Heartbeat interval (ms); a peer silent for three of them is gone (default 1000). */
  heartbeat?: number;
  /** Longest wait for the peers' answers to a list or find (ms, default 500). */
  timeout?: number;
}

function isStored(a: Answer): a is StoredRecord {
  return typeof a === 'object' && a !== null && !Array.isArray(a) && typeof a.value === 'string';
}

/**
 * The `memory` strategy's view of a user's sessions across instances. Sessions live in each
 * process's MemoryStore (and its replicas), so `list()` and "does anyone hold this handle" are a
 * request on the Bus that every live instance answers from its own memory; the asker waits for
 * every peer it knows (heartbeats) or `timeout`, whichever comes first. Revocations go through
 * {@link Revocations} (Store + Bus) and every instance drops the revoked records it holds, copies
 * included, so a failover cannot bring one back.
 *
 * @example
 * ```ts
 * const fleet = await MemoryFleet.open(memoryStore, bus, revocations, { instanceId: 'i1', idle, absolute, now: Date.now });
 * await fleet.revokeAll('alice'); // every instance refuses alice's sessions
 * ```
 */
export class MemoryFleet {
  private readonly channel: PeerChannel<Question, Answer>;
  private offRevoked: (() => void) | undefined;
  private readonly timeout: number;

  private constructor(
    private readonly local: MemoryStore,
    bus: Bus,
    private readonly revocations: Revocations,
    private readonly o: MemoryFleetOptions,
  ) {
    this.timeout = o.timeout ?? 500;
    this.channel = new PeerChannel(bus, {
      name: 'memory-sessions',
      instanceId: o.instanceId,
      heartbeat: o.heartbeat ?? 1000,
      answer: (q) => this.answer(q),
    });
  }

  static async open(
    local: MemoryStore,
    bus: Bus,
    revocations: Revocations,
    options: MemoryFleetOptions,
  ): Promise<MemoryFleet> {
    const f = new MemoryFleet(local, bus, revocations, options);
    await f.channel.start();
    f.offRevoked = revocations.onRevoked((kind, who) => void f.purge(kind, who).catch(() => {}));
    return f;
  }

  /** The live peers (not this instance). */
  livePeers(): string[] {
    return this.channel.peers();
  }

  private answer(q: Question): Answer | Promise<Answer> {
    if (q.op === 'list') return this.localList(q.user).catch(() => []);
    if (q.op === 'get') return typeof q.handle === 'string' ? this.local.peek(keys.session(q.handle)) : null;
    return this.holds(q.handle, q.user);
  }

  /** A live, unrevoked record this process holds (owned or a copy), without asking peers. */
  private read(handle: string): Stored | null {
    const found = this.local.peek(keys.session(handle));
    const rec = found && parse(found, handle);
    if (!rec) return null;
    if (timedOut(rec, this.o.now(), this.o.idle, this.o.absolute)) return null;
    if (this.revocations.isRevoked(rec, rec.l ?? rec.c)) return null;
    return rec;
  }

  private holds(handle: unknown, user: unknown): boolean {
    if (typeof handle !== 'string' || (user !== null && typeof user !== 'string')) return false;
    const rec = this.read(handle);
    return rec !== null && (user === null || rec.u === user);
  }

  /** This process's sessions of `userId` (its own and the copies it keeps for others). */
  private async localList(userId: string): Promise<SessionInfo[]> {
    if (typeof userId !== 'string') return [];
    const out: SessionInfo[] = [];
    for (const { member } of await this.local.indexMembers(keys.user(userId))) {
      const rec = this.read(member);
      if (!rec || rec.u !== userId) {
        await this.local.indexRemove(keys.user(userId), member);
        continue;
      }
      out.push({ handle: rec.h, kind: 'cookie', createdAt: rec.c, lastSeenAt: rec.s, userAgent: rec.a });
    }
    return out;
  }

  /**
   * The record of `handle` as a peer holds it (owned or a copy), asking every live peer and waiting
   * at most the fleet's timeout; null when none holds it. Used by `fromStateline` readers.
   */
  async fetch(handle: string): Promise<StoredRecord | null> {
    const { answers } = await this.channel.ask({ op: 'get', handle }, this.timeout, {
      enough: (a) => isStored(a),
    });
    return answers.find(isStored) ?? null;
  }

  /** Every instance's live sessions of `userId`, one entry per handle (the freshest copy). */
  async list(userId: string): Promise<SessionInfo[]> {
    const [mine, { answers }] = await Promise.all([
      this.localList(userId),
      this.channel.ask({ op: 'list', user: userId }, this.timeout),
    ]);
    const byHandle = new Map<string, SessionInfo>();
    const all = [mine, ...answers.map((a) => (Array.isArray(a) ? a : []))];
    for (const s of all.flat()) {
      const seen = byHandle.get(s.handle);
      if (!seen || s.lastSeenAt > seen.lastSeenAt) byHandle.set(s.handle, s);
    }
    return [...byHandle.values()].sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  }

  /**
   * Ends one session wherever it is held. With `userId`, only when some instance holds it as that
   * user's (false, nothing denied, otherwise); without, the handle is denied in any case.
   */
  async revoke(handle: string, userId?: string): Promise<boolean> {
    const user = userId ?? null;
    const held =
      this.holds(handle, user) ||
      (
        await this.channel.ask({ op: 'find', handle, user }, this.timeout, {
          enough: (found) => found === true,
        })
      ).answers.includes(true);
    if (!held && userId !== undefined) return false;
    await this.revocations.deny(handle, this.o.now() + this.o.absolute);
    await this.purge('d', handle);
    return held;
  }

  /** Ends every session of `userId` on every instance; returns how many were live. */
  async revokeAll(userId: string): Promise<number> {
    const live = await this.list(userId);
    await this.revocations.revokeUser(userId);
    await this.purge('v', userId);
    return live.length;
  }

  /** Drops the revoked records this process holds (its own and copies). */
  private async purge(kind: 'd' | 'v', who: string): Promise<void> {
    const handles =
      kind === 'd' ? [who] : (await this.local.indexMembers(keys.user(who))).map((e) => e.member);
    for (const h of handles) {
      const found = this.local.peek(keys.session(h));
      const rec = found && parse(found, h);
      if (!rec || !this.revocations.isRevoked(rec, rec.l ?? rec.c)) continue;
      await this.local.delete(keys.session(h));
      if (rec.u) await this.local.indexRemove(keys.user(rec.u), h);
    }
  }

  /**
   * For the replication's `onCopy`: indexes a copy under its user (so `list()` shows it after its
   * owner died), or drops it at once when it was revoked.
   */
  adopt(key: string, stored: StoredRecord): void {
    const m = SESSION_KEY.exec(key);
    const rec = m && parse(stored, m[1]!);
    if (!rec) return;
    if (this.revocations.isRevoked(rec, rec.l ?? rec.c)) {
      void this.local.delete(key).catch(() => {});
      return;
    }
    if (rec.u) void this.local.indexAdd(keys.user(rec.u), rec.h, rec.c + this.o.absolute).catch(() => {});
  }

  async close(): Promise<void> {
    this.offRevoked?.();
    await this.channel.close();
  }
}
