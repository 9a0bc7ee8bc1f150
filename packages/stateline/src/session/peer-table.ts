/**
 * The peers one instance has heard on the Bus (heartbeats and any other message), for the memory
 * strategy's replication and its fleet-wide list/revoke: a peer silent for three heartbeat
 * intervals is gone.
 */
export class PeerTable {
  private readonly seen = new Map<string, number>();

  constructor(private readonly heartbeat: number) {}

  /** Notes `id` as live now; true when it was not known. */
  heard(id: string): boolean {
    const isNew = !this.seen.has(id);
    this.seen.set(id, Date.now());
    return isNew;
  }

  /** `id` said goodbye. */
  forget(id: string): void {
    this.seen.delete(id);
  }

  /** Drops the peers silent for three heartbeats; true when any was dropped. */
  expire(): boolean {
    const cutoff = Date.now() - 3 * this.heartbeat;
    let dropped = false;
    for (const [id, at] of this.seen) {
      if (at < cutoff) {
        this.seen.delete(id);
        dropped = true;
      }
    }
    return dropped;
  }

  /** The peers known now (in the order first heard), without expiring any. */
  ids(): string[] {
    return [...this.seen.keys()];
  }
}
