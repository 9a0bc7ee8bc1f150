// Type tests of `stateline/hono` under Hono 4's types: importing the module adds `session` to
// Hono's `ContextVariableMap`, so `c.get('session')` is typed on any app, `new Hono()` included.
import { Hono } from 'hono';
import { expectTypeOf } from 'expect-type';
import { csrf, idempotency, session, type SessionVariables } from 'stateline/hono';
import type { Session, SessionManager } from 'stateline/session';

declare const sessions: SessionManager;

const app = new Hono();
app.use(csrf(), session(sessions));
app.use('/orders/*', idempotency({ scope: (c) => c.get('session').userId ?? 'anon' }));

app.get('/theme', (c) => {
  expectTypeOf(c.get('session')).toEqualTypeOf<Session>();
  expectTypeOf(c.var.session).toEqualTypeOf<Session>();
  return c.json({ theme: c.get('session').get<string>('theme') ?? 'light' });
});

app.post('/cart/:id', async (c) => {
  const cart = await c.get('session').update<string[]>('cart', (items = []) => [...items, c.req.param('id')]);
  expectTypeOf(cart).toEqualTypeOf<string[]>();
  return c.json({ cart });
});

app.post('/logout', async (c) => (await c.get('session').destroy(), c.body(null, 204)));

// An app that spells out its Env combines SessionVariables with its own variables.
const typed = new Hono<{ Variables: SessionVariables & { requestId: string } }>();
typed.use(session(sessions));
typed.get('/me', (c) => {
  expectTypeOf(c.get('session')).toEqualTypeOf<Session>();
  expectTypeOf(c.get('requestId')).toEqualTypeOf<string>();
  return c.json({ user: c.get('session').userId });
});

app.get('/wrong', async (c) => {
  // @ts-expect-error a user id is a string
  await c.get('session').login(null);
  // @ts-expect-error handle is read-only
  c.get('session').handle = 'forged';
  // @ts-expect-error set() takes a key and a value
  c.get('session').set({ theme: 'dark' });
  return c.body(null, 204);
});
