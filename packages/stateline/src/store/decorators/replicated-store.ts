import { createHash } from 'node:crypto';
import type { Bus } from '../../bus/types.js';
import { PeerChannel } from '../../internal/peer-channel.js';
import type { MemoryStore } from '../memory-store.js';
import type { CreateOptions, CreateResult, StoredRecord, UpdateOptions, UpdateResult } from '../types.js';
import { ForwardingStore } from './forwarding-store.js';

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

/** What one instance asks another: take a copy, drop one, or send the one it holds. */
type Question =
  { op: 'put'; key: string; rec: StoredRecord } | { op: 'del'; key: string } | { op: 'get'; key: string };

/** Rendezvous (highest random weight) score of `instance` for `key`. */
function score(instance: string, key: string): number {
  return createHash('sha1').update(instance).update('\0').update(key).digest().readUInt32BE(0);
}

/**
 * The `memory` strategy's replication, as a Store decorator in front of the process's MemoryStore.
 * Every write is applied here and then, before the request's response goes out, on one backup
 * chosen by rendezvous hashing over the live instances (`backup`) or on every live instance
 * (`all`). Peers are learned from heartbeats on the Bus. A record missing here (the gateway
 * redispatched after its owner died) is fetched from the peers. When the membership changes,
 * records this instance owns are sent to their new backup, so a restarted instance gets what it
 * must hold.
 *
 * @example
 * ```ts
 * const store = await ReplicatedStore.open(new MemoryStore(), bus, { mode: 'backup', instanceId: 'i1', timeout: 500 });
 * ```
 */
export class ReplicatedStore extends ForwardingStore<MemoryStore> {
  readonly metrics: ReplicationMetrics = {
    replicationDegraded: 0,
    replicasFetched: 0,
    replicasTransferred: 0,
  };
  private readonly channel: PeerChannel<Question, StoredRecord | null>;
  /** Keys this instance wrote (it is their owner) and the backup each was last sent to. */
  private readonly owned = new Map<string, string | null>();
  private readonly fetchTimeout: number;
  /** Called after a peer's copy of a record was taken in (replicated to here, or fetched after a failover). */
  onCopy: ((key: string, rec: StoredRecord) => void) | undefined;

  private constructor(
    local: MemoryStore,
    bus: Bus,
    private readonly o: ReplicationOptions,
  ) {
    super(local);
    this.fetchTimeout = o.fetchTimeout ?? Math.min(o.timeout, 250);
    this.channel = new PeerChannel(bus, {
      name: 'replication',
      instanceId: o.instanceId,
      heartbeat: o.heartbeat ?? 1000,
      answer: (q) => this.answer(q),
      onPeersChanged: () => this.rebalance(),
    });
  }

  static async open(local: MemoryStore, bus: Bus, options: ReplicationOptions): Promise<ReplicatedStore> {
    const s = new ReplicatedStore(local, bus, options);
    await s.channel.start();
    return s;
  }

  /** The live peers (not this instance), for tests and status pages. */
  livePeers(): string[] {
    return this.channel.peers();
  }

  private answer(q: Question): StoredRecord | null {
    switch (q.op) {
      case 'put':
        if (this.inner.restore(q.key, q.rec)) this.onCopy?.(q.key, q.rec);
        // Someone else wrote it: they own it now.
        this.owned.delete(q.key);
        return null;
      case 'del':
        void this.inner.delete(q.key).catch(() => {});
        this.owned.delete(q.key);
        return null;
      case 'get':
        return this.inner.peek(q.key);
    }
  }

  /** Where a key's copies go: its backup, or every live peer. */
  private targets(key: string): string[] {
    const peers = this.channel.peers();
    if (this.o.mode === 'all' || peers.length <= 1) return peers;
    let best = '';
    let bestScore = -1;
    for (const p of peers) {
      const s = score(p, key);
      if (s > bestScore) [best, bestScore] = [p, s];
    }
    return [best];
  }

  /** Sends the write to the key's targets and waits for their acknowledgements (bounded by timeout). */
  private async replicate(q: Question & { op: 'put' | 'del' }): Promise<void> {
    // A delete must reach every copy, wherever earlier owners put them.
    const targets = q.op === 'del' ? this.channel.peers() : this.targets(q.key);
    if (q.op === 'put') this.owned.set(q.key, targets[0] ?? null);
    else this.owned.delete(q.key);
    const { complete } = await this.channel.ask(q, this.o.timeout, { to: targets });
    if (!complete) this.metrics.replicationDegraded++;
  }

  /** After a membership change, owned records whose backup changed go to their new backup. */
  private rebalance(): void {
    if (this.o.mode === 'all') {
      const peers = this.channel.peers();
      for (const key of this.owned.keys()) this.transfer(key, peers);
      return;
    }
    const live = new Set(this.channel.peers());
    for (const [key, sentTo] of this.owned) {
      const [target] = this.targets(key);
      if (target && target !== sentTo) {
        this.owned.set(key, target);
        this.transfer(key, [target]);
        // The former backup, still up, drops its copy: a later failover must not read an old one.
        if (sentTo && live.has(sentTo)) this.channel.tell({ op: 'del', key }, sentTo);
      }
    }
  }

  private transfer(key: string, to: string[]): void {
    const rec = this.inner.peek(key);
    if (!rec) {
      this.owned.delete(key);
      return;
    }
    for (const t of to) {
      this.metrics.replicasTransferred++;
      this.channel.tell({ op: 'put', key, rec }, t);
    }
  }

  /**
   * Asks every live peer for a record this instance does not hold; the newest copy wins (a backup
   * whose acknowledgement timed out, or a former owner, may hold an older one).
   */
  private async fetch(key: string): Promise<StoredRecord | null> {
    const { answers } = await this.channel.ask({ op: 'get', key }, this.fetchTimeout);
    let newest: StoredRecord | null = null;
    for (const rec of answers) if (rec && (!newest || rec.version > newest.version)) newest = rec;
    return newest;
  }

  override async get(key: string): Promise<StoredRecord | null> {
    const rec = await this.inner.get(key);
    if (rec) return rec;
    const remote = await this.fetch(key);
    if (!remote || !this.inner.restore(key, remote)) return null;
    this.metrics.replicasFetched++;
    this.onCopy?.(key, remote);
    return this.inner.get(key);
  }

  private async afterWrite(key: string): Promise<void> {
    const rec = this.inner.peek(key);
    await this.replicate(rec ? { op: 'put', key, rec } : { op: 'del', key });
  }

  override async create(key: string, value: string, options?: CreateOptions): Promise<CreateResult> {
    const res = await this.inner.create(key, value, options);
    if (res.ok) await this.afterWrite(key);
    return res;
  }

  override async update(key: string, value: string, options?: UpdateOptions): Promise<UpdateResult> {
    const res = await this.inner.update(key, value, options);
    if (res.ok) await this.afterWrite(key);
    return res;
  }

  override async delete(key: string): Promise<boolean> {
    const removed = await this.inner.delete(key);
    await this.replicate({ op: 'del', key });
    return removed;
  }

  override async touch(key: string, ttl: number | null): Promise<boolean> {
    const ok = await this.inner.touch(key, ttl);
    if (ok) await this.afterWrite(key);
    return ok;
  }

  // The per-user index stays local (inherited): the memory strategy's MemoryFleet indexes copies
  // (onCopy) and gathers every instance's view for `list()`.

  /** Stops replicating; the MemoryStore stays open (its owner closes it). */
  override close(): Promise<void> {
    return this.channel.close();
  }
}
