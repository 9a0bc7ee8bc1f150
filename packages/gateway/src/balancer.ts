import { HashRing } from './hash-ring.js';
import type { Instance } from './instance.js';
import type { Balance } from './types.js';

/**
 * Picks an instance among the routable (`up`) ones by the configured policy. `exclude` lists the
 * instances a request already failed on, so a retry lands elsewhere.
 */
export class Balancer {
  private list: Instance[] = [];
  private byId = new Map<string, Instance>();
  private ring: HashRing<Instance> | undefined;
  private next = 0;

  constructor(
    private readonly balance: Balance,
    private readonly balanceFactor: number,
    private readonly virtualNodes: number,
  ) {}

  /** Called whenever the set of `up` instances changes. */
  update(routable: Instance[]): void {
    this.list = routable;
    this.byId = new Map(routable.map((i) => [i.id, i]));
    if (this.balance === 'hash') this.ring = new HashRing(routable, this.virtualNodes);
    if (this.next >= routable.length) this.next = 0;
  }

  get size(): number {
    return this.list.length;
  }

  /**
   * @param stickyId the instance the sticky cookie names, if any
   * @param hash the request key's hash (`hash` policy), if the request has a key
   */
  pick(
    stickyId: string | undefined,
    hash: number | undefined,
    exclude: Instance[] | undefined,
  ): Instance | undefined {
    switch (this.balance) {
      case 'round-robin':
        return this.roundRobin(exclude);
      case 'least-conn':
        return this.leastConn(exclude);
      case 'sticky': {
        if (stickyId !== undefined) {
          const pinned = this.byId.get(stickyId);
          if (pinned !== undefined && (exclude === undefined || !exclude.includes(pinned))) return pinned;
        }
        return this.roundRobin(exclude);
      }
      case 'hash':
        return hash === undefined ? this.leastConn(exclude) : this.hashed(hash, exclude);
    }
  }

  private roundRobin(exclude: Instance[] | undefined): Instance | undefined {
    const list = this.list;
    const n = list.length;
    for (let k = 0; k < n; k++) {
      const i = list[this.next]!;
      if (++this.next >= n) this.next = 0;
      if (exclude === undefined || !exclude.includes(i)) return i;
    }
    return undefined;
  }

  /** Fewest in flight; ties go round the list so equal instances share the load. */
  private leastConn(exclude: Instance[] | undefined): Instance | undefined {
    const list = this.list;
    const n = list.length;
    let best: Instance | undefined;
    const start = this.next;
    if (++this.next >= n) this.next = 0;
    for (let k = 0; k < n; k++) {
      const i = list[(start + k) % n]!;
      if (exclude !== undefined && exclude.includes(i)) continue;
      if (best === undefined || i.inflight < best.inflight) best = i;
    }
    return best;
  }

  /**
   * Consistent hashing with bounded load (Mirrokni, Thorup, Zadimoghaddam): an instance takes the
   * request only while its in-flight count is under ceil(factor × (total + 1) / n); otherwise the
   * walk goes on clockwise. Some instance is always under that bound, so the walk ends.
   */
  private hashed(hash: number, exclude: Instance[] | undefined): Instance | undefined {
    const ring = this.ring;
    if (ring === undefined) return undefined;
    const list = this.list;
    let total = 0;
    for (let k = 0; k < list.length; k++) total += list[k]!.inflight;
    const cap = Math.ceil((this.balanceFactor * (total + 1)) / list.length);
    const allowed = (i: Instance) => exclude === undefined || !exclude.includes(i);
    return ring.find(hash, (i) => i.inflight < cap && allowed(i)) ?? ring.find(hash, allowed);
  }
}
