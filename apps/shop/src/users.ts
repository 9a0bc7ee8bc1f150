import type { Store } from 'stateline/store';
import { hashPassword, verifyPassword, type PasswordHash } from './passwords.js';

/** A shop user as clients see it. */
export interface PublicUser {
  id: string;
  name: string;
}

interface UserRecord extends PublicUser {
  password: PasswordHash;
}

/** The three demo accounts; `user1`…`user<n>` join them for the lab's virtual users. */
export const DEMO_USERS = ['alice', 'bob', 'carol'] as const;
const USERNAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const userKey = (id: string) => `shop:user:${id}`;

/**
 * Usernames are case-insensitive; anything outside `[a-z0-9_.-]` (1–64) is no username at all.
 *
 * @example
 * ```ts
 * normalizeUsername(' Alice '); // 'alice'
 * ```
 */
export function normalizeUsername(raw: string): string | null {
  const name = raw.trim().toLowerCase();
  return USERNAME.test(name) ? name : null;
}

/**
 * Creates the demo users (and `user1`…`user<extra>`) that do not exist yet, with scrypt-hashed
 * passwords. `store.create` keeps an existing record, so instances starting together never
 * overwrite each other; each starts at a different place in the list (by `offset`) and skips users
 * already made, so they share the hashing instead of each doing all of it. The demo users get a
 * hash each; the load-test users `user<n>` (a lab run seeds hundreds: its users for every row of
 * a `--scale`/`--state-size` run) share one hash of the demo password per instance start, so
 * seeding them costs Store writes, not ~35 ms of CPU each. Their password is the published demo
 * one either way: one salt for all of them tells an attacker nothing the docs do not.
 *
 * @example
 * ```ts
 * await seedUsers(store, { password: 'stateline', extra: 50, offset: 1 });
 * ```
 */
export async function seedUsers(
  store: Store,
  o: { password: string; extra: number; offset?: number; parallel?: number },
): Promise<void> {
  const names: string[] = [...DEMO_USERS];
  for (let n = 1; n <= o.extra; n++) names.push(`user${n}`);
  const start = Math.abs(Math.trunc(o.offset ?? 0)) % names.length;
  const order = [...names.slice(start), ...names.slice(0, start)];
  const demo = new Set<string>(DEMO_USERS);
  let shared: Promise<PasswordHash> | undefined;
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const id = order[next++]!;
      if (await store.get(userKey(id))) continue;
      const password = demo.has(id)
        ? await hashPassword(o.password)
        : await (shared ??= hashPassword(o.password));
      const rec: UserRecord = { id, name: id, password };
      await store.create(userKey(id), JSON.stringify(rec));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.parallel ?? 2) }, worker));
}

/**
 * The user when the username exists and the password matches, else null (in about the same time).
 *
 * @example
 * ```ts
 * const user = await checkCredentials(store, 'alice', 'stateline'); // { id: 'alice', name: 'alice' }
 * ```
 */
export async function checkCredentials(
  store: Store,
  username: string,
  password: string,
): Promise<PublicUser | null> {
  const found = await store.get(userKey(username));
  let rec: UserRecord | undefined;
  try {
    rec = found ? (JSON.parse(found.value) as UserRecord) : undefined;
  } catch {
    rec = undefined;
  }
  if (!(await verifyPassword(rec?.password, password)) || !rec) return null;
  return { id: rec.id, name: rec.name };
}
