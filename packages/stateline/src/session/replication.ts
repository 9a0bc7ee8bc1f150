import { createHash, randomUUID } from 'node:crypto';
import type { Bus } from '../bus/types.js';
import type { MemoryStore } from '../store/memory-store.js';
import type {
  CreateOptions,
  CreateResult,
  IndexEntry,
  Store,
  StoredRecord,
  UpdateOptions,
  UpdateResult,
} from '../store/types.js';
import { PeerTable } from './peer-table.js';

export type ReplicationMode = 'backup' | 'all';

export interface ReplicationOptions {
  mode: ReplicationMode;
  /** This instance's id (unique in the cluster). */
  instanceId: string;
  /** Longest wait for a backup's acknowledgement before the write goes on degraded (ms). */
  timeout: number;
  /** Heartbeat interval (ms); a peer silent for three of them is gone. */
  heartbeat?: number;
  /** Longest wait for peers when a record is missing locally (ms). */
  fetchTimeout?: number;
}

/** Counters the manager exposes. */
export interface ReplicationMetrics {
  /** Writes whose backup did not acknowledge in time (the write itself stood). */
  replicationDegraded: number;
  /** Records fetched from a peer after a failover. */
  replicasFetched: number;
  /** Records sent to a peer that became their backup after the membership changed. */
  replicasTransferred: number;
}

type Msg =
  | { t: 'hb'; from: string; hello?: true }
  | { t: 'put'; from: string; id?: string; key: string; rec: StoredRecord }
  | { t: 'del'; from: string; id?: string; key: string }
  | { t: 'ack'; from: string; id: string }
  | { t: 'get'; from: string; id: string; key: string }
  | { t: 'have'; from: string; id: string; rec: StoredRecord | null };

const BROADCAST = 'replication';
const direct = (id: string) => `replication:${id}`;

/** Rendezvous (highest random weight) score of `instance` for `key`. */
function score(instance: string, key: string): number {
  return createHash('sha1').update(instance).update('\0').update(key).digest().readUInt32BE(0);
}

/**
 * The `memory` strategy's replication, as a Store in front of the process's MemoryStore. Every
 * write is applied here and then, before the request's response goes out, on one backup chosen
 * by rendezvous hashing over the live instances (`backup`) or on every live instance (`all`).
 * Peers are learned from heartbeats on the Bus. A record missing here (the gateway redispatched
 * after its owner died) is fetched from the peers. When the membership changes, records this
 * instance owns are sent to their new backup, so a restarted instance gets what it must hold.
 *
 * @example
 * ```ts
 * const store = await ReplicatedStore.open(new MemoryStore(), bus, { mode: 'backup', instanceId: 'i1', timeout: 500 });
 * ```
 */
export class ReplicatedStore implements Store {
  readonly backend = 'memory' as const;
  readonly metrics: ReplicationMetrics = {
    replicationDegraded: 0,
    replicasFetched: 0,
    replicasTransferred: 0,
  };
  private readonly peers: PeerTable;
  /** Keys this instance wrote (it is their owner) and the backup each was last sent to. */
  private readonly owned = new Map<string, string | null>();
  private readonly pending = new Map<string, { left: Set<string>; done: () => void }>();
  private readonly fetches = new Map<
    string,
    { asked: Set<string>; done: (rec: StoredRecord | null) => void }
  >();
  private readonly offs: (() => Promise<void>)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeat: number;
  private readonly fetchTimeout: number;
  /** Called after a peer's copy of a record was taken in (replicated to here, or fetched after a failover). */
  onCopy: ((key: string, rec: StoredRecord) => void) | undefined;

  private constructor(
    private readonly local: MemoryStore,
    private readonly bus: Bus,
    private readonly o: ReplicationOptions,
  ) {
    this.heartbeat = o.heartbeat ?? 1000;
    this.peers = new PeerTable(this.heartbeat);
    this.fetchTimeout = o.fetchTimeout ?? Math.min(o.timeout, 250);
  }

