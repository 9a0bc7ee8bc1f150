import type { Workload } from 'stateline/instance';
import { Agent } from 'undici';
import { HttpClient } from './http-client.js';
import { mulberry32 } from './prng.js';

/** A live instance as the cluster reports it. */
interface LiveInstance {
  readonly id: string;
  readonly url: string | null;
}

const CHECK_ATTEMPTS = 3;

/** Runs `fn` with a client straight to a live instance (a new one per attempt), uncounted. */
async function withInstance<T>(
  live: () => readonly LiveInstance[],
  seed: number,
  fn: (http: HttpClient) => Promise<T | null>,
): Promise<T | null> {
  const dispatcher = new Agent({ keepAliveTimeout: 1000, connections: 2 });
  try {
    for (let attempt = 0; attempt < CHECK_ATTEMPTS; attempt++) {
      const urls = live().flatMap((i) => (i.url ? [i.url] : []));
      const base = urls[attempt % Math.max(1, urls.length)];
      if (!base) return null;
      const http = new HttpClient({ base, dispatcher, random: mulberry32(seed + attempt) });
      const out = await fn(http).catch(() => null);
      if (out !== null) return out;
    }
    return null;
  } finally {
    await dispatcher.close().catch(() => {});
  }
}

/**
 * The instance a `kill` should hit, as the workload's `victim` names it: null when the workload
 * has no `victim`, or it answered null, threw, or named an instance that is not up (the lab then
 * uses its seeded choice).
 *
 * @example
 * ```ts
 * const id = (await askVictim(workload, () => up())) ?? seededVictim;
 * ```
 */
export async function askVictim(
  workload: Workload<unknown>,
  live: () => readonly LiveInstance[],
): Promise<string | null> {
  const { victim } = workload;
  if (!victim) return null;
  const id = await withInstance(live, 0x71c7, (http) => victim.call(workload, { http }));
  return id !== null && live().some((i) => i.id === id) ? id : null;
}

/**
 * The workload's whole-run checks (`verify`) after the load: every user's memory and a client
 * straight to a live instance. Each returned finite number becomes a counter; null when the
 * workload has no `verify` or it failed on every attempt (the report then counts
 * `verifyFailures`).
 *
 * @example
 * ```ts
 * const found = await verifyWorkload(workload, users.map((u) => u.state()), () => up());
 * found?.['drop.oversold']; // 0
 * ```
 */
export async function verifyWorkload(
  workload: Workload<unknown>,
  states: readonly unknown[],
  live: () => readonly LiveInstance[],
): Promise<Record<string, number> | null> {
  const { verify } = workload;
  if (!verify) return null;
  const found = await withInstance(live, 0x7e21, (http) => verify.call(workload, { http, states }));
  if (found === null) return null;
  return Object.fromEntries(
    Object.entries(found).filter((e): e is [string, number] => Number.isFinite(e[1])),
  );
}
