import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Store } from 'stateline/store';
import { fail } from './http-error.js';

/** How long a retry of a token request with the same Idempotency-Key gets the same answer. */
export const REPLAY_TTL_MS = 60_000;
/** A reservation older than this belongs to an instance that died: another may take it over. */
export const REPLAY_LOCK_MS = 5_000;
const CAS_ATTEMPTS = 5;

interface Pending {
  state: 'pending';
  at: number;
}
interface Done {
  state: 'done';
  sealed: string;
}
type Entry = Pending | Done;

/**
 * Keeps the answer of a token request sent with an `Idempotency-Key` so that a retry (the
 * client's, or the gateway's after a connection reset) gets the same tokens instead of a second
 * family or, for a refresh, a reuse that would revoke the family. The answer is sealed with
 * AES-256-GCM under a key derived from what only the client sent (its refresh token or its
 * password, with the Idempotency-Key) and the shop's secret: the Store never holds a usable
 * token, and whoever reads it cannot guess the request offline. The record is found by a
 * different hash of the same material.
 *
 * A retry while the first attempt still runs gets 409 `SL_ERR_IDEMPOTENCY_IN_FLIGHT` with
 * `Retry-After: 1`; a reservation older than {@link REPLAY_LOCK_MS} (its instance died) is taken
 * over and the request runs again.
 *
 * @example
 * ```ts
 * const replay = new TokenReplay(store, seed);
 * const pair = await replay.run(['refresh', refreshToken, idempotencyKey], () => tokens.refresh(refreshToken));
 * ```
 */
export class TokenReplay {
  constructor(
    private readonly store: Store,
    private readonly secret: Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `issue` once per `parts` within {@link REPLAY_TTL_MS}; later calls get its result again. */
  async run<T>(parts: readonly string[], issue: () => Promise<T>): Promise<T> {
    const material = Buffer.from(parts.map((p) => `${p.length}:${p}`).join('|'));
    const id = createHash('sha256').update(this.secret).update('\0id\0').update(material).digest('base64url');
    const key = `shop:token-replay:${id}`;
    const sealKey = Buffer.from(hkdfSync('sha256', material, this.secret, 'shop token replay seal', 32));
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      const mine = JSON.stringify({ state: 'pending', at: this.now() } satisfies Pending);
      const created = await this.store.create(key, mine, { ttl: REPLAY_TTL_MS });
      if (created.ok) return this.issue(key, created.version, sealKey, issue);
      const rec = await this.store.get(key);
      if (!rec) continue;
      const entry = JSON.parse(rec.value) as Entry;
      if (entry.state === 'done') return unseal<T>(entry.sealed, sealKey);
      if (this.now() - entry.at < REPLAY_LOCK_MS)
        fail('SL_ERR_IDEMPOTENCY_IN_FLIGHT', 'this token request is being answered; ask again', {
          'retry-after': '1',
        });
      const taken = await this.store.update(key, mine, { ifVersion: rec.version, ttl: REPLAY_TTL_MS });
      if (taken.ok) return this.issue(key, taken.version, sealKey, issue);
    }
    fail('SL_ERR_IDEMPOTENCY_IN_FLIGHT', 'this token request is being answered; ask again', {
      'retry-after': '1',
    });
  }

  private async issue<T>(key: string, version: number, sealKey: Buffer, issue: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await issue();
    } catch (err) {
      // A refusal is not kept: the same request asked again is judged again.
      await this.store.delete(key).catch(() => {});
      throw err;
    }
    const done: Done = { state: 'done', sealed: seal(result, sealKey) };
    await this.store.update(key, JSON.stringify(done), { ifVersion: version, ttl: REPLAY_TTL_MS });
    return result;
  }
}

function seal(value: unknown, key: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
}

function unseal<T>(sealed: string, key: Buffer): T {
  const raw = Buffer.from(sealed, 'base64url');
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  d.setAuthTag(raw.subarray(12, 28));
  return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')) as T;
}
