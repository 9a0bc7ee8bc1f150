import type { AuditRecord, Workload } from 'stateline/instance';
import { Agent } from 'undici';
import { CookieJar } from './cookie-jar.js';
import { HttpClient } from './http-client.js';
import { deriveSeed, mulberry32 } from './prng.js';
import type { VirtualUser } from './virtual-user.js';

/** An idempotent create as the app lists it after the load (an order, for the shop). */
export type ListedOrder = AuditRecord;

/** What {@link auditCreates} found over every user. */
export interface AuditResult {
  duplicates: number;
  /** Answered creates the app's list did not hold. */
  missing: number;
  /** Users whose creates could not be listed. */
  failures: number;
}

const AUDIT_CONCURRENCY = 8;
const AUDIT_ATTEMPTS = 3;

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Duplicate creates of one user: for each Idempotency-Key, every distinct id beyond the first,
 * counting the ids the app lists and the ids it answered the client with (one listed under a key
 * the client got another id for is a second create). Also returns the acknowledged creates that
 * the list does not hold.
 *
 * @example
 * ```ts
 * countDuplicates([{ id: 'a', idempotencyKey: 'k' }, { id: 'b', idempotencyKey: 'k' }], new Map([['k', new Set(['a'])]]));
 * // { duplicates: 1, missing: 0 }
 * ```
 */
export function countDuplicates(
  listed: readonly AuditRecord[],
  seen: ReadonlyMap<string, ReadonlySet<string>>,
): { duplicates: number; missing: number } {
  const ids = new Map<string, Set<string>>();
  for (const o of listed) {
    const key = o.idempotencyKey ?? `(no key) ${o.id}`;
    const set = ids.get(key) ?? new Set<string>();
    set.add(o.id);
    ids.set(key, set);
  }
  const listedIds = new Set(listed.map((o) => o.id));
  let duplicates = 0;
  let missing = 0;
  for (const [key, set] of ids) {
    const all = new Set([...set, ...(seen.get(key) ?? [])]);
    duplicates += all.size - 1;
  }
  for (const [key, set] of seen) {
    if (!ids.has(key)) duplicates += set.size - 1;
    if (![...set].some((id) => listedIds.has(id))) missing++;
  }
  return { duplicates, missing };
}

/**
 * After the load: asks the app, through the workload's `audit`, what it holds for each user,
 * straight from a live instance (not the gateway, not counted as load), and counts duplicates
 * and missing creates against what the users were answered. Each user is asked with its own
 * cookies on every live instance in turn (a memory session lives on one), then up to three
 * times with an empty jar (`signIn: true`).
 *
 * @example
 * ```ts
 * const r = await auditCreates(workload, users, () => cluster.status().instances.filter((i) => i.state === 'up'));
 * r.duplicates; // 0
 * ```
 */
export async function auditCreates(
  workload: Workload<unknown>,
  users: readonly VirtualUser[],
  live: () => readonly { url: string | null }[],
): Promise<AuditResult> {
  const result: AuditResult = { duplicates: 0, missing: 0, failures: 0 };
  const { audit } = workload;
  if (!audit) return result;
  const dispatcher = new Agent({ keepAliveTimeout: 1000, connections: AUDIT_CONCURRENCY });
  const ask = async (u: VirtualUser, base: string, cookies: string | undefined): Promise<boolean> => {
    const jar = new CookieJar();
    if (cookies) jar.store(cookies.split('; '));
    const http = new HttpClient({ base, dispatcher, jar, random: mulberry32(deriveSeed(u.n, 0xa0d1)) });
    const listed = await audit
      .call(workload, { http, n: u.n, signIn: cookies === undefined })
      .catch(() => null);
    if (!listed) return false;
    const r = countDuplicates(listed, u.created);
    result.duplicates += r.duplicates;
    result.missing += r.missing;
    return true;
  };
  const urls = () => live().flatMap((i) => (i.url ? [i.url] : []));
  try {
    await pool(users, AUDIT_CONCURRENCY, async (u) => {
      const cookies = u.cookies();
      for (const url of cookies ? urls() : []) if (await ask(u, url, cookies)) return;
      for (let attempt = 0; attempt < AUDIT_ATTEMPTS; attempt++) {
        const up = urls();
        const target = up[attempt % Math.max(1, up.length)];
        if (target && (await ask(u, target, undefined))) return;
      }
      result.failures++;
    });
  } finally {
    await dispatcher.close().catch(() => {});
  }
  return result;
}
