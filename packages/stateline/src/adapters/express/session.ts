import type { IncomingMessage, ServerResponse } from 'node:http';
import { problemFor } from '../../http/problem.js';
import type { Session, SessionManager } from '../../session/types.js';
import { commitBeforeHead } from '../node/response-gate.js';
import { requestContext, sendProblem } from '../node/request-context.js';

/** An Express request with its session: `(req: SessionRequest<Request>, res) => …`. */
export type SessionRequest<R extends IncomingMessage = IncomingMessage> = R & { session: Session };

type Next = (err?: unknown) => void;

/**
 * Express middleware: `req.session` for every request, committed before the response leaves.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { session, problemHandler } from 'stateline/express';
 * const app = express();
 * app.use(session(sessions));
 * app.post('/cart', async (req, res) => {
 *   const cart = await req.session.update('cart', (c = []) => [...c, req.query.item]);
 *   res.json(cart);
 * });
 * app.use(problemHandler());
 * ```
 */
export function session(
  sessions: SessionManager,
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    sessions.load(requestContext(req)).then(
      (s) => {
        (req as SessionRequest).session = s;
        commitBeforeHead(res, s);
        next();
      },
      (err: unknown) => sendProblem(res, err),
    );
  };
}

/**
 * Express error middleware that answers Stateline errors (and anything else, as a 500 with no
 * details) with problem+json. Register it last.
 *
 * @example
 * ```ts
 * app.use(problemHandler());
 * ```
 */
export function problemHandler(): (
  err: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  next: Next,
) => void {
  return (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const p = problemFor(err);
    res.writeHead(p.status, p.headers).end(p.body);
  };
}
