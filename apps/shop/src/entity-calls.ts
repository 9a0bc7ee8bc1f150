import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EntityBusyError } from 'stateline/entities';
import { parseIdempotencyKey } from 'stateline/idempotency';
import { fail, ShopError } from './http-error.js';

/**
 * The request's `Idempotency-Key` (bare or quoted), undefined when absent; a malformed one is a
 * 400 `SL_ERR_IDEMPOTENCY_KEY_INVALID`.
 *
 * @example
 * ```ts
 * const key = idempotencyKeyOf(req); // 'k-1' for `Idempotency-Key: "k-1"`
 * ```
 */
export function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const parsed = parseIdempotencyKey(Array.isArray(raw) ? raw.join(',') : raw);
  if (!parsed.ok) fail('SL_ERR_IDEMPOTENCY_KEY_INVALID', `Idempotency-Key: ${parsed.reason}`);
  return parsed.key;
}

/**
 * The idempotency key an entity call is made with: the client's key scoped to its user (two users
 * may pick the same key), hashed so it stays within the entities' 200 characters.
 *
 * @example
 * ```ts
 * scopedKey('alice', 'k-1'); // 'alice:3f…' (43 base64url characters after the colon)
 * ```
 */
export function scopedKey(userId: string, key: string): string {
  return `${userId.slice(0, 64)}:${createHash('sha256').update(key).digest('base64url')}`;
}

/**
 * An entity call's error as the shop answers it: a busy mailbox keeps its 429 with `Retry-After`
 * (the client waits and sends the same key again); everything else goes on unchanged (an
 * unreachable owner is a 503, which gets `Retry-After: 1` when it is sent).
 *
 * @example
 * ```ts
 * await entities.call('list', id, 'add', args).catch(entityFailure);
 * ```
 */
export function entityFailure(err: unknown): never {
  if (err instanceof EntityBusyError)
    throw new ShopError('SL_ERR_ENTITY_BUSY', err.message, { 'retry-after': String(err.retryAfter) });
  throw err;
}
