// Type tests of `stateline/fastify` under Fastify 5's types: importing the module puts `session`
// on `FastifyRequest`, so route handlers use it with no cast.
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { expectTypeOf } from 'expect-type';
import { csrfPlugin, idempotency, sessionPlugin, type SessionFastifyRequest } from 'stateline/fastify';
import type { Session, SessionManager } from 'stateline/session';

declare const sessions: SessionManager;

const app = Fastify();
await app.register(csrfPlugin, { allowedOrigins: ['https://admin.example'] });
await app.register(sessionPlugin, { sessions });
await app.register(idempotency({ required: true, scope: (request) => request.session.userId ?? 'anon' }));

app.get('/hit', async (request) => {
  expectTypeOf(request.session).toEqualTypeOf<Session>();
  const hits = await request.session.update<number>('hits', (n = 0) => n + 1);
  expectTypeOf(hits).toEqualTypeOf<number>();
  return { hits };
});

app.post<{ Body: { user: string } }>('/login', async (request, reply) => {
  expectTypeOf(request.body.user).toEqualTypeOf<string>();
  await request.session.login(request.body.user);
  return reply.code(204).send();
});

app.post('/logout', async (request, reply) => {
  await request.session.destroy();
  return reply.code(204).send();
});

// A handler written apart from its route, typed with Fastify's own `FastifyRequest`.
const whoami = async (request: FastifyRequest, _reply: FastifyReply) => ({ user: request.session.userId });
app.get('/me', whoami);

// The former pattern still compiles (deprecated: `FastifyRequest` already has `session`).
app.get('/legacy', async (request: SessionFastifyRequest) => ({
  theme: request.session.get<string>('theme'),
}));

app.get('/wrong', async (request) => {
  // @ts-expect-error a user id is a string
  await request.session.login(7);
  // @ts-expect-error isNew is read-only
  request.session.isNew = false;
  // @ts-expect-error @fastify/session's regenerate(ignoreFields) is not this API
  await request.session.regenerate(['cart']);
  // @ts-expect-error the session is not a bag of properties: use set()
  request.session.cart = [];
  return null;
});

// @ts-expect-error the plugin needs the SessionManager
await app.register(sessionPlugin, {});
