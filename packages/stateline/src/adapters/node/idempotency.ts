import type { IncomingMessage, ServerResponse } from 'node:http';
import { problemFor } from '../../http/problem.js';
import { createIdempotency } from '../../idempotency/idempotency-core.js';
import type { IdempotencyOptions, IdempotencyStats, IdempotencyTicket } from '../../idempotency/types.js';
import { joinHeader, readRequestBody, sendNodeAnswer } from './node-http.js';
import { saveBeforeEnd } from './response-gate.js';

/** A request whose body `withIdempotency` has read: the bytes are in `body`. */
export type IdempotentRequest<Req extends IncomingMessage = IncomingMessage> = Req & { body?: Buffer };

/** A node:http handler; it may return a promise. */
export type IdempotentRequestHandler<Req extends IncomingMessage = IncomingMessage> = (
  req: IdempotentRequest<Req>,
  res: ServerResponse,
) => void | Promise<void>;

/** Options of the node:http wrapper; callbacks receive the `IncomingMessage` (with `body`). */
export type NodeIdempotencyOptions<Req extends IncomingMessage = IncomingMessage> = IdempotencyOptions<
  IdempotentRequest<Req>
>;

/** The wrapped handler, with `close()` for a Store it opened from a spec. */
export type NodeIdempotency<Req extends IncomingMessage = IncomingMessage> = ((
  req: Req,
  res: ServerResponse,
) => void) & {
  close(): Promise<void>;
  readonly stats: Readonly<IdempotencyStats>;
};

/**
 * Wraps a node:http `(req, res)` handler with Idempotency-Key handling. For the covered methods
 * the body is read first (to fingerprint it) and handed over as `req.body` (a Buffer); other
 * requests reach the handler with the stream untouched. A handler that throws or rejects gets its
 * error as a problem (a `StatelineError` keeps its status; anything else is a 500, or, once the
 * head is sent, a closed socket) and that problem is what retries replay. Only a 5xx goes to
 * `onError`: a thrown 4xx (an app's own refusal, say) is an answer, not a failure.
 *
 * `Req` is the request type the wrapper is called with: inside `withSession`, write
 * `withIdempotency<SessionIncomingMessage>(…)` and both the handler and the options' callbacks see
 * `req.session` with no cast.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { withIdempotency } from 'stateline/node';
 * const handler = withIdempotency({ store: 'sqlite:.stateline/state.db' }, (req, res) => {
 *   const order = JSON.parse(req.body!.toString());
 *   res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(order));
 * });
 * http.createServer(handler).listen(3000);
 * ```
 */
export function withIdempotency<Req extends IncomingMessage = IncomingMessage>(
  options: NodeIdempotencyOptions<Req>,
  handler: IdempotentRequestHandler<Req>,
): NodeIdempotency<Req> {
  const core = createIdempotency<IdempotentRequest<Req>>(options);

  const run = (req: IdempotentRequest<Req>, res: ServerResponse, ticket?: IdempotencyTicket): void => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        const p = problemFor(err);
        // A thrown 4xx is the handler's answer (saved and replayed like any other), not a failure.
        if (p.status >= 500) core.onError(err);
        if (!res.headersSent) return sendNodeAnswer(res, p);
        // The head is out, so no error answer fits: save the 500 so a retry does not run it again.
        void ticket?.complete({ status: p.status, headers: p.headers, body: Buffer.from(p.body) });
        res.destroy();
      });
  };

  const wrapped = (req: IdempotentRequest<Req>, res: ServerResponse): void => {
    if (!core.covers(req.method ?? 'GET')) return run(req, res);
    const url = req.url ?? '/';
    readRequestBody(req)
      .then((body) => {
        req.body = body;
        return core.begin({
          raw: req,
          method: req.method ?? 'GET',
          path: url.split('?', 1)[0]!,
          url,
          header: (name) => joinHeader(req.headers[name]),
          body: () => body,
          session: (req as { session?: unknown }).session,
          address: req.socket.remoteAddress,
        });
      })
      .then(
        (r) => {
          if (r.kind === 'answer') return sendNodeAnswer(res, r.answer);
          if (r.kind !== 'ticket') return run(req, res);
          saveBeforeEnd(res, r.ticket);
          run(req, res, r.ticket);
        },
        // The body could not be read: the client went away mid-upload.
        () => res.destroy(),
      );
  };
  return Object.assign(wrapped, { close: () => core.close(), stats: core.stats });
}
