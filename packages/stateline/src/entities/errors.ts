import { StatelineError } from '../errors.js';

/**
 * `SL_ERR_ENTITY_REJECTED` with the app's own code in `reason` (what `ctx.reject` throws).
 *
 * @example
 * ```ts
 * try { await entities.call('drop', 'sku-1', 'buy', { userId }); }
 * catch (err) { if (err instanceof EntityRejectedError && err.reason === 'SOLD_OUT') showSoldOut(); }
 * ```
 */
export class EntityRejectedError extends StatelineError {
  constructor(
    readonly reason: string,
    detail?: string,
  ) {
    super('SL_ERR_ENTITY_REJECTED', detail ? `${reason}: ${detail}` : reason);
  }
}

/** Thrown inside the mailbox when this instance no longer owns the key: the call was not applied. */
export class NotOwnerError extends Error {
  override readonly name = 'NotOwnerError';
}

/**
 * `SL_ERR_ENTITY_BUSY` with the seconds a client should wait (sent as `Retry-After`).
 *
 * @example
 * ```ts
 * catch (err) { if (err instanceof EntityBusyError) res.setHeader('retry-after', String(err.retryAfter)); }
 * ```
 */
export class EntityBusyError extends StatelineError {
  constructor(
    readonly retryAfter: number,
    detail: string,
  ) {
    super('SL_ERR_ENTITY_BUSY', detail);
  }
}
