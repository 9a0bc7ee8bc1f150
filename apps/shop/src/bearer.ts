import type { IncomingMessage } from 'node:http';

const BEARER = /^Bearer(?:\s+(.*))?$/i;

/**
 * The token of an `Authorization: Bearer …` header (`''` when the scheme comes without one), or
 * undefined when the request carries no bearer credentials.
 *
 * @example
 * ```ts
 * bearerToken(req); // 'eyJhbGciOiJFZERTQSIs…'
 * ```
 */
export function bearerToken(req: IncomingMessage): string | undefined {
  const raw = req.headers.authorization;
  if (raw === undefined) return undefined;
  const m = BEARER.exec(raw.trim());
  return m ? (m[1] ?? '').trim() : undefined;
}
