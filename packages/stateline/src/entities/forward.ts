import { StatelineError } from '../errors.js';
import { REGISTRY } from '../internal/error-registry.js';
import { EntityBusyError, EntityRejectedError } from './errors.js';

/**
 * The header carrying the fleet's shared secret on a forwarded call.
 *
 * @example
 * ```ts
 * const forwarded = req.headers[FORWARD_HEADER] === process.env.ENTITY_SECRET;
 * ```
 */
export const FORWARD_HEADER = 'x-stateline-entity-forward';

/** The owner could not be reached at all: nothing was sent, so trying again is safe. */
export class OwnerUnreachableError extends Error {
  override readonly name = 'OwnerUnreachableError';
}

/** The owner answered that it holds no such key (any more): the call was not applied. */
export class OwnerMovedError extends Error {
  override readonly name = 'OwnerMovedError';
}

interface Problem {
  code?: string;
  detail?: string;
  reason?: string;
  notApplied?: boolean;
}

/** Sends one call to the owner's entity routes and turns its answer back into a result or error. */
export async function forwardCall(
  doFetch: typeof globalThis.fetch,
  base: string,
  secret: string,
  call: { type: string; key: string; method: string; args: unknown; idempotencyKey: string | undefined },
  timeout: number,
): Promise<unknown> {
  const url = `${base.replace(/\/+$/, '')}/${encodeURIComponent(call.type)}/${encodeURIComponent(call.key)}/${encodeURIComponent(call.method)}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', [FORWARD_HEADER]: secret };
  // As an RFC 8941 string, so a key with spaces or quotes arrives as it left.
  if (call.idempotencyKey !== undefined)
    headers['idempotency-key'] = `"${call.idempotencyKey.replace(/[\\"]/g, '\\$&')}"`;
  let res: Response;
  try {
    res = await doFetch(url, {
      method: 'POST',
      headers,
      // No body for no args: the owner's route reads an empty body as `undefined`, as a local call has it.
      body: call.args === undefined ? '' : JSON.stringify(call.args),
      signal: AbortSignal.timeout(Math.max(1, timeout)),
    });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError')
      throw new StatelineError('SL_ERR_ENTITY_TIMEOUT', `the owner at ${base} did not answer in time`);
    throw new OwnerUnreachableError(`${base}: ${(err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  if (res.ok) return (JSON.parse(text) as { result: unknown }).result;
  let p: Problem = {};
  try {
    p = JSON.parse(text) as Problem;
  } catch {
    // not a problem document: handled below by status
  }
  if (p.notApplied) throw new OwnerMovedError(p.detail ?? res.statusText);
  if (p.code === 'SL_ERR_ENTITY_REJECTED') throw new EntityRejectedError(p.reason ?? 'REJECTED', undefined);
  if (p.code === 'SL_ERR_ENTITY_BUSY')
    throw new EntityBusyError(Number(res.headers.get('retry-after') ?? '1'), p.detail ?? 'busy');
  const def = p.code === undefined ? undefined : REGISTRY.get(p.code);
  if (p.code !== undefined && def)
    throw new StatelineError({ code: p.code, ...def }, `from the owner at ${base}`);
  throw new StatelineError('SL_ERR_ENTITY_UNAVAILABLE', `the owner at ${base} answered ${res.status}`);
}
