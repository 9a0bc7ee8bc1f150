import type { WorkloadRandom } from 'stateline/instance';

/**
 * A seeded source of numbers: every choice a virtual user makes comes from one, so a run can be
 * repeated. The same as the workload contract's {@link WorkloadRandom}.
 */
export type Random = WorkloadRandom;

/**
 * mulberry32: a small, fast 32-bit PRNG, good enough for load scripts (not for secrets).
 *
 * @example
 * ```ts
 * const rnd = mulberry32(42);
 * rnd.int(1, 3); // the same sequence for the same seed
 * ```
 */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const word = () => Math.floor(next() * 4294967296);
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)]!,
    hex128: () => [word(), word(), word(), word()].map((w) => w.toString(16).padStart(8, '0')).join(''),
  };
}

/**
 * A per-user seed derived from the run's seed, so users do not share a sequence.
 *
 * @example
 * ```ts
 * const rnd = mulberry32(deriveSeed(42, 7));
 * ```
 */
export function deriveSeed(seed: number, n: number): number {
  let h = (seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
