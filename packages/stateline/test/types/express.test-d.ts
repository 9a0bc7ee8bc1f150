// Type tests of `stateline/express` under Express 5's types: importing the module puts `session`
// on Express's `Request`, so handlers use it with no cast.
import express, { type Request, type Response } from 'express';
import { expectTypeOf } from 'expect-type';
import { csrf, idempotency, problemHandler, session, type SessionRequest } from 'stateline/express';
import type { Session, SessionManager } from 'stateline/session';

declare const sessions: SessionManager;
type Item = { id: string; qty: number };

const app = express();
app.use(
  csrf(),
  express.json(),
  session(sessions),
  idempotency({
    required: (req) => req.path.startsWith('/checkout'),
    scope: (req) => req.session.userId ?? 'anon',
  }),
);

app.get('/', (req, res) => {
  expectTypeOf(req.session).toEqualTypeOf<Session>();
  expectTypeOf(req.session.userId).toEqualTypeOf<string | null>();
  expectTypeOf(req.session.get<string>('theme')).toEqualTypeOf<string | undefined>();
  req.session.set('theme', 'dark');
  req.session.delete('theme');
  res.json({ user: req.session.userId });
});

app.post('/cart/:id', async (req, res) => {
  expectTypeOf(req.params.id).toEqualTypeOf<string>();
  const cart = await req.session.update<Item[]>('cart', (c = []) => [...c, { id: req.params.id, qty: 1 }]);
  expectTypeOf(cart).toEqualTypeOf<Item[]>();
  res.json({ cart });
});

app.post('/login', async (req, res) => {
  expectTypeOf(req.session.login).returns.toEqualTypeOf<Promise<void>>();
  await req.session.login(String(req.body.user));
  await req.session.regenerate();
  res.status(204).end();
});

// A handler written apart from its route, typed with Express's own `Request`.
const whoami = (req: Request, res: Response): void => void res.json({ user: req.session.userId });
app.get('/me', whoami);
express.Router().get('/me', whoami);

// The former pattern still compiles (deprecated: `Request` already has `session`).
app.get('/legacy', (req: SessionRequest<Request>, res: Response) => void res.json(req.session.get('theme')));

app.use(problemHandler());

app.get('/wrong', async (req, res) => {
  // @ts-expect-error a user id is a string
  await req.session.login(42);
  // @ts-expect-error userId changes through login(), not by assignment
  req.session.userId = 'mallory';
  // @ts-expect-error express-session's save() is not part of the Stateline session
  req.session.save();
  // @ts-expect-error the update function receives the stored value (a number here), not a string
  await req.session.update<number>('hits', (n: string) => n);
  // @ts-expect-error the session is not a bag of properties: use set()
  req.session.cart = [];
  res.end();
});
