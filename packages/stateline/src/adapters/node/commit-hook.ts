import type { ServerResponse } from 'node:http';
import type { Session } from '../../session/types.js';
import { sendProblem } from './request-context.js';

type Fn = (...args: never[]) => unknown;

/**
 * Makes the session commit before the first byte of the response leaves: `writeHead`, `write`
 * and `end` are held until the commit has finished and its `Set-Cookie` is on the response. When
 * the commit fails (the session was ended meanwhile, the token is too large, the Store is down)
 * the handler's response is replaced by the problem, so a lost write is never reported as success.
 */
export function commitBeforeResponse(res: ServerResponse, session: Session): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end } as Record<
    'writeHead' | 'write' | 'end',
    Fn
  >;
  let gate: Promise<boolean> | undefined;
  let heldHead: unknown[] | undefined;
  const queue: [Fn, unknown[]][] = [];

  const restore = () => {
    res.writeHead = original.writeHead as ServerResponse['writeHead'];
    res.write = original.write as ServerResponse['write'];
    res.end = original.end as ServerResponse['end'];
  };

  const open = (): Promise<boolean> =>
    (gate ??= session.commit().then(
      ({ setCookie }) => {
        restore();
        if (setCookie.length > 0 && !res.headersSent) {
          const prior = res.getHeader('set-cookie');
          const list = prior === undefined ? [] : Array.isArray(prior) ? prior : [String(prior)];
          res.setHeader('set-cookie', [...list, ...setCookie]);
        }
        if (heldHead) (original.writeHead as Fn).apply(res, heldHead as never[]);
        for (const [fn, args] of queue) fn.apply(res, args as never[]);
        return true;
      },
      (err: unknown) => {
        restore();
        sendProblem(res, err);
        return false;
      },
    ));

  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    heldHead = args;
    void open();
    return this;
  } as ServerResponse['writeHead'];
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    queue.push([original.write, args]);
    void open();
    return true;
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    queue.push([original.end, args]);
    void open();
    return this;
  } as ServerResponse['end'];
}
