import express from 'express';
import type { AddressInfo } from 'node:net';
import { problemHandler, session } from '../../src/adapters/express/index.js';
import { runAdapterSuite } from './adapter.case.js';
import { handlers } from './routes.js';

runAdapterSuite({
  name: 'express',
  start: async (sessions) => {
    const app = express();
    app.use(session(sessions));
    app.get('/cart', (req, res) => void res.json(handlers.cart(req.session)));
    app.post(
      '/cart',
      async (req, res) => void res.json(await handlers.add(req.session, String(req.query.item))),
    );
    app.post(
      '/login',
      async (req, res) => void res.json(await handlers.login(req.session, String(req.query.user))),
    );
    app.post('/logout', async (req, res) => {
      await handlers.logout(req.session);
      res.status(204).end();
    });
    app.post(
      '/slow',
      async (req, res) => void res.json(await handlers.slow(req.session, String(req.query.gate))),
    );
    app.post('/assign', (req, res) => void res.json(handlers.assign(req.session)));
    app.post('/big', (req, res) => void res.json(handlers.big(req.session)));
    app.use(problemHandler());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
});
