import type { ServerResponse } from 'node:http';
import { problemFor } from '../../http/problem.js';
import { requestContext } from '../../session/request-context.js';

export { requestContext };

/** Sends `err` as problem+json unless the response already started (then the socket is closed). */
export function sendProblem(
  res: ServerResponse,
  err: unknown,
  end: (body: string) => void = (b) => res.end(b),
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const p = problemFor(err);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = p.status;
  for (const [k, v] of Object.entries(p.headers)) res.setHeader(k, v);
  res.setHeader('content-length', Buffer.byteLength(p.body));
  end(p.body);
}
