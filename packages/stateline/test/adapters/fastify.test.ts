import Fastify from 'fastify';
import { sessionPlugin, type SessionFastifyRequest } from '../../src/adapters/fastify/index.js';
import { runAdapterSuite } from './adapter.case.js';
import { handlers } from './routes.js';

type Q = { Querystring: Record<string, string> };

runAdapterSuite({
  name: 'fastify',
  start: async (sessions) => {
    const app = Fastify();
    await app.register(sessionPlugin, { sessions });
    const s = (r: unknown) => (r as SessionFastifyRequest).session;
    app.get('/cart', async (r) => handlers.cart(s(r)));
    app.post<Q>('/cart', async (r) => handlers.add(s(r), String(r.query.item)));
    app.post<Q>('/login', async (r) => handlers.login(s(r), String(r.query.user)));
    app.post('/logout', async (r, reply) => {
      await handlers.logout(s(r));
      return reply.code(204).send();
    });
    app.post<Q>('/slow', async (r) => handlers.slow(s(r), String(r.query.gate)));
    app.post('/assign', async (r) => handlers.assign(s(r)));
    app.post('/big', async (r) => handlers.big(s(r)));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
});
