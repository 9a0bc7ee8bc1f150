import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Session } from '../../session/types.js';
import { sendProblem } from './request-context.js';

type Fn = (...args: unknown[]) => unknown;

/**
 * Makes the session commit before the first byte of the response leaves. `writeHead` is turned
 * into status + headers on the response (so code that looks at `statusCode` sees the real one),
 * and `write`/`end` are held until the commit has finished and its `Set-Cookie` is on the
 * response. When the commit fails (the session was ended meanwhile, the token is too large, the
 * Store is down) the handler's response is replaced by the problem, so a lost write is never
 * reported as success.
 *
 * The wrappers stay in place and pass straight through once the commit is done, so middleware
 * that wraps `res` after this one (idempotency capture) keeps working.
 */
export function commitBeforeResponse(res: ServerResponse, session: Session): void {
  const original = { write: res.write as Fn, end: res.end as Fn, writeHead: res.writeHead as Fn };
  let state: 'holding' | 'open' | 'failed' = 'holding';
  let gate: Promise<void> | undefined;
  const queue: [Fn, unknown[]][] = [];

  const open = (): Promise<void> =>
    (gate ??= session.commit().then(
      ({ setCookie }) => {
        state = 'open';
        if (setCookie.length > 0 && !res.headersSent) {
          const prior = res.getHeader('set-cookie');
          const list = prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)];
          res.setHeader('set-cookie', [...list, ...setCookie]);
        }
        for (const [fn, args] of queue.splice(0)) fn.apply(res, args);
      },
      (err: unknown) => {
        state = 'failed';
        queue.length = 0;
        sendProblem(res, err, (body) => original.end.call(res, body));
      },
    ));

  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (state !== 'holding') return original.writeHead.apply(this, args);
    const [status, second, third] = args as [number, unknown, unknown];
    this.statusCode = status;
    if (typeof second === 'string') this.statusMessage = second;
    const headers = typeof second === 'string' ? third : second;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2)
        this.setHeader(String(headers[i]), headers[i + 1] as string);
    } else if (headers && typeof headers === 'object') {
      for (const [k, v] of Object.entries(headers as OutgoingHttpHeaders))
        if (v !== undefined) this.setHeader(k, v);
    }
    return this;
  } as ServerResponse['writeHead'];
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    if (state === 'open') return original.write.apply(this, args);
    if (state === 'failed') return false;
    queue.push([original.write, args]);
    void open();
    return true;
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (state === 'open') return original.end.apply(this, args);
    if (state === 'failed') return this;
    queue.push([original.end, args]);
    void open();
    return this;
  } as ServerResponse['end'];
}