  static async open(local: MemoryStore, bus: Bus, options: ReplicationOptions): Promise<ReplicatedStore> {
    const s = new ReplicatedStore(local, bus, options);
    const on = (m: string) => s.receive(m);
    s.offs.push(await bus.subscribe(BROADCAST, on), await bus.subscribe(direct(options.instanceId), on));
    s.timer = setInterval(() => s.beat(), s.heartbeat);
    s.timer.unref();
    s.beat(true);
    return s;
  }

  /** The live peers (not this instance), for tests and status pages. */
  livePeers(): string[] {
    this.expirePeers();
    return this.peers.ids().sort();
  }

  private send(channel: string, msg: Msg): void {
    this.bus.publish(channel, JSON.stringify(msg)).catch(() => {
      // At-most-once: a lost replica shows up as a timed-out acknowledgement (degraded).
    });
  }

  private beat(hello = false): void {
    this.expirePeers();
    this.send(
      BROADCAST,
      hello ? { t: 'hb', from: this.o.instanceId, hello } : { t: 'hb', from: this.o.instanceId },
    );
  }

  private expirePeers(): void {
    if (this.peers.expire()) this.rebalance();
  }

  private receive(raw: string): void {
    let m: Msg;
    try {
      m = JSON.parse(raw) as Msg;
    } catch {
      return;
    }
    if (m.from === this.o.instanceId) return;
    switch (m.t) {
      case 'hb': {
        const isNew = this.peers.heard(m.from);
        if (m.hello) this.send(direct(m.from), { t: 'hb', from: this.o.instanceId });
        if (isNew) this.rebalance();
        return;
      }
      case 'put':
        if (this.local.restore(m.key, m.rec)) this.onCopy?.(m.key, m.rec);
        // Someone else wrote it: they own it now.
        this.owned.delete(m.key);
        if (m.id) this.send(direct(m.from), { t: 'ack', from: this.o.instanceId, id: m.id });
        return;
      case 'del':
        void this.local.delete(m.key);
        this.owned.delete(m.key);
        if (m.id) this.send(direct(m.from), { t: 'ack', from: this.o.instanceId, id: m.id });
        return;
      case 'ack': {
        const p = this.pending.get(m.id);
        p?.left.delete(m.from);
        if (p && p.left.size === 0) p.done();
        return;
      }
      case 'get':
        this.send(direct(m.from), {
          t: 'have',
          from: this.o.instanceId,
          id: m.id,
          rec: this.local.peek(m.key),
        });
        return;
      case 'have': {
        const f = this.fetches.get(m.id);
        if (!f) return;
        f.asked.delete(m.from);
        if (m.rec) f.done(m.rec);
        else if (f.asked.size === 0) f.done(null);
        return;
      }
    }
  }

  /** Where a key's copies go: its backup, or every live peer. */
  private targets(key: string): string[] {
    this.expirePeers();
    const peers = this.peers.ids();
    if (this.o.mode === 'all' || peers.length <= 1) return peers;
    let best = peers[0]!;
    let bestScore = score(best, key);
    for (const p of peers.slice(1)) {
      const s = score(p, key);
      if (s > bestScore) [best, bestScore] = [p, s];
    }
    return [best];
  }

