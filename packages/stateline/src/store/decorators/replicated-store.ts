import { createHash } from 'node:crypto';
import type { Bus } from '../../bus/types.js';
import { StatelineError } from '../../errors.js';
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
  /**
   * Longest wait for peers when a record is missing locally (ms; default: until a silent peer is
   * declared gone, four heartbeats). Once a peer sent a copy, the others get `timeout` more.
   */
  fetchTimeout?: number;
}

/** Counters the manager exposes. */
export interface ReplicationMetrics {
  /** Writes no peer acknowledged in time, the chosen backup nor the next ones (the write itself stood). */
  replicationDegraded: number;
  /** Writes whose chosen backup did not acknowledge in time and that the next peer in line took. */
  replicationRerouted: number;
  /**
   * Reads of a record missing here that no peer supplied while a live peer had not answered: the
   * read failed (`SL_ERR_STORE_UNAVAILABLE`) rather than report the record gone.
   */
  replicaFetchFailures: number;
  /** Records fetched from a peer after a failover. */
  replicasFetched: number;
  /** Deletes some listed peer did not confirm in time (a dead one not yet declared gone, usually). */
  deletesUnconfirmed: number;
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
    replicationRerouted: 0,
    replicaFetchFailures: 0,
    replicasFetched: 0,
    replicasTransferred: 0,
    deletesUnconfirmed: 0,
  };
  private readonly channel: PeerChannel<Question, StoredRecord | null>;
  /**
   * Keys this instance owns (it wrote them, or took over a copy whose owner left) and the backup
   * that acknowledged the last copy; null when no peer holds one.
   */
  private readonly owned = new Map<string, string | null>();
  /** Keys held here as a peer's copy, and that peer (their owner). */
  private readonly copies = new Map<string, string>();
  private readonly fetchTimeout: number;
  /** Called after a peer's copy of a record was taken in (replicated to here, or fetched after a failover). */
  onCopy: ((key: string, rec: StoredRecord) => void) | undefined;

  private constructor(
    local: MemoryStore,
    bus: Bus,
    private readonly o: ReplicationOptions,
  ) {
    super(local);
    const heartbeat = o.heartbeat ?? 1000;
    // A killed peer stays listed until three heartbeats passed in silence: a record it held a copy
    // of is worth waiting for until then, or the session would be reported gone while its copy
    // sits on a live but slow peer.
    this.fetchTimeout = o.fetchTimeout ?? Math.max(4 * heartbeat, o.timeout);
    this.channel = new PeerChannel(bus, {
      name: 'replication',
      instanceId: o.instanceId,
      heartbeat,
      answer: (q, from) => this.answer(q, from),
      onPeersChanged: (restarted) => this.rebalance(restarted),
    });
  }

  static async open(local: MemoryStore, bus: Bus, options: ReplicationOptions): Promise<ReplicatedStore> {
    const s = new ReplicatedStore(local, bus, options);
    // A restarted instance that answered before hearing its peers would find no copy of anything.
    await s.channel.start(options.heartbeat ?? 1000);
    return s;
  }

  /** The live peers (not this instance), for tests and status pages. */
  livePeers(): string[] {
    return this.channel.peers();
  }

  private answer(q: Question, from: string): StoredRecord | null {
    switch (q.op) {
      case 'put':
        if (this.inner.restore(q.key, q.rec)) this.onCopy?.(q.key, q.rec);
        // Someone else wrote it: they own it now.
        this.owned.delete(q.key);
        this.copies.set(q.key, from);
        return null;
      case 'del':
        void this.inner.delete(q.key).catch(() => {});
        this.owned.delete(q.key);
        this.copies.delete(q.key);
        return null;
      case 'get':
        return this.inner.peek(q.key);
    }
  }

  /** The live peers in the order a key's backup is chosen (rendezvous: highest score first). */
  private ranked(key: string): string[] {
    return this.channel
      .peers()
      .map((p) => [p, score(p, key)] as const)
      .sort((a, b) => b[1] - a[1])
      .map(([p]) => p);
  }

  /** Where a key's copies go: its backup, or every live peer. */
  private targets(key: string): string[] {
    const peers = this.channel.peers();
    if (this.o.mode === 'all' || peers.length <= 1) return peers;
    return this.ranked(key).slice(0, 1);
  }

  /**
   * Sends the write to the key's targets and waits for their acknowledgements (bounded by
   * timeout). In `backup` mode a backup that does not answer in time (killed, not yet declared
   * gone, or overloaded) is passed over for the next peer in rendezvous order, so the write still
   * has a copy on a live peer before the response goes out.
   */
  private async replicate(q: Question & { op: 'put' | 'del' }): Promise<void> {
    if (q.op === 'del') {
      // A delete must reach every copy, wherever earlier owners put them.
      this.owned.delete(q.key);
      this.copies.delete(q.key);
      const { complete } = await this.channel.ask(q, this.o.timeout, { to: this.channel.peers() });
      if (!complete) this.metrics.deletesUnconfirmed++;
      return;
    }
    // Written here: this instance owns it now, whoever did before.
    this.copies.delete(q.key);
    if (this.o.mode === 'all') {
      const targets = this.channel.peers();
      this.owned.set(q.key, targets[0] ?? null);
      const { complete } = await this.channel.ask(q, this.o.timeout, { to: targets });
      if (!complete) this.metrics.replicationDegraded++;
      return;
    }
    const line = this.ranked(q.key);
    this.owned.set(q.key, line[0] ?? null);
    for (let i = 0; i < line.length; i++) {
      const { complete } = await this.channel.ask(q, this.o.timeout, { to: [line[i]!] });
      if (complete) {
        if (i > 0) {
          this.metrics.replicationRerouted++;
          // Owned records whose backup is not the rendezvous one move when the membership changes.
          this.owned.set(q.key, line[i]!);
        }
        return;
      }
    }
    if (line.length > 0) this.metrics.replicationDegraded++;
    // No copy anywhere: the next membership change (or the drain) sends one.
    if (this.owned.has(q.key)) this.owned.set(q.key, null);
  }

  /**
   * After a membership change, owned records whose backup changed (or left, or restarted and so
   * lost its copy) go to their new backup. Copies whose owner left or restarted are the only ones
   * left: this instance takes them over and replicates them in turn.
   */
  private rebalance(restarted: readonly string[] = []): void {
    const live = new Set(this.channel.peers());
    this.adoptOrphans(live, restarted);
    for (const r of restarted)
      for (const [key, sentTo] of this.owned) if (sentTo === r) this.owned.set(key, null);
    if (this.o.mode === 'all') {
      const peers = this.channel.peers();
      for (const key of this.owned.keys()) this.transfer(key, peers);
      return;
    }
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

  /** Copies whose owner is not among `live` (or restarted) become this instance's own, with no backup yet. */
  private adoptOrphans(live: ReadonlySet<string>, restarted: readonly string[] = []): void {
    for (const [key, owner] of this.copies) {
      if (live.has(owner) && !restarted.includes(owner)) continue;
      this.copies.delete(key);
      if (this.inner.peek(key)) this.owned.set(key, null);
    }
  }

  /**
   * Before this instance leaves: every record it owns with no acknowledged copy on a live peer
   * (a degraded write, a copy taken over from an owner that left) is sent to its backup and the
   * acknowledgements awaited (bounded by timeout), so the last holder of a record does not take
   * it away with it.
   */
  private async handOff(): Promise<void> {
    const live = new Set(this.channel.peers());
    if (live.size === 0) return;
    this.adoptOrphans(live);
    const sends: Promise<unknown>[] = [];
    for (const [key, sentTo] of this.owned) {
      if (sentTo !== null && live.has(sentTo)) continue;
      const rec = this.inner.peek(key);
      const [target] = this.targets(key);
      if (!rec || !target) continue;
      this.metrics.replicasTransferred++;
      sends.push(this.channel.ask({ op: 'put', key, rec }, this.o.timeout, { to: [target] }));
    }
    await Promise.all(sends);
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
    // Two rounds at most: when a peer went away during the first, the others are asked again, as
    // a copy sent to one of them may have been on its way when it answered (the copy comes on the
    // peer's own channel, the question on the broadcast one: no order between them).
    for (let round = 0; ; round++) {
      const { answers, complete, unanswered } = await this.channel.ask(
        { op: 'get', key },
        this.fetchTimeout,
        {
          settle: { when: (rec) => rec !== null, ms: this.o.timeout },
        },
      );
      let newest: StoredRecord | null = null;
      for (const rec of answers) if (rec && (!newest || rec.version > newest.version)) newest = rec;
      if (newest) return newest;
      if (unanswered.length > 0) {
        // A live peer may hold the only copy: "gone" would silently replace the session.
        this.metrics.replicaFetchFailures++;
        throw new StatelineError(
          'SL_ERR_STORE_UNAVAILABLE',
          `no peer supplied ${key} in time (${unanswered.length} did not answer)`,
        );
      }
      if (complete || round > 0) return null;
    }
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

  /** Hands over the records only this instance holds, then stops replicating; the MemoryStore stays open (its owner closes it). */
  override async close(): Promise<void> {
    await this.handOff();
    return this.channel.close();
  }
}
