import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { StatelineError } from '../../errors.js';
import { createIdempotency } from '../../idempotency/idempotency-core.js';
import type { IdempotencyOptions, IdempotencyStats } from '../../idempotency/types.js';
import { sendNodeAnswer } from '../node/node-http.js';
import { saveBeforeEnd } from '../node/response-gate.js';

/** Options of the Express middleware; callbacks receive the Express `Request`. */
export type ExpressIdempotencyOptions = IdempotencyOptions<Request>;

/** The Express middleware, with `close()` for a Store it opened from a spec. */
export type ExpressIdempotency = RequestHandler & {
  close(): Promise<void>;
  readonly stats: Readonly<IdempotencyStats>;
};

/**
 * Idempotency-Key middleware for Express 4 and 5. Mount it after the body parser (the default
 * fingerprint digests `req.body`) and after the session middleware (the default scope is the
 * session's user). A handler that throws is answered by Express's error handling, and that
 * answer is what retries replay.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { idempotency } from 'stateline/express';
 * const app = express();
 * app.use(express.json(), idempotency({ store: 'redis://127.0.0.1:6379', required: true }));
 * app.post('/orders', (req, res) => res.status(201).location('/orders/1').json({ id: 1 }));
 * ```
 */
export function idempotency(options: ExpressIdempotencyOptions = {}): ExpressIdempotency {
  const core = createIdempotency<Request>(options);
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    core
      .begin({
        raw: req,
        method: req.method,
        path: req.originalUrl.split('?', 1)[0]!,
        url: req.originalUrl,
        header: (name) => req.get(name),
        body: () => parsedBody(req),
        session: (req as { session?: unknown }).session,
        address: req.ip,
      })
      .then((r) => {
        if (r.kind === 'answer') return sendNodeAnswer(res, r.answer);
        if (r.kind === 'ticket') saveBeforeEnd(res, r.ticket);
        next();
      }, next);
  };
  return Object.assign(middleware, { close: () => core.close(), stats: core.stats });
}

/** `req.body` as a body parser left it; a body nobody read cannot be fingerprinted. */
function parsedBody(req: Request): unknown {
  const body: unknown = req.body;
  if (body !== undefined) return body;
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0'))
    return undefined;
  throw new StatelineError(
    'SL_ERR_IDEMPOTENCY_BODY_UNREADABLE',
    'no body parser read this request body before idempotency(); mount express.json(), express.raw() or similar first, or pass fingerprint',
  );
}
