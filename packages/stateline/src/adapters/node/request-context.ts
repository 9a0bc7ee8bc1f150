import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { problemFor } from '../../http/problem.js';
import type { RequestContext } from '../../session/types.js';

/** What the session manager needs to know about a node:http request. */
export function requestContext(req: IncomingMessage): RequestContext {
  const h = req.headers;
  return {
    cookie: h.cookie,
    encrypted: (req.socket as TLSSocket).encrypted === true,
    forwardedProto: typeof h['x-forwarded-proto'] === 'string' ? h['x-forwarded-proto'] : undefined,
    userAgent: h['user-agent'],
  };
}

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
