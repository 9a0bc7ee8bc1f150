import Fastify from 'fastify';
import { sessionPlugin } from '../../src/adapters/fastify/index.js';
import { runAdapterSuite } from './adapter.case.js';
import { handlers } from './routes.js';

type Q = { Querystring: Record<string, string> };

runAdapterSuite({
  name: 'fastify',
  start: async (sessions) => {
    const app = Fastify();
    await app.register(sessionPlugin, { sessions });
    app.get('/cart', async (r) => handlers.cart(r.session));
    app.post<Q>('/cart', async (r) => handlers.add(r.session, String(r.query.item)));
    app.post<Q>('/login', async (r) => handlers.login(r.session, String(r.query.user)));
    app.post('/logout', async (r, reply) => {
      await handlers.logout(r.session);
      return reply.code(204).send();
    });
    app.post<Q>('/slow', async (r) => handlers.slow(r.session, String(r.query.gate)));
    app.post('/assign', async (r) => handlers.assign(r.session));
    app.post('/big', async (r) => handlers.big(r.session));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
});
