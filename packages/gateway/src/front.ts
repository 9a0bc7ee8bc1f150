import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendProblem } from './respond.js';

/**
 * A handler in front of the proxy: it sees each plain HTTP request before any instance does and
 * returns true when it answered it (or will: an answer may follow after it returned), false to let
 * the next handler, and finally the proxy, have it. See {@link Gateway.use}.
 */
export type FrontHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** Where a failed handler is reported. */
export type FrontErrorReport = (err: unknown, req: IncomingMessage) => void;

/** Nothing more may happen to this response: it started, or its client went away. */
function settled(res: ServerResponse): boolean {
  return res.headersSent || res.destroyed;
}

/** Hands `err` to `report`; a report that throws in turn must not take the gateway down with it. */
export function reportSafely(report: FrontErrorReport, err: unknown, req: IncomingMessage): void {
  try {
    report(err, req);
  } catch {
    // Nowhere left to report it.
  }
}

function fail(res: ServerResponse, req: IncomingMessage, err: unknown, report: FrontErrorReport): void {
  sendProblem(res, 'SL_ERR_INTERNAL', 'a front handler of the gateway failed');
  reportSafely(report, err, req);
}

/**
 * Runs `handlers` from index `from` in order until one answers; `proxy` gets the request when none
 * did. Synchronous answers stay synchronous (no promise per request); a handler that throws or
 * rejects gets the client a 500 problem (no message, no stack) and `report` the error. A handler
 * that said false after it began an answer, or whose client left meanwhile, ends the chain too.
 */
export function runFront(
  handlers: readonly FrontHandler[],
  req: IncomingMessage,
  res: ServerResponse,
  proxy: () => void,
  report: FrontErrorReport,
  from = 0,
): void {
  for (let k = from; k < handlers.length; k++) {
    let answered: boolean | Promise<boolean>;
    try {
      answered = handlers[k]!(req, res);
    } catch (err) {
      fail(res, req, err, report);
      return;
    }
    if (answered === true) return;
    // Anything but true or a promise (an untyped caller's undefined, say) counts as not answered.
    if (typeof answered === 'object' && answered !== null && typeof answered.then === 'function') {
      answered.then(
        (done) => {
          if (done !== true && !settled(res)) runFront(handlers, req, res, proxy, report, k + 1);
        },
        (err: unknown) => fail(res, req, err, report),
      );
      return;
    }
    if (settled(res)) return;
  }
  proxy();
}
