/** A silent instance's members are dropped after this many of its heartbeats. */
export const PRESENCE_EXPIRY_HEARTBEATS = 2.5;

/**
 * Who is in one room, across instances. Local members are counted per socket (a user with two
 * tabs is one member); every other instance's list comes from its `p` Bus messages and expires
 * 2.5 of its heartbeats after the last one, so a dead instance's members are gone within three.
 *
 * @example
 * ```ts
 * const p = new RoomPresence((members) => push(members));
 * p.add('alice');
 * p.fromInstance('i2', ['bob'], 5000, Date.now()); // push(['alice', 'bob'])
 * ```
 */
export class RoomPresence {
  private readonly local = new Map<string, number>();
  private readonly remote = new Map<string, { members: string[]; expires: number }>();
  private current: string[] = [];

  constructor(private readonly onChange: (members: readonly string[]) => void) {}

  /** A local socket of `name` joined; true when the local member list changed. */
  add(name: string): boolean {
    const n = this.local.get(name) ?? 0;
    this.local.set(name, n + 1);
    if (n > 0) return false;
    this.recompute();
    return true;
  }

  /** A local socket of `name` left; true when the local member list changed. */
  remove(name: string): boolean {
    const n = this.local.get(name) ?? 0;
    if (n > 1) {
      this.local.set(name, n - 1);
      return false;
    }
    if (n === 0) return false;
    this.local.delete(name);
    this.recompute();
    return true;
  }

  /** This instance's members, for its `p` messages. */
  localMembers(): string[] {
    return [...this.local.keys()].sort();
  }

  /** Another instance's full list (empty: it left the room). */
  fromInstance(instance: string, members: readonly string[], heartbeat: number, now: number): void {
    const prev = this.remote.get(instance);
    if (members.length === 0) {
      if (!prev) return;
      this.remote.delete(instance);
    } else {
      this.remote.set(instance, {
        members: [...members],
        expires: now + heartbeat * PRESENCE_EXPIRY_HEARTBEATS,
      });
      if (prev && sameList(prev.members, members)) return;
    }
    this.recompute();
  }

  /** Drops instances whose heartbeats stopped. */
  expire(now: number): void {
    let changed = false;
    for (const [instance, r] of this.remote) {
      if (r.expires <= now) {
        this.remote.delete(instance);
        changed = true;
      }
    }
    if (changed) this.recompute();
  }

  /** Instances heard from and not expired. */
  instances(): string[] {
    return [...this.remote.keys()];
  }

  /** Everyone in the room, sorted. */
  members(): string[] {
    return this.current;
  }

  private recompute(): void {
    const all = new Set(this.local.keys());
    for (const r of this.remote.values()) for (const m of r.members) all.add(m);
    const next = [...all].sort();
    if (sameList(next, this.current)) return;
    this.current = next;
    this.onChange(next);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
