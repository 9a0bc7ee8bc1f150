// Type tests of `stateline/node`: node:http has no request type to augment, so `withSession` and
// `withIdempotency` hand their handlers the request with what they added.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { expectTypeOf } from 'expect-type';
import {
  withCsrf,
  withIdempotency,
  withSession,
  type IdempotentRequest,
  type SessionIncomingMessage,
} from 'stateline/node';
import type { Session, SessionManager } from 'stateline/session';

declare const sessions: SessionManager;

http.createServer(
  withCsrf(
    {},
    withSession(sessions, async (req, res) => {
      expectTypeOf(req.session).toEqualTypeOf<Session>();
      expectTypeOf(req).toMatchTypeOf<IncomingMessage>();
      const visits = await req.session.update<number>('visits', (v = 0) => v + 1);
      res.end(`visit ${visits}`);
    }),
  ),
);

// Idempotency inside the session: name the request type once, then no cast anywhere.
const checkout = withIdempotency<SessionIncomingMessage>(
  { required: true, scope: (req) => `u:${req.session.userId ?? ''}` },
  async (req, res) => {
    expectTypeOf(req.session).toEqualTypeOf<Session>();
    expectTypeOf(req.body).toEqualTypeOf<Buffer | undefined>();
    res.end(req.body);
  },
);
http.createServer(withSession(sessions, checkout));

// Without a session the handler gets the plain request with its body.
const plain = withIdempotency({}, (req: IdempotentRequest, res: ServerResponse) => void res.end(req.body));
http.createServer(plain);

http.createServer((req) => {
  // @ts-expect-error a plain node:http request has no session: wrap the handler in withSession
  return req.session;
});

withSession(sessions, async (req) => {
  // @ts-expect-error the data is read with get(), not as properties
  return req.session.cart;
});

// @ts-expect-error withIdempotency's request carries no session unless it runs inside withSession
withIdempotency({}, (req) => req.session);
