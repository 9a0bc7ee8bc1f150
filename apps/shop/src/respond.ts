import type { ServerResponse } from 'node:http';

/**
 * Sends a JSON body (never cached unless the caller set `cache-control` first).
 *
 * @example
 * ```ts
 * sendJson(res, 200, { items });
 * ```
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * Sends an empty answer (204 by default).
 *
 * @example
 * ```ts
 * sendEmpty(res);
 * ```
 */
export function sendEmpty(res: ServerResponse, status = 204, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'cache-control': 'no-store', ...headers });
  res.end();
}
