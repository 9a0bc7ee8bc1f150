import type { IncomingMessage, ServerResponse } from 'node:http';
import { problemFor } from '../../http/problem.js';
import type { Session, SessionManager, Session as StatelineSession } from '../../session/types.js';
import { commitBeforeHead } from '../node/response-gate.js';
import { requestContext, sendProblem } from '../node/request-context.js';

declare global {
  // Express's own extension point (as @types/express-session uses it): importing `stateline/express`
  // types `req.session` on every Express 4/5 `Request`.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request's Stateline session, set by `session()` from `stateline/express`. */
      session: StatelineSession;
    }
  }
}

/**
 * A request with its session. Express's `Request` already carries `session` once `stateline/express`
 * is imported, so `(req: Request, res) => …` needs no wrapper; this stays for node:http-style
 * handlers typed on `IncomingMessage`.
 *
 * @deprecated For Express handlers use Express's `Request` (augmented by this module).
 * @example
 * ```ts
 * import type { Request, Response } from 'express';
 * import 'stateline/express';
 * const whoami = (req: Request, res: Response) => void res.json({ user: req.session.userId });
 * ```
 */
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
 * app.post('/cart/:id', async (req, res) => {
 *   const cart = await req.session.update<string[]>('cart', (c = []) => [...c, req.params.id]);
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
        (req as IncomingMessage & { session: Session }).session = s;
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