  /** Sends `msg` to the key's targets and waits for their acknowledgements (bounded by timeout). */
  private async replicate(key: string, msg: { t: 'put'; rec: StoredRecord } | { t: 'del' }): Promise<void> {
    // A delete must reach every copy, wherever earlier owners put them.
    const targets = msg.t === 'del' ? this.livePeers() : this.targets(key);
    if (msg.t === 'put') this.owned.set(key, targets[0] ?? null);
    else this.owned.delete(key);
    if (targets.length === 0) return;
    const id = randomUUID();
    const acked = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.o.timeout);
      this.pending.set(id, {
        left: new Set(targets),
        done: () => {
          clearTimeout(timer);
          resolve(true);
        },
      });
    });
    const full: Msg =
      msg.t === 'put'
        ? { t: 'put', from: this.o.instanceId, id, key, rec: msg.rec }
        : { t: 'del', from: this.o.instanceId, id, key };
    const body = JSON.stringify(full);
    for (const t of targets) this.bus.publish(direct(t), body).catch(() => {});
    if (!(await acked)) this.metrics.replicationDegraded++;
    this.pending.delete(id);
  }

  /** After a membership change, owned records whose backup changed go to their new backup. */
  private rebalance(): void {
    if (this.o.mode === 'all') {
      for (const key of this.owned.keys()) this.transfer(key, this.peers.ids());
      return;
    }
    for (const [key, sentTo] of this.owned) {
      const [target] = this.targets(key);
      if (target && target !== sentTo) {
        this.owned.set(key, target);
        this.transfer(key, [target]);
      }
    }
  }

  private transfer(key: string, to: string[]): void {
    const rec = this.local.peek(key);
    if (!rec) {
      this.owned.delete(key);
      return;
    }
    for (const t of to) {
      this.metrics.replicasTransferred++;
      this.send(direct(t), { t: 'put', from: this.o.instanceId, key, rec });
    }
  }

  /** Asks every live peer for a record this instance does not hold. */
  private fetch(key: string): Promise<StoredRecord | null> {
    const peers = this.livePeers();
    if (peers.length === 0) return Promise.resolve(null);
    const id = randomUUID();
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), this.fetchTimeout);
      const finish = (rec: StoredRecord | null) => {
        clearTimeout(timer);
        this.fetches.delete(id);
        resolve(rec);
      };
      this.fetches.set(id, { asked: new Set(peers), done: finish });
      this.send(BROADCAST, { t: 'get', from: this.o.instanceId, id, key });
    });
  }

  async get(key: string): Promise<StoredRecord | null> {
    const rec = await this.local.get(key);
    if (rec) return rec;
    const remote = await this.fetch(key);
    if (!remote || !this.local.restore(key, remote)) return null;
    this.metrics.replicasFetched++;
    this.onCopy?.(key, remote);
    return this.local.get(key);
  }

  private async afterWrite(key: string): Promise<void> {
    const rec = this.local.peek(key);
    await this.replicate(key, rec ? { t: 'put', rec } : { t: 'del' });
  }

  async create(key: string, value: string, options?: CreateOptions): Promise<CreateResult> {
    const res = await this.local.create(key, value, options);
    if (res.ok) await this.afterWrite(key);
    return res;
  }

  async update(key: string, value: string, options?: UpdateOptions): Promise<UpdateResult> {
    const res = await this.local.update(key, value, options);
    if (res.ok) await this.afterWrite(key);
    return res;
  }

  async delete(key: string): Promise<boolean> {
    const removed = await this.local.delete(key);
    await this.replicate(key, { t: 'del' });
    return removed;
  }

  async touch(key: string, ttl: number | null): Promise<boolean> {
    const ok = await this.local.touch(key, ttl);
    if (ok) await this.afterWrite(key);
    return ok;
  }

  // The per-user index stays local; the memory strategy's MemoryFleet indexes copies (onCopy) and
  // gathers every instance's view for `list()`.
  indexAdd(owner: string, member: string, expiresAt: number | null): Promise<void> {
    return this.local.indexAdd(owner, member, expiresAt);
  }

  indexMembers(owner: string): Promise<IndexEntry[]> {
    return this.local.indexMembers(owner);
  }

  indexRemove(owner: string, member: string): Promise<void> {
    return this.local.indexRemove(owner, member);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const off of this.offs) await off().catch(() => {});
    for (const p of this.pending.values()) p.done();
    for (const f of this.fetches.values()) f.done(null);
  }
}
