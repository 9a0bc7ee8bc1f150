import { problem } from 'stateline/http';
import type { ServerResponse } from 'node:http';
import type { ErrorCode, ErrorDefinition } from 'stateline/errors';

/**
 * Answers with a problem+json document, or cuts the connection when the response has already
 * started (a client must never mistake a half response for a whole one).
 */
export function sendProblem(
  res: ServerResponse,
  code: ErrorCode | ErrorDefinition,
  detail: string,
  extraHeaders?: Record<string, string>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.destroyed) return;
  const p = problem(code, detail, extraHeaders);
  res.writeHead(p.status, { ...p.headers, 'content-length': String(Buffer.byteLength(p.body)) }).end(p.body);
}
