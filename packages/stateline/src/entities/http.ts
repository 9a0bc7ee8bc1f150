import { timingSafeEqual } from 'node:crypto';
import { StatelineError } from '../errors.js';
import { SL_ERR_BAD_REQUEST, SL_ERR_METHOD_NOT_ALLOWED } from '../http/http-errors.js';
import { problemFor, type ProblemResponse } from '../http/problem.js';
import { parseIdempotencyKey } from '../idempotency/key-parse.js';
import type { Entities } from './entities.js';
import { EntityBusyError, EntityRejectedError } from './errors.js';
import { FORWARD_HEADER, OwnerMovedError } from './forward.js';

/** A request as every adapter hands it over. */
export interface EntityHttpRequest {
  method: string;
  /** The path below the route prefix: `/<type>/<key>/<method>` (each part URI-encoded). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body (JSON args), empty for none. */
  body: string;
}

export type EntityHttpResponse = ProblemResponse;

function header(h: EntityHttpRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function sameSecret(given: string | undefined, secret: string | undefined): boolean {
  if (given === undefined || secret === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): EntityHttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** The problem+json answer for an entity call's error, with `reason` and `Retry-After` where they apply. */
export function entityProblem(err: unknown): EntityHttpResponse {
  if (err instanceof OwnerMovedError) {
    const p = problemFor(new StatelineError('SL_ERR_ENTITY_UNAVAILABLE', 'not the owner'));
    return { ...p, body: JSON.stringify({ ...(JSON.parse(p.body) as object), notApplied: true }) };
  }
  if (err instanceof EntityBusyError) return problemFor(err, { 'retry-after': String(err.retryAfter) });
  const p = problemFor(err);
  if (err instanceof EntityRejectedError)
    return { ...p, body: JSON.stringify({ ...(JSON.parse(p.body) as object), reason: err.reason }) };
  return p;
}

/**
 * The framework-neutral entity route: `POST <prefix>/:type/:key/:method` with JSON args and an
 * optional `Idempotency-Key` header → `entities.call`. Resolves with null when the path is not
 * one of its routes (the adapter passes the request on). A call carrying the fleet's secret in
 * `x-stateline-entity-forward` was forwarded by another instance and is never forwarded again.
 *
 * @example
 * ```ts
 * const answer = await handleEntityCall(entities, { method: 'POST', path: '/drop/sku-1/buy', headers: {}, body: '{"userId":"u1"}' });
 * if (answer) res.writeHead(answer.status, answer.headers).end(answer.body);
 * ```
 */
export async function handleEntityCall(
  entities: Entities,
  req: EntityHttpRequest,
  options: { secret?: string } = {},
): Promise<EntityHttpResponse | null> {
  const parts = req.path
    .split('?')[0]!
    .split('/')
    .filter((p) => p !== '');
  if (parts.length !== 3) return null;
  if (req.method !== 'POST')
    return problemFor(new SL_ERR_METHOD_NOT_ALLOWED('entity calls are POST'), { allow: 'POST' });
  let type: string, key: string, method: string;
  let args: unknown;
  try {
    [type, key, method] = parts.map((p) => decodeURIComponent(p)) as [string, string, string];
    args = req.body.trim() === '' ? undefined : (JSON.parse(req.body) as unknown);
  } catch {
    return problemFor(new SL_ERR_BAD_REQUEST('the path or the JSON body is malformed'));
  }
  const rawKey = header(req.headers, 'idempotency-key');
  let idempotencyKey: string | undefined;
  if (rawKey !== undefined) {
    // The same reading as the idempotency middleware: bare, or an RFC 8941 string with its escapes.
    const parsed = parseIdempotencyKey(rawKey);
    if (!parsed.ok)
      return problemFor(
        new StatelineError('SL_ERR_IDEMPOTENCY_KEY_INVALID', `Idempotency-Key: ${parsed.reason}`),
      );
    idempotencyKey = parsed.key;
  }
  const noForward = sameSecret(header(req.headers, FORWARD_HEADER), options.secret);
  try {
    const result = await entities.call(type, key, method, args, {
      ...(idempotencyKey ? { idempotencyKey } : {}),
      noForward,
    });
    return json(200, { result: result ?? null });
  } catch (err) {
    return entityProblem(err);
  }
}
