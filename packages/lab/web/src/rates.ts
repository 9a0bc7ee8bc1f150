// Pure arithmetic of the chart (no DOM): the lab's tests import it.

/** Cumulative counts per instance id at one status reading. */
export interface Sample {
  /** Milliseconds since the epoch. */
  t: number;
  served: ReadonlyMap<string, number>;
  errors: ReadonlyMap<string, number>;
}

/** A point of a series: time (ms) and a rate per second. */
export type Point = readonly [t: number, perSecond: number];

/** Requests per second of each instance, and errors per second of all of them together. */
export interface Rates {
  served: Map<string, Point[]>;
  errors: Point[];
}

/** The growth of a counter; one that went back belongs to a new process, which counted from 0. */
function growth(cur: number, prev: number | undefined): number {
  return prev === undefined || cur < prev ? cur : cur - prev;
}

/**
 * Per-second rates between consecutive samples, for the instances in `ids`.
 *
 * @example
 * ```ts
 * const r = rates(samples, ['i1', 'i2']); // r.served.get('i1') → [[t, 12.5], …]; r.errors → [[t, 0], …]
 * ```
 */
export function rates(samples: readonly Sample[], ids: readonly string[]): Rates {
  const out: Rates = { served: new Map(), errors: [] };
  for (const id of ids) out.served.set(id, []);
  let a: Sample | undefined;
  for (const b of samples) {
    const dt = a === undefined ? 0 : (b.t - a.t) / 1000;
    if (a !== undefined && dt > 0) {
      let errors = 0;
      for (const [id, series] of out.served) {
        const cur = b.served.get(id);
        if (cur === undefined) continue;
        series.push([b.t, growth(cur, a.served.get(id)) / dt]);
        errors += growth(b.errors.get(id) ?? 0, a.errors.get(id));
      }
      out.errors.push([b.t, errors / dt]);
    }
    a = b;
  }
  return out;
}

/**
 * The top of the chart's scale: `v` rounded up to 1, 2, 2.5 or 5 times a power of ten (at least 1).
 *
 * @example
 * ```ts
 * niceMax(37); // 50
 * ```
 */
export function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 2.5, 5]) if (step * p >= v) return step * p;
  return 10 * p;
}
