import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/types.js';
import type { MemoryStore } from '../store/memory-store.js';
import type { StoredRecord } from '../store/types.js';
import { PeerTable } from './peer-table.js';
import { keys, timedOut } from './record.js';
import { parse, type Stored } from './record-strategy.js';
import type { Revocations } from './revocations.js';
import type { SessionInfo } from './types.js';

type Msg =
  | { t: 'hb'; from: string; hello?: true }
  | { t: 'bye'; from: string }
  | { t: 'list'; from: string; id: string; user: string }
  | { t: 'find'; from: string; id: string; handle: string; user: string | null }
  | { t: 'res'; from: string; id: string; list?: SessionInfo[]; found?: boolean };

const BROADCAST = 'memory-sessions';
const direct = (id: string) => `memory-sessions:${id}`;
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

interface Gather {
  left: Set<string>;
  answers: Msg[];
  done: () => void;
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
  private readonly peers: PeerTable;
  private readonly gathers = new Map<string, Gather>();
  private readonly offs: (() => Promise<void> | void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeat: number;
  private readonly timeout: number;

  private constructor(
    private readonly local: MemoryStore,
    private readonly bus: Bus,
    private readonly revocations: Revocations,
    private readonly o: MemoryFleetOptions,
  ) {
    this.heartbeat = o.heartbeat ?? 1000;
    this.peers = new PeerTable(this.heartbeat);
    this.timeout = o.timeout ?? 500;
  }

  static async open(
    local: MemoryStore,
    bus: Bus,
    revocations: Revocations,
    options: MemoryFleetOptions,
  ): Promise<MemoryFleet> {
    const f = new MemoryFleet(local, bus, revocations, options);
    const on = (m: string) => f.receive(m);
    f.offs.push(await bus.subscribe(BROADCAST, on), await bus.subscribe(direct(options.instanceId), on));
    f.offs.push(revocations.onRevoked((kind, who) => void f.purge(kind, who).catch(() => {})));
    f.timer = setInterval(() => f.send(BROADCAST, { t: 'hb', from: options.instanceId }), f.heartbeat);
    f.timer.unref();
    f.send(BROADCAST, { t: 'hb', from: options.instanceId, hello: true });
    return f;
  }

  private send(channel: string, msg: Msg): void {
    this.bus.publish(channel, JSON.stringify(msg)).catch(() => {
      // At-most-once: a lost request or answer shows up as a peer that did not answer in time.
    });
  }

  /** The live peers (not this instance). */
  livePeers(): string[] {
    this.peers.expire();
    return this.peers.ids().sort();
  }

  private receive(raw: string): void {
    let m: Msg;
    try {
      m = JSON.parse(raw) as Msg;
    } catch {
      return;
    }
    if (!m || typeof m !== 'object' || typeof m.from !== 'string' || m.from === this.o.instanceId) return;
    if (m.t === 'bye') {
      this.peers.forget(m.from);
      for (const g of [...this.gathers.values()]) if (g.left.delete(m.from) && g.left.size === 0) g.done();
      return;
    }
    this.peers.heard(m.from);
    switch (m.t) {
      case 'hb':
        if (m.hello) this.send(direct(m.from), { t: 'hb', from: this.o.instanceId });
        return;
      case 'list':
        void this.localList(m.user).then(
          (list) => this.send(direct(m.from), { t: 'res', from: this.o.instanceId, id: m.id, list }),
          () => this.send(direct(m.from), { t: 'res', from: this.o.instanceId, id: m.id, list: [] }),
        );
        return;
      case 'find':
        this.send(direct(m.from), {
          t: 'res',
          from: this.o.instanceId,
          id: m.id,
          found: this.holds(m.handle, m.user),
        });
        return;
      case 'res': {
        const g = this.gathers.get(m.id);
        if (!g) return;
        g.answers.push(m);
        g.left.delete(m.from);
        if (g.left.size === 0) g.done();
        return;
      }
    }
  }

  /** Asks every live peer; resolves with the answers that came before all did or `timeout`. */
  private gather(
    ask: { t: 'list'; user: string } | { t: 'find'; handle: string; user: string | null },
  ): Promise<Msg[]> {
    const peers = this.livePeers();
    if (peers.length === 0) return Promise.resolve([]);
    const id = randomUUID();
    return new Promise((resolve) => {
      const g: Gather = {
        left: new Set(peers),
        answers: [],
        done: () => {
          clearTimeout(timer);
          this.gathers.delete(id);
          resolve(g.answers);
        },
      };
      const timer = setTimeout(g.done, this.timeout);
      this.gathers.set(id, g);
      this.send(BROADCAST, { ...ask, from: this.o.instanceId, id } as Msg);
    });
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
      out.push({ handle: rec.h, createdAt: rec.c, lastSeenAt: rec.s, userAgent: rec.a });
    }
    return out;
  }

  /** Every instance's live sessions of `userId`, one entry per handle (the freshest copy). */
  async list(userId: string): Promise<SessionInfo[]> {
    const [mine, answers] = await Promise.all([
      this.localList(userId),
      this.gather({ t: 'list', user: userId }),
    ]);
    const byHandle = new Map<string, SessionInfo>();
    const all = [mine, ...answers.map((a) => (a.t === 'res' && Array.isArray(a.list) ? a.list : []))];
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
      (await this.gather({ t: 'find', handle, user })).some((a) => a.t === 'res' && a.found === true);
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
    clearInterval(this.timer);
    // Peers stop waiting for this instance's answers at once.
    await this.bus.publish(BROADCAST, JSON.stringify({ t: 'bye', from: this.o.instanceId })).catch(() => {});
    for (const off of this.offs.splice(0)) await Promise.resolve(off()).catch(() => {});
    for (const g of [...this.gathers.values()]) g.done();
  }
}
