import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session, SessionManager } from '../../session/types.js';
import { commitBeforeHead } from './response-gate.js';
import { requestContext, sendProblem } from './request-context.js';

/** A node:http request with its session attached. */
export type SessionIncomingMessage = IncomingMessage & { session: Session };

/**
 * Wraps a node:http handler so that `req.session` is loaded before it runs and committed before
 * the response leaves. A Store outage answers 503 problem+json (`onStoreError: 'fail'`).
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { withSession } from 'stateline/node';
 * http.createServer(withSession(sessions, async (req, res) => {
 *   const n = await req.session.update<number>('visits', (v = 0) => v + 1);
 *   res.end(`visit ${n}`);
 * })).listen(3000);
 * ```
 */
export function withSession<Req extends IncomingMessage, Res extends ServerResponse>(
  sessions: SessionManager,
  handler: (req: Req & { session: Session }, res: Res) => unknown,
): (req: Req, res: Res) => Promise<void> {
  return async (req, res) => {
    let session: Session;
    try {
      session = await sessions.load(requestContext(req));
    } catch (err) {
      sendProblem(res, err);
      return;
    }
    const withS = Object.assign(req, { session });
    commitBeforeHead(res, session);
    try {
      await handler(withS, res);
    } catch (err) {
      sendProblem(res, err);
    }
  };
}
