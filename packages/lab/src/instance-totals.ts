import type { InstanceInfo } from '@stateline/gateway';

/** Counters the gateway keeps per instance process. */
export interface InstanceCounts {
  served: number;
  errors: number;
  retries: number;
}

const ZERO: InstanceCounts = { served: 0, errors: 0, retries: 0 };

/**
 * Per-instance totals since the cluster started. The gateway counts per process and forgets an
 * instance once its process exits (a kill is followed by `remove` within milliseconds, taking the
 * errors and retries of that very moment with it); {@link retire} keeps what the leaving process
 * counted, so the totals only ever go up.
 *
 * @example
 * ```ts
 * const totals = new InstanceTotals(() => gw.instances());
 * const registry = { remove: (id) => { totals.retire(id); gw.remove(id); }, … };
 * totals.of('i2'); // { served: 120, errors: 1, retries: 1 }
 * ```
 */
export class InstanceTotals {
  private readonly retired = new Map<string, InstanceCounts>();

  constructor(private readonly current: () => readonly InstanceInfo[]) {}

  /** Call just before the gateway forgets or replaces `id`'s process. */
  retire(id: string): void {
    const g = this.current().find((i) => i.id === id);
    if (!g) return;
    const r = this.retired.get(id) ?? ZERO;
    this.retired.set(id, {
      served: r.served + g.served,
      errors: r.errors + g.errors,
      retries: r.retries + g.retries,
    });
  }

  /** The totals of one instance id (zero for an id never seen). */
  of(
    id: string,
    current: Partial<InstanceCounts> | undefined = this.current().find((i) => i.id === id),
  ): InstanceCounts {
    const r = this.retired.get(id) ?? ZERO;
    if (!current) return r;
    return {
      served: r.served + (current.served ?? 0),
      errors: r.errors + (current.errors ?? 0),
      retries: r.retries + (current.retries ?? 0),
    };
  }

  /** Every id the gateway has now or had before. */
  ids(): string[] {
    return [...new Set([...this.retired.keys(), ...this.current().map((i) => i.id)])];
  }
}
