import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { session, type SessionVariables } from '../../src/adapters/hono/index.js';
import { runAdapterSuite } from './adapter.case.js';
import { handlers } from './routes.js';

runAdapterSuite({
  name: 'hono',
  start: async (sessions) => {
    const app = new Hono<{ Variables: SessionVariables }>();
    app.use(session(sessions));
    app.get('/cart', (c) => c.json(handlers.cart(c.get('session'))));
    app.post('/cart', async (c) => c.json(await handlers.add(c.get('session'), c.req.query('item') ?? '')));
    app.post('/login', async (c) =>
      c.json(await handlers.login(c.get('session'), c.req.query('user') ?? '')),
    );
    app.post('/logout', async (c) => {
      await handlers.logout(c.get('session'));
      return c.body(null, 204);
    });
    app.post('/slow', async (c) => c.json(await handlers.slow(c.get('session'), c.req.query('gate') ?? '')));
    app.post('/assign', (c) => c.json(handlers.assign(c.get('session'))));
    app.post('/big', (c) => c.json(handlers.big(c.get('session'))));
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
});
