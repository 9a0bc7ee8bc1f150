import type { FaultKind } from './options.js';
import type { FaultRecord } from './report.js';

/** A fault to inject `at` ms after the load began. */
export interface PlannedFault {
  at: number;
  kind: FaultKind;
}

/** When each fault happens, as a fraction of the load's duration. */
export const FAULT_AT: Record<FaultKind, number> = {
  partition: 1 / 6,
  kill: 1 / 3,
  'store-restart': 1 / 2,
  restart: 2 / 3,
  latency: 3 / 4,
};

/** How long a network fault lasts before it is healed: a partition 5 s, latency a fifth of the run (both at most that share). */
export function faultHoldMs(kind: 'partition' | 'latency', durationMs: number): number {
  return kind === 'partition' ? Math.min(5000, Math.round(durationMs / 6)) : Math.round(durationMs / 5);
}

/**
 * The window a fault's cost is measured over (`impact` in the report): a network fault's hold,
 * else the 5 s after it (at most a sixth of the run).
 *
 * @example
 * ```ts
 * faultWindowMs('kill', 30_000); // 5000
 * ```
 */
export function faultWindowMs(kind: FaultKind, durationMs: number): number {
  return kind === 'partition' || kind === 'latency'
    ? faultHoldMs(kind, durationMs)
    : Math.min(5000, Math.round(durationMs / 6));
}

/**
 * The schedule of one config: `partition` at ⅙ of the duration, `kill` at ⅓, `store-restart` at ½
 * (only when the lab owns the store server; otherwise it is listed as not applied, with
 * `noStoreRestart` as the reason), `restart` at ⅔, `latency` at ¾. A network fault whose reason
 * in `noNetwork` is set is listed as not applied with it.
 *
 * @example
 * ```ts
 * planFaults(['kill', 'restart'], 30_000, null).plan; // [{ at: 10000, kind: 'kill' }, { at: 20000, kind: 'restart' }]
 * ```
 */
export function planFaults(
  kinds: readonly FaultKind[],
  durationMs: number,
  noStoreRestart: string | null,
  noNetwork: Partial<Record<'partition' | 'latency', string | null>> = {},
): { plan: PlannedFault[]; notApplied: { kind: FaultKind; reason: string }[] } {
  const plan: PlannedFault[] = [];
  const notApplied: { kind: FaultKind; reason: string }[] = [];
  for (const kind of kinds) {
    const netReason = kind === 'partition' || kind === 'latency' ? (noNetwork[kind] ?? null) : null;
    if (kind === 'store-restart' && noStoreRestart !== null)
      notApplied.push({ kind, reason: noStoreRestart });
    else if (netReason !== null) notApplied.push({ kind, reason: netReason });
    else plan.push({ at: Math.round(durationMs * FAULT_AT[kind]), kind });
  }
  plan.sort((a, b) => a.at - b.at);
  return { plan, notApplied };
}

/** What carrying out a fault needs. */
export interface FaultActions {
  /** The instance a kill hits (and a restart brings back). */
  victim: string;
  /** Asked just before the kill: another instance to hit instead (null: {@link victim}). */
  chooseVictim?: () => Promise<string | null>;
  /** Asked just before a network fault: the instance to cut or slow (null: {@link victim}). */
  netVictim?: (kind: 'partition' | 'latency') => string | null;
  kill(id: string): Promise<void>;
  start(id: string): Promise<void>;
  restartStore?: () => Promise<void>;
  storeTarget?: string;
  /** What a network fault cuts the victim from, when not the store (e.g. `the other instances`). */
  peersTarget?: string;
  /** Cuts instance `id` from the store, or from {@link peersTarget} (`partition`); healed by {@link heal}. */
  partition?: (id: string) => Promise<void>;
  /** Slows and thins the packets between instance `id` and the store (`latency`). */
  impair?: (id: string) => Promise<void>;
  /** Who `latency` slows when not only the victim (e.g. `every instance`), for the record. */
  impairs?: string;
  /** Ends every network fault of instance `id`. */
  heal?: (id: string) => Promise<void>;
  /** How long a network fault lasts, in ms. */
  holdMs?: (kind: 'partition' | 'latency') => number;
  /** ms since the load began. */
  now(): number;
}

/**
 * Runs a fault schedule against a live cluster: each fault at its time (never before), recorded
 * with the time it was issued; a kill hits the instance `chooseVictim` names, when it names one,
 * and a restart starts the instance the kill hit.
 * Stops scheduling once `stopped` says so. Failures of an action are
 * recorded in the target as `… (failed: reason)` rather than thrown: a run goes on.
 *
 * @example
 * ```ts
 * const done = runFaults(plan, actions, () => rec.now() > durationMs);
 * // … load …
 * const faults = await done; // [{ at: 10004, kind: 'kill', target: 'i2' }, …]
 * ```
 */
export async function runFaults(
  plan: readonly PlannedFault[],
  a: FaultActions,
  stopped: () => boolean,
): Promise<FaultRecord[]> {
  const out: FaultRecord[] = [];
  let victim = a.victim;
  for (const f of plan) {
    while (a.now() < f.at) {
      if (stopped()) return out;
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, f.at - a.now()))));
    }
    if (stopped()) return out;
    if (f.kind === 'kill' && a.chooseVictim) victim = (await a.chooseVictim().catch(() => null)) ?? victim;
    const at = Math.round(a.now());
    const net = f.kind === 'partition' || f.kind === 'latency' ? f.kind : null;
    const hold = net ? (a.holdMs?.(net) ?? 5000) : 0;
    // A network fault may hit another instance than a kill; the kill's victim stays.
    const hit = net ? (a.netVictim?.(net) ?? victim) : victim;
    const target =
      f.kind === 'store-restart'
        ? (a.storeTarget ?? 'store')
        : net
          ? `${net === 'latency' ? (a.impairs ?? hit) : hit} from ${a.peersTarget ?? a.storeTarget ?? 'store'} for ${hold} ms`
          : victim;
    const record: FaultRecord = { at, kind: f.kind, target };
    out.push(record);
    try {
      if (f.kind === 'kill') await a.kill(victim);
      else if (f.kind === 'restart') await a.start(victim);
      else if (f.kind === 'store-restart') await a.restartStore?.();
      else {
        try {
          await (net === 'partition' ? a.partition : a.impair)?.(hit);
          // Held for its time even when the load ends first: a fault is always healed.
          await new Promise((r) => setTimeout(r, hold));
        } finally {
          await a.heal?.(hit);
        }
      }
    } catch (err) {
      record.target = `${target} (failed: ${(err as Error).message})`;
    }
  }
  return out;
}
