import { createHash } from 'node:crypto';

/** 32-bit FNV-1a over UTF-16 code units with murmur3's finaliser, so near-identical keys spread evenly. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A consistent-hash ring with virtual nodes. Each member owns `virtualNodes` points (the first four
 * bytes of md5(`id#n`), as ketama does); a key belongs to the first point at or after its hash.
 * Removing a member moves only the keys it owned.
 */
export class HashRing<T extends { readonly id: string }> {
  private readonly points: Uint32Array;
  private readonly owners: T[];
  /** Distinct members, for callers that walk the ring. */
  readonly size: number;

  constructor(members: readonly T[], virtualNodes: number) {
    const entries: { point: number; member: T }[] = [];
    for (const member of members) {
      for (let v = 0; v < virtualNodes; v++) {
        entries.push({
          point: createHash('md5').update(`${member.id}#${v}`).digest().readUInt32BE(0),
          member,
        });
      }
    }
    // Ties (astronomically rare) are broken by id so every gateway builds the same ring.
    entries.sort((a, b) => a.point - b.point || (a.member.id < b.member.id ? -1 : 1));
    this.points = Uint32Array.from(entries, (e) => e.point);
    this.owners = entries.map((e) => e.member);
    this.size = members.length;
  }

  /** Index of the first point at or after `hash` (wrapping to 0). */
  private start(hash: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }

  /** The member owning `hash`, or undefined on an empty ring. */
  owner(hash: number): T | undefined {
    return this.points.length === 0 ? undefined : this.owners[this.start(hash)];
  }

  /**
   * Walks clockwise from `hash` and returns the first member `accept` takes (bounded load skips
   * full members this way, and retries skip members already tried); undefined when none does.
   */
  find(hash: number, accept: (member: T) => boolean): T | undefined {
    const n = this.points.length;
    if (n === 0) return undefined;
    const first = this.start(hash);
    let seen: Set<T> | undefined;
    for (let k = 0; k < n; k++) {
      const member = this.owners[(first + k) % n]!;
      if (seen?.has(member)) continue;
      if (accept(member)) return member;
      (seen ??= new Set()).add(member);
      if (seen.size === this.size) return undefined;
    }
    return undefined;
  }
}
